"""Coordinated disclosure (issue 14): cases with vendors under embargo, per-vendor statuses,
TLP-labelled messages, sealed artifacts, a timeline, and the disclosure deadline engine."""
