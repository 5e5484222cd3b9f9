"""Tests of publisher.cli."""
