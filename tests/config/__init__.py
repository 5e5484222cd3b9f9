"""Tests of publisher.config."""
