"""Fix verification and the disclosure bundle of a case (issue 14, parts 3 and 7): thin routes
over `clearinghouse.coordination.fixes` and `.bundle`; every decision is the domain's and the
policy's. A case the caller may not see is a 404."""

from __future__ import annotations

from fastapi import APIRouter, Response

from clearinghouse.api.deps import Id, PrincipalDep, ServicesDep, SessionDep
from clearinghouse.api.problems import ERROR_RESPONSES
from clearinghouse.coordination import bundle, fixes
from clearinghouse.coordination.fixes import FixOverride, FixPost, FixVerificationOut

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["cases"])


@router.post("/cases/{case_id}/fixes", status_code=202, response_model=FixVerificationOut)
def post_fix(
    case_id: Id, body: FixPost, p: PrincipalDep, session: SessionDep
) -> FixVerificationOut:
    """The vendor posts a fix (a patch artifact, a fixed release's purl, or a commit); the
    case's recipe runs against it (a durable job)."""
    return fixes.post_fix(session, p, case_id, body)


@router.get("/cases/{case_id}/fixes", response_model=list[FixVerificationOut])
def list_fixes(case_id: Id, p: PrincipalDep, session: SessionDep) -> list[FixVerificationOut]:
    """The fixes posted to the case and their verification results."""
    return fixes.list_fixes(session, p, case_id)


@router.post(
    "/cases/{case_id}/vendors/{vendor_org_id}/fix-override",
    response_model=FixVerificationOut | None,
)
def override_fix(
    case_id: Id, vendor_org_id: Id, body: FixOverride, p: PrincipalDep, session: SessionDep
) -> FixVerificationOut | None:
    """A coordinator lets the vendor be `fixed` without a confirmed fix (audited reason)."""
    return fixes.override(session, p, case_id, vendor_org_id, body)


@router.get(
    "/cases/{case_id}/bundle",
    response_class=Response,
    responses={200: {"content": {"application/gzip": {}}}},
)
def get_bundle(case_id: Id, p: PrincipalDep, session: SessionDep, svc: ServicesDep) -> Response:
    """The disclosure bundle (tar.gz, with a SHA-256 manifest); the PoC only for whom the
    policy allows."""
    name, data = bundle.build(session, p, svc, case_id)
    return Response(
        data,
        media_type="application/gzip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
