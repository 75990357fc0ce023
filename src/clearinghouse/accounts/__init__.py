"""Accounts: organisations, users and their memberships, API tokens, invitations, the first
bootstrap, and the authorisation policy (`policy.py`) every domain asks."""
