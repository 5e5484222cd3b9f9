"""Tests of publisher.oversight."""
