"""Inventory over HTTP: assets and their SBOMs. Thin: the domain decides (inventory/)."""

from __future__ import annotations

from fastapi import APIRouter

from clearinghouse.api.problems import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["inventory"])
