"""The ledger: the source of truth for every post, delivery and attempt."""
