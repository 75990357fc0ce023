"""Shared kernel: configuration, errors, crypto, clock and ids. Imports no domain."""
