"""Tests of publisher.dispatch."""
