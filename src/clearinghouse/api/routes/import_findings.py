"""The OSV quality gate's findings on imported records (`vulns.quality`), like osv.dev's
`importfindings`: authenticated, and only for records the caller may see."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from clearinghouse.api.deps import Cursor, Limit, PrincipalDep, SessionDep
from clearinghouse.api.problems import ERROR_RESPONSES
from clearinghouse.core.pagination import Page
from clearinghouse.vulns.quality.findings import FindingOut, list_findings

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["vulns"])


@router.get("/import-findings", response_model=Page[FindingOut])
def import_findings(
    p: PrincipalDep,
    session: SessionDep,
    code: Annotated[
        str | None, Query(pattern=r"^[A-Z]{3}[0-9]{4}$", description="a rule code, e.g. RNG0001")
    ] = None,
    vuln_id: Annotated[
        str | None, Query(pattern=r"^[A-Za-z0-9._:+-]{1,120}$", description="a record's id")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[FindingOut]:
    """Quality findings on imported records you may see (docs/osv.md lists the rules)."""
    return list_findings(session, p, code=code, vuln_id=vuln_id, limit=limit, cursor=cursor)
