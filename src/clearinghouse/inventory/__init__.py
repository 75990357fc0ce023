"""Operator inventories: assets, SBOMs, exposure matching and prioritisation (issue 15)."""
