"""`clearinghouse cases fix-post | fixes | fix-override | bundle | bundle-verify`: fix
verification and the disclosure bundle (docs/coordination.md), in the `cases` group, acting as
a token's principal under the same policy as over HTTP; `--json` on every command."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from clearinghouse.cli.cases import cases_app
from clearinghouse.cli.common import JsonOpt, TokenOpt, acting, emit, handles_errors
from clearinghouse.coordination import bundle, fixes
from clearinghouse.coordination.fixes import FixOverride, FixPost


def register(app: typer.Typer) -> None:
    """The commands join the `cases` group (clearinghouse.cli.cases adds it to `app`)."""


@cases_app.command("fix-post")
@handles_errors
def fix_post(
    case_id: str,
    kind: Annotated[str, typer.Option(help="patch | purl | commit")],
    artifact_id: Annotated[str | None, typer.Option(help="patch: the patch artifact")] = None,
    purl: Annotated[str | None, typer.Option(help="purl: the fixed release")] = None,
    commit: Annotated[str | None, typer.Option(help="commit: its id")] = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Post your fix; the case's recipe runs against it (a worker job)."""
    body = FixPost.model_validate(
        {"kind": kind, "artifact_id": artifact_id, "purl": purl, "commit": commit}
    )
    with acting(token) as (session, p, _):
        emit(fixes.post_fix(session, p, case_id, body), as_json)


@cases_app.command("fixes")
@handles_errors
def list_fixes(case_id: str, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """The fixes posted to a case and their verification results."""
    with acting(token) as (session, p, _):
        emit(
            fixes.list_fixes(session, p, case_id),
            as_json,
            ["id", "vendor_org_id", "kind", "state", "result", "code"],
        )


@cases_app.command("fix-override")
@handles_errors
def fix_override(
    case_id: str,
    vendor_org_id: str,
    reason: Annotated[str, typer.Option(help="why (audited)")],
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Let a vendor be `fixed` without a confirmed fix (coordinators, with a reason)."""
    body = FixOverride.model_validate({"reason": reason})
    with acting(token) as (session, p, _):
        emit(fixes.override(session, p, case_id, vendor_org_id, body), as_json)


@cases_app.command("bundle")
@handles_errors
def get_bundle(
    case_id: str,
    output: Annotated[Path, typer.Option("--output", "-o", help="where to write the tar.gz")],
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the case's disclosure bundle (the PoC only if the policy allows you it)."""
    with acting(token) as (session, p, svc):
        name, data = bundle.build(session, p, svc, case_id)
    output.write_bytes(data)
    check = bundle.verify(data)
    emit(
        {"file": str(output), "name": name, "bytes": len(data), "poc_included": check.poc_included},
        as_json,
    )


@cases_app.command("bundle-verify")
@handles_errors
def bundle_verify(
    path: Annotated[Path, typer.Argument(help="a disclosure bundle (tar.gz)")],
    as_json: JsonOpt = False,
) -> None:
    """Check a bundle against its manifest; exit status 1 when a file does not match."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise bundle.BundleInvalid(f"cannot read {path}: {exc.strerror}") from None
    check = bundle.verify(data)
    emit(check, as_json)
    if not check.ok:
        sys.stdout.flush()
        raise typer.Exit(1)
