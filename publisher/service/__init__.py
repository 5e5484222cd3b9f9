"""The daemon: the composition root, periodic jobs, signals and systemd."""
