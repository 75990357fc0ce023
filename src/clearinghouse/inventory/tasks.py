"""Inventory jobs (issue 15): matching a new SBOM, and a new or changed advisory, as durable
jobs. Importing this module registers their handlers."""

from __future__ import annotations
