"""publisher: scheduled multi-platform publishing for government social-media cells."""
