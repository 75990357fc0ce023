"""Accounts: organisations, users, memberships, API tokens, and the authorisation policy."""
