"""Tests of publisher.planning."""
