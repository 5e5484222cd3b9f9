"""Tests of publisher.intake."""
