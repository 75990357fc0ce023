"""Audit has no background jobs yet; `clearinghouse audit verify` runs on demand."""
