"""Audit: an append-only, hash-chained record of every change and every confidential read."""
