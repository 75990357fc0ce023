"""The public OSV API: anonymous queries answered from an in-memory index of public records."""
