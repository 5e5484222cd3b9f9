"""Tests of publisher.adapters."""
