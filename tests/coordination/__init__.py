"""Tests of coordination (issue 14)."""
