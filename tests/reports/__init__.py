"""Tests of publisher.reports."""
