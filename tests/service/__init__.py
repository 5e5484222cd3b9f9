"""Tests of publisher.service."""
