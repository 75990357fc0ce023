"""Shared sandbox infrastructure: what the battery, validation, patch verification and scanning
all run on. Imports no domain."""
