"""Operator inventories (issue 15): assets, SBOMs and their components, exposures."""
