"""Coordinated disclosure: cases, deadlines, fix verification, CVE ids (issue 14)."""
