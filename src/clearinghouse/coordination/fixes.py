"""Fix verification (issue 14, part 3): a vendor posts a fix and the case's recipe runs again
against it, in the validation runner's sandbox, as the durable job `coordination.verify_fix`.

- A fix is a patch (a `patch` artifact of the case, a unified diff applied with `git apply` to
  the recipe's source directory), a fixed version (a purl that takes the place of a recipe's
  `pkg:` source), or a commit. The runner fetches directories, archives and pkg:pypi purls, not
  commits: a commit is recorded at once as `inconclusive` with the code `fix_unverifiable`.
- The recipe is the one of the case's latest reproduced validation. The fixed source runs the
  recipe's PoC and its variants: files next to the PoC named `<stem>-*<suffix>` (the example
  recipes' `poc-comment.bin` beside `poc.bin`), so a patch that only blocks the exact PoC input
  still reproduces.
- The result (`reproduced`, `fixed_confirmed`, `inconclusive` with its code and evidence) is a
  `fix_verified` timeline event (with its audit event). Posting the status `fixed` needs the
  vendor's latest result to be `fixed_confirmed`, or a coordinator's override (`fix_override`,
  with a reason, audited) after it: `require_verified_fix`, called by `participants`.
- The job is not transactional (a run takes seconds to minutes): it reads what it needs in one
  short transaction and writes the result in another, once per verification whatever the
  retries.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import tempfile
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import Action, Principal
from clearinghouse.coordination import cases, timeline
from clearinghouse.coordination.access import load_case
from clearinghouse.coordination.errors import CaseConflict, CaseInputInvalid
from clearinghouse.coordination.models import Artifact, Case, CaseVuln, TimelineEvent, VendorStatus
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import InvalidInput
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.core.net import OutboundPolicy
from clearinghouse.core.schemas import Input
from clearinghouse.storage import jobs
from clearinghouse.storage.services import Services
from clearinghouse.vulns import recipes
from clearinghouse.vulns.models import Validation
from clearinghouse.vulns.purls import parse_purl
from clearinghouse.vulns.recipes import RecipeUpload
from clearinghouse.vulns.validation.expect import bounded
from clearinghouse.vulns.validation.recipe import Recipe, SourceSpec
from clearinghouse.vulns.validation.runner import Validator, validator_for
from clearinghouse.vulns.validation.schemas import Verdict

JOB_KIND = "coordination.verify_fix"
MAX_ATTEMPTS = 2
PATCH_TIMEOUT = 60
VARIANTS = 8  # at most this many PoC variants run besides the PoC


class FixKind(StrEnum):
    patch = "patch"
    purl = "purl"
    commit = "commit"


class FixResult(StrEnum):
    reproduced = "reproduced"  # the PoC (or a variant) still shows the bug on the fixed source
    fixed_confirmed = "fixed_confirmed"  # none of them does, and each ran
    inconclusive = "inconclusive"  # could not tell: `code` says why


class FixPost(Input):
    kind: FixKind
    artifact_id: str | None = Field(default=None, max_length=40)  # patch: a `patch` artifact
    purl: str | None = Field(default=None, max_length=500)  # purl: the fixed release
    commit: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{7,64}$")


class FixOverride(Input):
    reason: str = Field(min_length=3, max_length=5000)


class FixVerificationOut(BaseModel):
    id: str
    vendor_org_id: str
    kind: str
    ref: str
    state: str  # queued | done
    result: str | None = None
    code: str | None = None
    evidence: str = ""
    runs: list[dict[str, Any]] = Field(default_factory=list)
    posted_at: datetime
    finished_at: datetime | None = None


# --- posting a fix ---------------------------------------------------------------------------


def _recipe_validation(session: Session, case_id: str) -> Validation | None:
    """The latest reproduced validation of the case's vulnerabilities: its recipe is the one a
    fix runs against."""
    return session.scalars(
        select(Validation)
        .where(
            Validation.vuln_id.in_(select(CaseVuln.vuln_id).where(CaseVuln.case_id == case_id)),
            Validation.verdict == Verdict.reproduced.value,
        )
        .order_by(Validation.created_at.desc(), Validation.id.desc())
        .limit(1)
    ).first()


def _ref(session: Session, case: Case, body: FixPost) -> str:
    if body.kind is FixKind.patch:
        artifact = session.get(Artifact, body.artifact_id) if body.artifact_id else None
        if artifact is None or artifact.case_id != case.id or artifact.kind != "patch":
            raise CaseInputInvalid(
                "a patch fix names a `patch` artifact of this case", code="fix_patch_unknown"
            )
        return artifact.id
    if body.kind is FixKind.purl:
        if not body.purl:
            raise CaseInputInvalid("a purl fix names the fixed release", code="fix_purl_missing")
        parse_purl(body.purl)  # a malformed purl: its own code
        return body.purl
    if not body.commit:
        raise CaseInputInvalid("a commit fix names the commit", code="fix_commit_missing")
    return body.commit.lower()


def post_fix(session: Session, p: Principal, case_id: str, body: FixPost) -> FixVerificationOut:
    """The vendor posts its fix; its verification is queued (202 over HTTP), or recorded at
    once when nothing can run: a commit (`fix_unverifiable`), or a case with no reproduced
    recipe (`no_recipe`)."""
    case, _ = load_case(session, p, case_id, Action.case_post_fix, for_update=True)
    cases.require_active(case)
    if p.org_id is None or session.get(VendorStatus, (case.id, p.org_id)) is None:
        raise CaseConflict("your organisation is not a vendor of this case", code="not_vendor")
    ref = _ref(session, case, body)
    validation = _recipe_validation(session, case.id)
    vid = new_id("fixv")
    data: dict[str, Any] = {
        "verification_id": vid,
        "vendor_org_id": p.org_id,
        "kind": body.kind.value,
        "ref": ref,
        "validation_id": validation.id if validation else None,
    }
    timeline.record(
        session, p, case.id, "fix_posted", AuditTag.COORDINATION_FIX_POST, data, tlp=case.tlp
    )
    if body.kind is FixKind.commit:
        _record(
            session,
            case,
            data,
            FixResult.inconclusive,
            "fix_unverifiable",
            "the validation runner fetches recipe directories, archives and pkg:pypi releases;"
            " it cannot fetch a commit, so this fix was not run",
            [],
        )
    elif validation is None:
        _record(
            session,
            case,
            data,
            FixResult.inconclusive,
            "no_recipe",
            "no vulnerability of the case has a reproduced recipe to run against the fix",
            [],
        )
    else:
        jobs.enqueue(
            session,
            JOB_KIND,
            {"case_id": case.id, **data},
            idempotency_key=f"{JOB_KIND}:{vid}",
            max_attempts=MAX_ATTEMPTS,
        )
    session.flush()
    return _one(session, case.id, vid)


def _record(
    session: Session,
    case: Case,
    posted: dict[str, Any],
    result: FixResult,
    code: str | None,
    evidence: str,
    runs: list[dict[str, Any]],
) -> None:
    timeline.record(
        session,
        Principal.system(),
        case.id,
        "fix_verified",
        AuditTag.COORDINATION_FIX_VERIFY,
        {
            "verification_id": posted["verification_id"],
            "vendor_org_id": posted["vendor_org_id"],
            "kind": posted["kind"],
            "ref": posted["ref"],
            "result": result.value,
            "code": code,
            "evidence": bounded(evidence),
            "runs": runs,
        },
        tlp=case.tlp,
    )


# --- the gate and the override ---------------------------------------------------------------


def _events(session: Session, case_id: str, kinds: tuple[str, ...]) -> list[TimelineEvent]:
    return list(
        session.scalars(
            select(TimelineEvent)
            .where(TimelineEvent.case_id == case_id, TimelineEvent.kind.in_(kinds))
            .order_by(TimelineEvent.occurred_at, TimelineEvent.id)
        )
    )


def require_verified_fix(session: Session, case: Case, vendor_org_id: str) -> None:
    """Refuse `fixed` unless the vendor's latest fix verification confirmed the fix, or a
    coordinator overrode it since (409 `fix_not_verified`)."""
    last = None
    for e in _events(session, case.id, ("fix_verified", "fix_override")):
        if e.data.get("vendor_org_id") == vendor_org_id:
            last = e
    if last is not None and (
        last.kind == "fix_override" or last.data.get("result") == FixResult.fixed_confirmed
    ):
        return
    why = (
        "no fix of yours has been verified"
        if last is None
        else f"your latest fix verification was {last.data.get('result')}"
    )
    raise CaseConflict(
        f"fixed needs a verified fix: {why} (post a fix, or ask a coordinator to override)",
        code="fix_not_verified",
    )


def override(
    session: Session, p: Principal, case_id: str, vendor_org_id: str, body: FixOverride
) -> FixVerificationOut | None:
    """A coordinator lets a vendor be `fixed` without a confirmed fix, with a reason (audited,
    on the timeline). The vendor's latest verification, if any, is returned."""
    case, _ = load_case(session, p, case_id, Action.case_fix_override, for_update=True)
    cases.require_active(case)
    if session.get(VendorStatus, (case.id, vendor_org_id)) is None:
        raise CaseInputInvalid("that organisation is not a vendor of the case", code="not_vendor")
    timeline.record(
        session,
        p,
        case.id,
        "fix_override",
        AuditTag.COORDINATION_FIX_OVERRIDE,
        {"vendor_org_id": vendor_org_id, "reason": body.reason},
        tlp=case.tlp,
    )
    mine = [v for v in _all(session, case.id) if v.vendor_org_id == vendor_org_id]
    return mine[-1] if mine else None


# --- reading ---------------------------------------------------------------------------------


def _all(session: Session, case_id: str) -> list[FixVerificationOut]:
    found: dict[str, FixVerificationOut] = {}
    for e in _events(session, case_id, ("fix_posted", "fix_verified")):
        d = e.data
        if e.kind == "fix_posted":
            found[d["verification_id"]] = FixVerificationOut(
                id=d["verification_id"],
                vendor_org_id=d["vendor_org_id"],
                kind=d["kind"],
                ref=d["ref"],
                state="queued",
                posted_at=e.occurred_at,
            )
        elif d["verification_id"] in found:
            found[d["verification_id"]] = found[d["verification_id"]].model_copy(
                update={
                    "state": "done",
                    "result": d["result"],
                    "code": d.get("code"),
                    "evidence": d.get("evidence", ""),
                    "runs": d.get("runs", []),
                    "finished_at": e.occurred_at,
                }
            )
    return list(found.values())


def _one(session: Session, case_id: str, verification_id: str) -> FixVerificationOut:
    return next(v for v in _all(session, case_id) if v.id == verification_id)


def list_fixes(session: Session, p: Principal, case_id: str) -> list[FixVerificationOut]:
    """Every fix posted to the case and its verification (reporters, vendors, coordinators)."""
    load_case(session, p, case_id, Action.case_read_artifacts)
    return _all(session, case_id)


# --- the job ---------------------------------------------------------------------------------


def _done(session: Session, case_id: str, verification_id: str) -> bool:
    return any(
        e.data.get("verification_id") == verification_id
        for e in _events(session, case_id, ("fix_verified",))
    )


def _claim(services: Services, payload: dict[str, Any]) -> dict[str, Any] | None:
    with services.db.transaction() as session:
        if _done(session, payload["case_id"], payload["verification_id"]):
            return None
        v = session.get(Validation, payload["validation_id"])
        assert v is not None
        claimed: dict[str, Any] = {
            "recipe": RecipeUpload(v.recipe_filename, services.blobs.get(session, v.recipe_blob_id))
        }
        if payload["kind"] == FixKind.patch:
            artifact = session.get(Artifact, payload["ref"])
            assert artifact is not None
            claimed["patch"] = services.blobs.get(session, artifact.blob_id)
        return claimed


def variants(recipe: Recipe) -> list[Path]:
    """The PoC's variants: regular files beside it named `<stem>-*<suffix>`, sorted."""
    poc = recipe.poc_path
    found = [
        f
        for f in sorted(poc.parent.glob(f"{glob_escape(poc.stem)}-*{glob_escape(poc.suffix)}"))
        if f.is_file() and not f.is_symlink() and f != poc
    ]
    return found[:VARIANTS]


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


class _Unverifiable(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


def _apply_patch(source: Path, patch: bytes, workdir: Path) -> Path:
    """A copy of the recipe's source directory with the patch applied by `git apply`, which
    refuses paths outside the tree (`..`, absolute) and changes behind a symbolic link."""
    tree = workdir / "patched"
    shutil.copytree(source, tree, symlinks=True)
    patch_file = workdir / "fix.patch"
    patch_file.write_bytes(patch)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "GIT_CEILING_DIRECTORIES": str(workdir),
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    git = shutil.which("git")
    if git is None:
        raise _Unverifiable("fix_unverifiable", "git is not installed: a patch cannot be applied")
    for strip in ("-p1", "-p0"):
        try:
            done = subprocess.run(
                [git, "apply", strip, "--whitespace=nowarn", str(patch_file)],
                cwd=tree,
                env=env,
                capture_output=True,
                text=True,
                timeout=PATCH_TIMEOUT,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise _Unverifiable("patch_does_not_apply", type(exc).__name__) from None
        if done.returncode == 0:
            return tree
    raise _Unverifiable("patch_does_not_apply", f"git apply: {done.stderr.strip()[:2000]}")


def _fixed_recipe(
    recipe: Recipe, payload: dict[str, Any], claimed: dict[str, Any], tmp: Path
) -> Recipe:
    src = recipe.source
    if payload["kind"] == FixKind.patch:
        if src.kind != "directory" or src.path is None:
            raise _Unverifiable(
                "fix_unverifiable",
                f"a patch applies to a recipe's source directory; this recipe's is a {src.kind}",
            )
        tree = _apply_patch(src.path, claimed["patch"], tmp)
        fixed = SourceSpec("directory", f"{src.ref} + patch {payload['ref']}", path=tree)
    else:
        if src.kind != "purl" or src.purl is None:
            raise _Unverifiable(
                "fix_unverifiable",
                f"a fixed release takes the place of a recipe's purl; this recipe's source is"
                f" a {src.kind}",
            )
        purl = parse_purl(payload["ref"])
        if (purl.type, purl.namespace, purl.name) != (
            src.purl.type,
            src.purl.namespace,
            src.purl.name,
        ) or not purl.version:
            raise _Unverifiable(
                "fix_purl_mismatch", f"{payload['ref']} is not a release of {src.ref}"
            )
        fixed = SourceSpec("purl", payload["ref"], purl=purl)
    return dataclasses.replace(recipe, source=fixed, fixed_source=None, osv_record=None)


def _validator(services: Services, workdir: Path) -> Validator:
    settings = services.settings
    if settings.validation_build_cache:
        return validator_for(settings)
    return Validator(
        workdir / "cache",
        index_url=settings.package_index_url,
        policy=OutboundPolicy.from_settings(settings),
    )


def _verify(
    services: Services, payload: dict[str, Any], claimed: dict[str, Any], tmp: Path
) -> tuple[FixResult, str | None, str, list[dict[str, Any]]]:
    try:
        recipe = recipes.unpack(claimed["recipe"], tmp / "recipe")
        fixed = _fixed_recipe(recipe, payload, claimed, tmp)
    except _Unverifiable as exc:
        return FixResult.inconclusive, exc.code, exc.detail, []
    except InvalidInput as exc:
        return FixResult.inconclusive, exc.code, exc.detail, []
    validator = _validator(services, tmp)
    runs: list[dict[str, Any]] = []
    for poc in [recipe.poc_path, *variants(recipe)]:
        try:
            r = validator.validate_recipe(dataclasses.replace(fixed, poc_path=poc))
        except InvalidInput as exc:
            return FixResult.inconclusive, exc.code, exc.detail, runs
        runs.append(
            {
                "poc": poc.name,
                "verdict": r.verdict.value,
                "signature": r.signature,
                "error_code": r.error_code,
            }
        )
        if r.verdict is Verdict.reproduced:
            return FixResult.reproduced, None, r.evidence, runs
        if r.verdict is not Verdict.not_reproduced:
            code = "fix_build_failed" if r.verdict is Verdict.build_failed else r.error_code
            return FixResult.inconclusive, code or "harness_failed", r.evidence, runs
    return FixResult.fixed_confirmed, None, f"{len(runs)} PoC run(s) did not reproduce", runs


def run(services: Services, payload: dict[str, Any], *, final: bool = False) -> None:
    """The `coordination.verify_fix` job: run the recipe against the fix, record the result."""
    claimed = _claim(services, payload)
    if claimed is None:
        return
    try:
        with tempfile.TemporaryDirectory(prefix="ch-fix-") as tmp:
            outcome = _verify(services, payload, claimed, Path(tmp))
    except Exception as exc:
        if not final:
            raise
        outcome = (FixResult.inconclusive, "harness_failed", type(exc).__name__, [])
    with services.db.transaction() as session:
        case = session.get(Case, payload["case_id"])
        if case is None or _done(session, case.id, payload["verification_id"]):
            return
        _record(session, case, payload, *outcome)
        case.updated_at = utcnow()
