"""Vulns have no background jobs yet."""
