"""A STIX 2.1 bundle with the OASIS TLP 2.0 marking-definition objects (valid under
stix2-validator --strict), one per record; also the objects of a TAXII collection."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from clearinghouse.core.tlp import Tlp
from clearinghouse.vulns.publication.common import NAMESPACE, cve_of, cwes_of, iso
from clearinghouse.vulns.publication.vex import VexStatus, product_statuses

# OASIS TLP 2.0 marking definitions (cti-stix-common-objects, extension-definition-specifications
# /tlp-2.0): fixed ids, shared by everyone who exchanges STIX, so they are data, not generated.
TLP2_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP2_MARKINGS: dict[str, str] = {
    Tlp.clear: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    Tlp.green: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    Tlp.amber: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    Tlp.amber_strict: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    Tlp.red: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}


def stix_id(kind: str, key: str) -> str:
    """A STIX id derived from `key`, so that exporting the same version twice gives the same
    bundle. SDOs and SROs must have version 4 UUIDs (--strict, check 103), so the digest is
    shaped as one (random-looking, version and variant bits set)."""
    digest = hashlib.sha256(f"{NAMESPACE}:{kind}:{key}".encode()).digest()[:16]
    return f"{kind}--{uuid.UUID(bytes=digest, version=4)}"


# Our extension definition (STIX 2.1 section 7.3: custom top-level properties are declared by
# one): `x_purl` on `software`, `x_references` (the record's links) on `vulnerability`.
EXTENSION = "extension-definition--3e2a9d4c-6f1b-4a7e-9c5d-8b0f2e1a7d64"
TOPLEVEL = {"extension_type": "toplevel-property-extension"}


def extension_definition(created_by_ref: str) -> dict[str, Any]:
    return {
        "type": "extension-definition",
        "spec_version": "2.1",
        "id": EXTENSION,
        "created_by_ref": created_by_ref,
        "created": "2026-06-01T00:00:00.000Z",
        "modified": "2026-06-01T00:00:00.000Z",
        "name": "AI Cyber Clearinghouse properties",
        "description": "x_purl (software): the package URL, at the software's version when it "
        "has one. x_references (vulnerability): the record's links, each {type, url}, with "
        "OSV's reference types.",
        "schema": "https://ossf.github.io/osv-schema/",
        "version": "1.0.0",
        "extension_types": ["toplevel-property-extension"],
        "extension_properties": ["x_purl", "x_references"],
        "object_marking_refs": [TLP2_MARKINGS[Tlp.clear]],
    }


def tlp_marking(label: str) -> dict[str, Any]:
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": TLP2_MARKINGS[label],
        "created": "2022-10-01T00:00:00.000Z",
        "name": f"TLP:{label}",
        "extensions": {
            TLP2_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": label.lower()}
        },
    }


def to_stix(record: dict[str, Any], *, tlp: str = "CLEAR") -> dict[str, Any]:
    """A STIX 2.1 bundle: our identity, the vulnerability, one `software` object per affected
    product (with its version, its purl as `x_purl` and its cpe where known; a package affected
    in a range is one unversioned `software`), an `affects` relationship from the
    vulnerability to each (naming the affected ranges), and the OASIS TLP 2.0 marking
    definitions that mark them. Ids are derived from the
    record (UUIDv5), so exporting the same version twice gives the same bundle."""
    import stix2

    marking = TLP2_MARKINGS[tlp]
    identity = stix2.Identity(
        id=stix_id("identity", "identity"),
        name="AI Cyber Clearinghouse",
        identity_class="organization",
        created="2026-06-01T00:00:00.000Z",
        modified="2026-06-01T00:00:00.000Z",
        object_marking_refs=[TLP2_MARKINGS[Tlp.clear]],
        allow_custom=False,
    )
    cve = cve_of(record)
    # a CVE id is only ever a "cve" reference (--strict)
    refs = (
        []
        if record["id"] == cve
        else [{"source_name": "clearinghouse", "external_id": record["id"]}]
    )
    if cve:
        refs.append({"source_name": "cve", "external_id": cve})
    refs += [{"source_name": "cwe", "external_id": c} for c in cwes_of(record)]
    refs += [
        {"source_name": alias.split("-")[0].lower(), "external_id": alias}
        for alias in record.get("aliases") or []
        if alias != cve
    ]
    # --strict wants a hash beside every external reference's url (check 302), which a web
    # page cannot have: the record's links travel as `x_references` (our extension).
    links = [
        {"type": r.get("type", "WEB"), "url": r["url"]}
        for r in record.get("references") or []
        if r.get("url")
    ]
    # Some real records carry placeholder dates (PYSEC-2024-55: modified 0001-01-01), which
    # STIX libraries cannot represent; clamp to the epoch.
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    published = max(
        epoch, datetime.fromisoformat(iso(record.get("published") or record["modified"]) or "")
    )
    modified = max(epoch, datetime.fromisoformat(iso(record["modified"]) or ""))
    vulnerability = stix2.Vulnerability(
        id=stix_id("vulnerability", record["id"]),
        name=cve or record["id"],
        description=record.get("details") or record.get("summary") or record["id"],
        created=published,
        modified=max(published, modified),
        created_by_ref=identity.id,
        external_references=refs,
        object_marking_refs=[marking],
        **({"x_references": links, "extensions": {EXTENSION: TOPLEVEL}} if links else {}),
        allow_custom=True,
    )
    software: dict[str, Any] = {}
    affects: dict[str, list[str]] = {}
    for status in product_statuses(record):
        if status.status not in (VexStatus.affected, VexStatus.under_investigation):
            continue
        product = status.product
        props: dict[str, Any] = {"name": product.name, "object_marking_refs": [marking]}
        if product.vendor:
            props["vendor"] = product.vendor
        if product.version:
            props["version"] = product.version
        if product.cpe:
            props["cpe"] = product.cpe
        if product.versioned_purl:
            # STIX has no purl property: ours is declared by an extension definition
            props["x_purl"] = product.versioned_purl
            props["extensions"] = {EXTENSION: TOPLEVEL}
        sco = stix2.Software(**props, allow_custom=True)
        software[sco.id] = sco
        ranges = affects.setdefault(sco.id, [])
        if product.vers:
            ranges.append(product.vers)
    relationships = [
        stix2.Relationship(
            id=stix_id("relationship", f"{record['id']} affects {sco_id}"),
            # STIX 2.1 suggests no relationship type from a vulnerability to software, and
            # --strict refuses unsuggested ones: `related-to` (common to all objects), with
            # "Affects" in its description.
            relationship_type="related-to",
            source_ref=vulnerability.id,
            target_ref=sco_id,
            description=(
                f"Affects versions {', '.join(ranges)}" if ranges else "Affects this version."
            ),
            created=vulnerability.created,
            modified=vulnerability.modified,
            created_by_ref=identity.id,
            object_marking_refs=[marking],
        )
        for sco_id, ranges in affects.items()
    ]
    markings = [
        tlp_marking(label)
        for label, ref in TLP2_MARKINGS.items()
        if ref in {marking, TLP2_MARKINGS[Tlp.clear]}
    ]
    extended = links or any("x_purl" in sco for sco in software.values())
    extension = [extension_definition(identity.id)] if extended else []
    bundle = stix2.Bundle(
        identity,
        vulnerability,
        *software.values(),
        *relationships,
        *extension,
        *markings,
        id=stix_id("bundle", record["id"] + record["modified"]),
        allow_custom=True,
    )
    result: dict[str, Any] = json.loads(bundle.serialize())
    return result
