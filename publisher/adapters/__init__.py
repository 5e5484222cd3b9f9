"""Platform adapters: one module per platform, each declaring its rules; registry.py finds them."""
