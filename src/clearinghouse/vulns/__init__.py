"""Vulns: the vulnerability knowledge base (OSV-shaped records, ranges, intake, publication)."""
