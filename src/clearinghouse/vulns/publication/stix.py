"""A STIX 2.1 bundle with the OASIS TLP 2.0 marking-definition objects."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from clearinghouse.vulns.publication.common import NAMESPACE, cve_of, cwes_of, iso
from clearinghouse.vulns.visibility import Tlp

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
    package, and the OASIS TLP 2.0 marking definitions that mark them. Ids are derived from the
    record (UUIDv5), so exporting the same version twice gives the same bundle."""
    import stix2

    marking = TLP2_MARKINGS[tlp]
    identity = stix2.Identity(
        id=f"identity--{uuid.uuid5(NAMESPACE, 'identity')}",
        name="AI Cyber Clearinghouse",
        identity_class="organization",
        created="2026-06-01T00:00:00.000Z",
        modified="2026-06-01T00:00:00.000Z",
        object_marking_refs=[TLP2_MARKINGS[Tlp.clear]],
        allow_custom=False,
    )
    refs = [{"source_name": "clearinghouse", "external_id": record["id"]}]
    cve = cve_of(record)
    if cve:
        refs.append({"source_name": "cve", "external_id": cve})
    refs += [
        {
            "source_name": "cwe",
            "external_id": c,
            "url": f"https://cwe.mitre.org/data/definitions/{c[4:]}.html",
        }
        for c in cwes_of(record)
    ]
    refs += [
        {"source_name": r.get("type", "WEB").lower(), "url": r["url"]}
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
        id=f"vulnerability--{uuid.uuid5(NAMESPACE, record['id'])}",
        name=cve or record["id"],
        description=record.get("details") or record.get("summary") or record["id"],
        created=published,
        modified=max(published, modified),
        created_by_ref=identity.id,
        external_references=refs,
        object_marking_refs=[marking],
    )
    software = [
        stix2.Software(
            name=aff["package"]["name"],
            vendor=aff["package"]["ecosystem"],
            object_marking_refs=[marking],
        )
        for aff in record.get("affected") or []
        if aff.get("package")
    ]
    markings = [
        tlp_marking(label)
        for label, ref in TLP2_MARKINGS.items()
        if ref in {marking, TLP2_MARKINGS[Tlp.clear]}
    ]
    bundle = stix2.Bundle(
        identity,
        vulnerability,
        *software,
        *markings,
        id=f"bundle--{uuid.uuid5(NAMESPACE, record['id'] + record['modified'])}",
        allow_custom=True,
    )
    result: dict[str, Any] = json.loads(bundle.serialize())
    return result
