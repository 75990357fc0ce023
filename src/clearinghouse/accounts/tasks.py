"""Accounts have no background jobs yet."""
