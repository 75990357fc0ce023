"""The disclosure bundle (issue 14, part 7): a case packed for hand-off to another coordinator
(VINCE) or a maintainer, as a tar.gz:

    manifest.json                 the case, what is in the bundle, and each file's SHA-256
    records/<id>.osv.json         the OSV record of each vulnerability of the case
    records/<id>.csaf.json        its CSAF 2.0 advisory
    records/<id>.cve5.json        its CVE 5 draft (the existing exporters); a record with no
                                  CVE id has none: the manifest's `omitted` says so
    patches/<artifact>-<name>     the case's `patch` artifacts the caller may read
    poc/<artifact>-<name>         the case's `poc` artifacts, and poc/recipe-<validation>-<name>
                                  the reproduced recipe: only for whom the policy allows
                                  (`case:bundle-poc`); for everyone else the manifest says
                                  `"poc": {"included": false, ...}` and how many were withheld

`verify` checks a bundle against its manifest: every listed file present with its digest, and
nothing else in the archive. It is integrity against a changed file, not authenticity: the
manifest is not signed (whoever can rewrite the files can rewrite it).
"""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
from typing import Any

import orjson
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import Action, Principal, authorize
from clearinghouse.coordination import timeline
from clearinghouse.coordination.access import item_clause, load_case
from clearinghouse.coordination.models import Artifact, CaseVuln
from clearinghouse.core.clock import isoformat, utcnow
from clearinghouse.core.errors import InvalidInput, PermissionDenied
from clearinghouse.core.events import AuditTag
from clearinghouse.storage.services import Services
from clearinghouse.vulns.catalog import cwe_names
from clearinghouse.vulns.models import Validation, Vulnerability
from clearinghouse.vulns.publication.csaf import to_csaf
from clearinghouse.vulns.publication.cve5 import Cna, to_cve5
from clearinghouse.vulns.publication.osv import to_osv
from clearinghouse.vulns.validation.schemas import Verdict

FORMAT = "clearinghouse-disclosure-bundle/1"
MANIFEST = "manifest.json"
MAX_BUNDLE_FILES = 10_000
MAX_MEMBER_BYTES = 256 * 1024**2


class BundleInvalid(InvalidInput):
    """Not a disclosure bundle: `bundle_invalid` (not a tar.gz, no manifest, a link or a path
    outside the archive)."""

    default_code = "bundle_invalid"
    title = "Invalid disclosure bundle"


class BundleProblem(BaseModel):
    path: str
    code: str  # digest_mismatch | missing_file | unlisted_file | size_mismatch


class BundleCheck(BaseModel):
    ok: bool
    case_id: str | None = None
    files_checked: int = 0
    poc_included: bool | None = None
    problems: list[BundleProblem] = Field(default_factory=list)


def _safe(name: str) -> str:
    """A file name fit for an archive path: no directory part, no odd characters."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", name.rsplit("/", 1)[-1]).lstrip(".")
    return cleaned[:120] or "file"


def _json(doc: Any) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)


def _poc_allowed(p: Principal, target: Any) -> bool:
    try:
        authorize(p, Action.case_bundle_poc, target)
    except PermissionDenied:
        return False
    return True


def build(session: Session, p: Principal, services: Services, case_id: str) -> tuple[str, bytes]:
    """(file name, the tar.gz) of the case's bundle for `p`; audited and on the timeline."""
    case, target = load_case(session, p, case_id, Action.case_bundle)
    files: dict[str, bytes] = {}
    vuln_ids = list(
        session.scalars(
            select(CaseVuln.vuln_id).where(CaseVuln.case_id == case.id).order_by(CaseVuln.vuln_id)
        )
    )
    cna = Cna.of(services.settings)
    omitted: list[dict[str, str]] = []
    for vid in vuln_ids:
        vuln = session.get(Vulnerability, vid)
        assert vuln is not None
        names = cwe_names(session, vuln.cwe_ids)
        files[f"records/{vid}.osv.json"] = _json(to_osv(vuln.record))
        files[f"records/{vid}.csaf.json"] = _json(
            to_csaf(vuln.record, tlp=vuln.tlp, cwe_names=names)
        )
        try:  # a CVE 5 record needs a CVE id: a record without one has no draft yet
            cve5 = to_cve5(vuln.record, cna, names, native=vuln.origin == "report")
        except InvalidInput as exc:
            omitted.append(
                {"path": f"records/{vid}.cve5.json", "code": exc.code, "detail": exc.detail}
            )
        else:
            files[f"records/{vid}.cve5.json"] = _json(cve5)
    visible = list(
        session.scalars(
            select(Artifact)
            .where(
                Artifact.case_id == case.id,
                Artifact.kind.in_(("patch", "poc")),
                item_clause(p, target, "case_artifact", Artifact),
            )
            .order_by(Artifact.id)
        )
    )
    poc_ok = _poc_allowed(p, target)
    withheld = 0
    for a in visible:
        if a.kind == "poc" and not poc_ok:
            withheld += 1
            continue
        folder = "patches" if a.kind == "patch" else "poc"
        files[f"{folder}/{a.id}-{_safe(a.filename)}"] = services.blobs.get(session, a.blob_id)
    recipe = session.scalars(
        select(Validation)
        .where(Validation.vuln_id.in_(vuln_ids), Validation.verdict == Verdict.reproduced.value)
        .order_by(Validation.created_at.desc(), Validation.id.desc())
        .limit(1)
    ).first()
    if recipe is not None:
        if poc_ok:
            name = f"poc/recipe-{recipe.id}-{_safe(recipe.recipe_filename)}"
            files[name] = services.blobs.get(session, recipe.recipe_blob_id)
        else:
            withheld += 1
    manifest = {
        "format": FORMAT,
        "case_id": case.id,
        "title": case.title,
        "tlp": case.tlp,
        "state": case.state,
        "embargo_until": isoformat(case.embargo_until),
        "created_at": isoformat(utcnow()),
        "vuln_ids": vuln_ids,
        "poc": {
            "included": poc_ok,
            "withheld": withheld,
            "note": "the PoC is sealed: only recipients the policy allows get it"
            if not poc_ok
            else "sealed material: handle under the case's TLP",
        },
        "omitted": omitted,
        "files": [
            {"path": path, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            for path, data in sorted(files.items())
        ],
    }
    manifest_bytes = _json(manifest)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for path, data in [(MANIFEST, manifest_bytes), *sorted(files.items())]:
            info = tarfile.TarInfo(f"{case.id}/{path}")
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    timeline.record(
        session,
        p,
        case.id,
        "bundle_exported",
        AuditTag.COORDINATION_BUNDLE_EXPORT,
        {
            "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
            "files": len(files),
            "poc_included": poc_ok,
            "poc_withheld": withheld,
        },
        tlp=case.tlp,
    )
    return f"{case.id}-bundle.tar.gz", out.getvalue()


def _members(data: bytes) -> dict[str, bytes]:
    """The archive's regular files by path (without the top folder), refusing links, devices,
    absolute paths and `..` (the stdlib's tarfile, read member by member with size caps)."""
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for info in tar:
                if len(found) >= MAX_BUNDLE_FILES:
                    raise BundleInvalid("the bundle holds too many files")
                if info.isdir():
                    continue
                parts = info.name.split("/")
                if not info.isreg() or info.name.startswith("/") or ".." in parts:
                    raise BundleInvalid(
                        f"the bundle holds a link or a path outside it: {info.name!r}"
                    )
                if info.size > MAX_MEMBER_BYTES:
                    raise BundleInvalid(f"{info.name!r} is larger than {MAX_MEMBER_BYTES} bytes")
                fh = tar.extractfile(info)
                assert fh is not None
                path = "/".join(parts[1:]) if len(parts) > 1 else info.name
                if path in found:
                    raise BundleInvalid(f"the bundle holds {path!r} twice")
                found[path] = fh.read()
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise BundleInvalid(f"not a tar.gz bundle ({type(exc).__name__})") from None
    return found


def verify(data: bytes) -> BundleCheck:
    """Check a bundle against its manifest. A changed, missing or added file is a problem."""
    members = _members(data)
    raw = members.pop(MANIFEST, None)
    if raw is None:
        raise BundleInvalid("the bundle has no manifest.json")
    try:
        manifest = orjson.loads(raw)
        listed = {str(f["path"]): (str(f["sha256"]), int(f["size"])) for f in manifest["files"]}
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise BundleInvalid("manifest.json is not a bundle manifest") from None
    problems = [
        BundleProblem(path=path, code="unlisted_file")
        for path in sorted(members.keys() - listed.keys())
    ]
    for path, (digest, size) in sorted(listed.items()):
        content = members.get(path)
        if content is None:
            problems.append(BundleProblem(path=path, code="missing_file"))
        elif len(content) != size:
            problems.append(BundleProblem(path=path, code="size_mismatch"))
        elif hashlib.sha256(content).hexdigest() != digest:
            problems.append(BundleProblem(path=path, code="digest_mismatch"))
    poc = manifest.get("poc") if isinstance(manifest, dict) else None
    return BundleCheck(
        ok=not problems,
        case_id=manifest.get("case_id") if isinstance(manifest, dict) else None,
        files_checked=len(listed),
        poc_included=poc.get("included") if isinstance(poc, dict) else None,
        problems=problems,
    )
