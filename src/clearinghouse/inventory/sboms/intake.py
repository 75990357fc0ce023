"""Uploading an SBOM for an asset: the format sniffed (or named), the size limits, the
document validated and read, its components normalised and stored with the SBOM in one
transaction (an invalid document stores nothing), the previous SBOM superseded with the diff,
and the matching job queued in the same transaction."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from clearinghouse.accounts.listing import scoped_page
from clearinghouse.accounts.policy import Action, Principal, Target, authorize
from clearinghouse.audit import trail as audit
from clearinghouse.core.clock import utcnow
from clearinghouse.core.config import Settings
from clearinghouse.core.errors import InvalidInput, NotFound
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.core.pagination import Page
from clearinghouse.inventory import assets
from clearinghouse.inventory.models import Asset, Component, Sbom
from clearinghouse.inventory.sboms import cyclonedx, spdx
from clearinghouse.inventory.sboms.document import ParsedSbom, SbomInvalid, SbomTooLarge
from clearinghouse.inventory.sboms.normalise import Normalised, normalise
from clearinghouse.inventory.schemas import ComponentOut, SbomOut
from clearinghouse.storage import jobs

FORMATS = ("cyclonedx-json", "cyclonedx-xml", "spdx-json", "spdx-tag-value")
MATCH_SBOM_JOB = "inventory.match_sbom"
DIFF_LIST_MAX = 1000  # purls listed per side of a diff; the counts are always complete


def sniff(data: bytes) -> str:
    """The format of `data`: JSON by its keys, XML by its root, SPDX tag-value by its tags."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        return "json"  # CycloneDX or SPDX: told apart by the parsed document's keys (`read`)
    if head.startswith(b"<"):
        return "cyclonedx-xml"
    if b"SPDXVersion:" in head:
        return "spdx-tag-value"
    raise SbomInvalid(
        "the format could not be recognised: send CycloneDX JSON or XML, or SPDX 2 JSON or "
        "tag-value (or name it with ?format=)"
    )


def _json(data: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise SbomInvalid(f"the document is not valid JSON: {exc}"[:300]) from exc
    if not isinstance(doc, dict):
        raise SbomInvalid("the document is not a JSON object")
    return doc


def read(data: bytes, fmt: str | None, settings: Settings) -> ParsedSbom:
    """The validated document's components, or SbomInvalid / SbomTooLarge saying why not."""
    if len(data) > settings.inventory_sbom_max_bytes:
        raise SbomTooLarge(
            f"the SBOM is larger than {settings.inventory_sbom_max_bytes} bytes "
            "(CLEARINGHOUSE_INVENTORY_SBOM_MAX_BYTES)"
        )
    if not data.strip():
        raise SbomInvalid("the SBOM is empty")
    if fmt is not None and fmt not in FORMATS:
        raise InvalidInput(
            f"format must be one of {', '.join(FORMATS)}", code="sbom_format_unknown"
        )
    fmt = fmt or sniff(data)
    limit = settings.inventory_sbom_max_components
    try:
        doc: dict[str, Any] | None = None
        if fmt == "json":
            # By the keys, not by where they fall in the bytes: cyclonedx-py sorts its keys, so
            # "bomFormat" comes after "components", often megabytes into the file.
            doc = _json(data)
            fmt = "cyclonedx-json" if "bomFormat" in doc else "spdx-json"
        match fmt:
            case "cyclonedx-json":
                doc = doc if doc is not None else _json(data)
                if doc.get("bomFormat") != "CycloneDX":
                    raise SbomInvalid('the JSON is not a CycloneDX BOM ("bomFormat")')
                return cyclonedx.parse_json(doc, max_components=limit)
            case "cyclonedx-xml":
                return cyclonedx.parse_xml(data, max_components=limit)
            case "spdx-json":
                return spdx.parse_json(
                    doc if doc is not None else _json(data), max_components=limit
                )
            case _:
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise SbomInvalid("an SPDX tag-value document must be UTF-8") from exc
                return spdx.parse_tag_value(text, max_components=limit)
    except RecursionError as exc:  # nesting deeper than any reader follows
        raise SbomInvalid("the document is nested too deeply") from exc


def _key(c: Normalised) -> str:
    return c.purl or f"{c.name or '?'}@{c.version or '?'}"


def _diff(before: Iterable[str], after: Iterable[str]) -> dict[str, Any]:
    old, new = set(before), set(after)
    added, removed = sorted(new - old), sorted(old - new)
    return {
        "added": added[:DIFF_LIST_MAX],
        "removed": removed[:DIFF_LIST_MAX],
        "added_count": len(added),
        "removed_count": len(removed),
        "exposures_opened": 0,  # filled in by the matching job
        "exposures_remediated": 0,
    }


def upload(
    session: Session,
    p: Principal,
    settings: Settings,
    asset_id: str,
    data: bytes,
    fmt: str | None = None,
) -> SbomOut:
    """Store a new SBOM of the asset (superseding the current one) and queue its matching."""
    asset = assets.load(session, p, asset_id, Action.sbom_upload)
    parsed = read(data, fmt, settings)  # nothing is written before the document is valid
    # serialise uploads for one asset: the row lock orders their sequence numbers
    session.execute(select(Asset.id).where(Asset.id == asset.id).with_for_update())
    now = utcnow()
    previous = session.scalars(
        select(Sbom).where(Sbom.asset_id == asset.id, Sbom.superseded_at.is_(None))
    ).one_or_none()
    seq = (session.scalar(select(func.max(Sbom.seq)).where(Sbom.asset_id == asset.id)) or 0) + 1
    components = [normalise(raw) for raw in parsed.components]
    before: list[str] = []
    if previous is not None:
        rows = session.execute(
            select(Component.purl, Component.name, Component.version).where(
                Component.sbom_id == previous.id
            )
        )
        before = [purl or f"{name or '?'}@{version or '?'}" for purl, name, version in rows]
        previous.superseded_at = now
    sbom = Sbom(
        id=new_id("sbm"),
        asset_id=asset.id,
        seq=seq,
        format=parsed.format,
        spec_version=parsed.spec_version,
        media=parsed.media,
        sha256=hashlib.sha256(data).hexdigest(),
        component_count=len(components),
        unmatched_count=sum(1 for c in components if c.unmatched_reason is not None),
        uploaded_at=now,
        uploaded_by=p.user_id,
        superseded_at=None,
        diff=_diff(before, (_key(c) for c in components)),
    )
    session.add(sbom)
    session.flush()
    if components:
        session.execute(
            insert(Component),
            [
                {
                    "id": new_id("cmp"),
                    "sbom_id": sbom.id,
                    "asset_id": asset.id,
                    "purl": c.purl,
                    "ecosystem": c.ecosystem,
                    "name": c.name,
                    "version": c.version,
                    "bom_ref": c.bom_ref,
                    "unmatched_reason": c.unmatched_reason,
                }
                for c in components
            ],
        )
    jobs.enqueue(
        session, MATCH_SBOM_JOB, {"sbom_id": sbom.id}, idempotency_key=f"{MATCH_SBOM_JOB}:{sbom.id}"
    )
    audit.record(
        session,
        AuditTag.INVENTORY_SBOM_UPLOAD,
        actor=p.actor,
        subject_type="sbom",
        subject_id=sbom.id,
        data={
            "asset_id": asset.id,
            "org_id": asset.org_id,
            "format": f"{parsed.format}-{parsed.media}",
            "spec_version": parsed.spec_version,
            "sha256": sbom.sha256,
            "components": sbom.component_count,
            "supersedes": previous.id if previous else None,
            "on_behalf": p.org_id != asset.org_id,
        },
    )
    return SbomOut.model_validate(sbom)


def list_sboms(
    session: Session,
    p: Principal,
    asset_id: str,
    *,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[SbomOut]:
    asset = assets.load(session, p, asset_id, Action.sbom_read)
    return scoped_page(
        session,
        p,
        "sbom",
        Sbom,
        SbomOut.model_validate,
        limit=limit,
        cursor=cursor,
        where=[Sbom.asset_id == asset.id],
        conditions={"org_id": lambda org: Sbom.asset_id.in_(_assets_of(org))},
    )


def _assets_of(org_id: object) -> Any:
    return select(Asset.id).where(Asset.org_id == org_id).scalar_subquery()


def list_components(
    session: Session,
    p: Principal,
    sbom_id: str,
    *,
    unmatched: bool | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[ComponentOut]:
    sbom = session.get(Sbom, sbom_id)
    asset = session.get(Asset, sbom.asset_id) if sbom is not None else None
    if sbom is None or asset is None:
        raise NotFound(f"no sbom with id {sbom_id!r}")
    authorize(p, Action.sbom_read, Target("sbom", id=sbom.id, org_id=asset.org_id))
    where = [Component.sbom_id == sbom.id]
    if unmatched is not None:
        where.append(
            Component.unmatched_reason.is_not(None)
            if unmatched
            else Component.unmatched_reason.is_(None)
        )
    return scoped_page(
        session,
        p,
        "component",
        Component,
        ComponentOut.model_validate,
        limit=limit,
        cursor=cursor,
        where=where,
        conditions={"org_id": lambda org: Component.asset_id.in_(_assets_of(org))},
    )
