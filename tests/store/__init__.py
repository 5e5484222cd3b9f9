"""Tests of publisher.store."""
