"""What people decide and watch: the 7-day freshness guarantee, notices, controls, review."""
