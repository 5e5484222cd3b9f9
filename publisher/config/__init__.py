"""What config.toml says: the typed settings, checked at start-up."""
