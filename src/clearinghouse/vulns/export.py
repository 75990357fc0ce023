"""Publishing records in the formats that real tools consume.

- OSV 1.7 JSON (osv-scanner, pip-audit, Dependency-Track's OSV mirror);
- CSAF 2.0 `csaf_security_advisory` and `csaf_vex` (valid under `csaf validate`);
- CVE JSON 5.1 (valid against the CVE JSON 5.1.1 schema);
- a STIX 2.1 bundle with the OASIS TLP 2.0 marking-definition objects;
- `dump()`: the osv.dev bucket layout (`<Ecosystem>/all.zip`, `ecosystems.txt`,
  `modified_id.csv`) that osv-scanner's offline mode and Dependency-Track read.

The mappings are ours (no maintained Python converter exists); each is checked against its
format's validator in the tests.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clearinghouse.core.errors import InvalidInput
from clearinghouse.vulns.formats import ECOSYSTEM_COLLECTIONS, ECOSYSTEM_PURL_TYPES, purl_for

EXPORT_FORMATS = ("osv", "csaf", "csaf-vex", "cve5", "stix")
NAMESPACE = uuid.UUID("5d6c3b8e-3f0e-4b8e-9a53-6c1e0d0c7a11")  # our STIX / CVE org namespace
# The CNA organisation id in CVE records (CVE Services issues real ones; deployments that are a
# CNA pass theirs to `to_cve5`). It must be a version 4 UUID.
CNA_ORG_ID = uuid.UUID("8a1c6b2e-4f3d-4c5b-9e7a-2d1f0b3c4e5a")
PUBLISHER = {
    "category": "coordinator",
    "name": "AI Cyber Clearinghouse",
    "namespace": "https://clearinghouse.example.org",
}

# OASIS TLP 2.0 marking definitions (cti-stix-common-objects, extension-definition-specifications
# /tlp-2.0): fixed ids, shared by everyone who exchanges STIX, so they are data, not generated.
TLP2_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP2_MARKINGS = {
    "CLEAR": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "GREEN": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "AMBER": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "AMBER+STRICT": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "RED": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
# CSAF 2.0 carries TLP 1.0 labels. AMBER+STRICT has no TLP 1.0 equal; RED is the nearest label
# that does not widen the audience.
CSAF20_TLP = {
    "CLEAR": "WHITE",
    "GREEN": "GREEN",
    "AMBER": "AMBER",
    "AMBER+STRICT": "RED",
    "RED": "RED",
}


def _iso(ts: str | None) -> str | None:
    return ts.replace("Z", "+00:00") if ts else None


def _cve_of(record: dict[str, Any]) -> str | None:
    for alias in [record["id"], *record.get("aliases", [])]:
        if alias.startswith("CVE-"):
            return str(alias)
    return None


def _cwes(record: dict[str, Any]) -> list[str]:
    return list((record.get("database_specific") or {}).get("cwe_ids") or [])


def _intervals(aff: dict[str, Any]) -> Iterator[tuple[str, str | None, str | None]]:
    """(introduced, fixed, last_affected) per affected interval of an OSV affected entry."""
    for rng in aff.get("ranges") or []:
        if rng.get("type") == "GIT":
            continue
        introduced = None
        for event in rng.get("events", []):
            (kind, value), *_ = event.items()
            if kind == "introduced":
                if introduced is not None:
                    yield introduced, None, None
                introduced = value
            elif kind in ("fixed", "last_affected") and introduced is not None:
                yield (
                    introduced,
                    value if kind == "fixed" else None,
                    value if kind == "last_affected" else None,
                )
                introduced = None
        if introduced is not None:
            yield introduced, None, None


# --- OSV ---------------------------------------------------------------------------------------


def to_osv(record: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": "1.7.0", **record}


# --- CVE JSON 5.1 ------------------------------------------------------------------------------


def _cve5_versions(aff: dict[str, Any], version_type: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for introduced, fixed, last in _intervals(aff):
        entry = {"version": introduced, "status": "affected", "versionType": version_type}
        if fixed:
            entry["lessThan"] = fixed
        elif last:
            entry["lessThanOrEqual"] = last
        else:
            entry["lessThan"] = "*"
        out.append(entry)
    out += [{"version": v, "status": "affected"} for v in aff.get("versions") or []]
    unique = {json.dumps(v, sort_keys=True): v for v in out}  # the schema wants them unique
    return list(unique.values())


# CVE 5 `versionType` values as CNAs use them, per ecosystem (the schema leaves it free-form).
CVE5_VERSION_TYPES = {
    "PyPI": "python",
    "npm": "semver",
    "Go": "semver",
    "crates.io": "semver",
    "Maven": "maven",
    "RubyGems": "rubygems",
    "NuGet": "nuget",
    "Packagist": "composer",
}


def to_cve5(
    record: dict[str, Any],
    org_id: uuid.UUID | None = None,
    cwe_names: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A CVE JSON 5.1 record (PUBLISHED). Needs a CVE id among the record's aliases: a CNA
    assigns CVE ids; we do not invent them."""
    cve = _cve_of(record)
    if cve is None:
        raise InvalidInput(
            f"{record['id']} has no CVE id; a CVE record needs one assigned by a CNA",
            code="cve_id_missing",
        )
    org = str(org_id or CNA_ORG_ID)
    affected = []
    for aff in record.get("affected") or []:
        pkg = aff.get("package")
        if not pkg:
            continue
        eco = pkg["ecosystem"]
        range_types = {r.get("type") for r in aff.get("ranges") or []}
        version_type = (
            "semver" if range_types == {"SEMVER"} else CVE5_VERSION_TYPES.get(eco, "custom")
        )
        versions = _cve5_versions(aff, version_type)
        entry: dict[str, Any] = {
            "vendor": eco,
            "product": pkg["name"],
            "packageName": pkg["name"],
            "defaultStatus": "unaffected",
        }
        if eco in ECOSYSTEM_COLLECTIONS:
            entry["collectionURL"] = ECOSYSTEM_COLLECTIONS[eco]
        if versions:
            entry["versions"] = versions
        else:
            entry["defaultStatus"] = "unknown"
        affected.append(entry)
    if not affected:
        affected = [{"vendor": "n/a", "product": "n/a", "defaultStatus": "unknown"}]
    metrics = []
    for sev in record.get("severity") or []:
        from clearinghouse.vulns.scoring import score

        scored = score(sev["score"])
        key = {"3.0": "cvssV3_0", "3.1": "cvssV3_1", "4.0": "cvssV4_0"}[scored.version]
        metrics.append(
            {
                key: {
                    "version": scored.version,
                    "vectorString": scored.vector,
                    "baseScore": scored.base_score,
                    "baseSeverity": scored.severity.upper(),
                }
            }
        )
    urls = dict.fromkeys(r["url"] for r in record.get("references") or [] if r.get("url"))
    references = [{"url": url} for url in urls]  # the schema wants them unique
    if not references:
        references = [{"url": f"{PUBLISHER['namespace']}/v1/vulns/{record['id']}"}]
    cna: dict[str, Any] = {
        "providerMetadata": {"orgId": org, "shortName": "clearinghouse"},
        "title": (record.get("summary") or cve)[:256],
        "descriptions": [
            {"lang": "en", "value": record.get("details") or record.get("summary") or cve}
        ],
        "affected": affected,
        "references": references,
    }
    if _cwes(record):
        cna["problemTypes"] = [
            {
                "descriptions": [
                    {
                        "lang": "en",
                        "cweId": c,
                        "description": f"{c} {(cwe_names or {}).get(c, '')}".strip(),
                        "type": "CWE",
                    }
                    for c in _cwes(record)
                ]
            }
        ]
    if metrics:
        cna["metrics"] = metrics
    if record.get("credits"):
        cna["credits"] = [
            {"lang": "en", "value": c["name"], "type": "finder"} for c in record["credits"]
        ]
    meta = {
        "cveId": cve,
        "assignerOrgId": org,
        "assignerShortName": "clearinghouse",
        "state": "PUBLISHED",
        "dateUpdated": _iso(record["modified"]),
    }
    if record.get("published"):
        meta["datePublished"] = _iso(record["published"])
    return {
        "dataType": "CVE_RECORD",
        "dataVersion": "5.1",
        "cveMetadata": meta,
        "containers": {"cna": cna},
    }


# --- CSAF 2.0 ----------------------------------------------------------------------------------


def _vers(eco: str, introduced: str, fixed: str | None, last: str | None) -> str:
    kind = ECOSYSTEM_PURL_TYPES.get(eco, "generic")
    parts = [] if introduced in ("0", "") else [f">={introduced}"]
    if fixed:
        parts.append(f"<{fixed}")
    elif last:
        parts.append(f"<={last}")
    return f"vers:{kind}/" + ("|".join(parts) if parts else "*")


def _product_tree(record: dict[str, Any]) -> tuple[dict[str, Any], list[str], list[str]]:
    """Branches vendor(ecosystem) → product_name → version / version range; returns the tree
    and the product ids that are affected and fixed."""
    vendors: dict[str, list[dict[str, Any]]] = defaultdict(list)
    affected_ids: list[str] = []
    fixed_ids: list[str] = []
    counter = 0

    def product(name: str, purl: str | None) -> dict[str, Any]:
        nonlocal counter
        counter += 1
        p: dict[str, Any] = {"name": name, "product_id": f"CSAFPID-{counter:04d}"}
        if purl:
            p["product_identification_helper"] = {"purl": purl}
        return p

    for aff in record.get("affected") or []:
        pkg = aff.get("package")
        if not pkg:
            continue
        eco, name = pkg["ecosystem"], pkg["name"]
        versions: list[dict[str, Any]] = []
        for introduced, fixed, last in _intervals(aff):
            rng = _vers(eco, introduced, fixed, last)
            p = product(f"{name} {rng}", purl_for(eco, name))
            affected_ids.append(p["product_id"])
            versions.append({"category": "product_version_range", "name": rng, "product": p})
            if fixed:
                fp = product(f"{name} {fixed}", purl_for(eco, name, fixed))
                fixed_ids.append(fp["product_id"])
                versions.append({"category": "product_version", "name": fixed, "product": fp})
        for v in aff.get("versions") or []:
            p = product(f"{name} {v}", purl_for(eco, name, v))
            affected_ids.append(p["product_id"])
            versions.append({"category": "product_version", "name": v, "product": p})
        if versions:
            vendors[eco].append({"category": "product_name", "name": name, "branches": versions})
    tree = {
        "branches": [
            {"category": "vendor", "name": eco, "branches": products}
            for eco, products in vendors.items()
        ]
    }
    return tree, affected_ids, fixed_ids


def _catalog_cwe_name(cwe: str) -> str | None:
    """The CWE name from the catalog bundled with the csaf package (when ours is not loaded)."""
    import csaf

    try:
        return str(csaf.cwe_entry(cwe).name)
    except ValueError:
        return None


def to_csaf(
    record: dict[str, Any],
    *,
    tlp: str = "CLEAR",
    vex: bool = False,
    cwe_names: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A CSAF 2.0 security advisory, or (vex=True) a CSAF VEX document, for one record."""
    tree, affected_ids, fixed_ids = _product_tree(record)
    if vex and not (affected_ids or fixed_ids):
        raise InvalidInput(
            f"{record['id']} names no package versions; a VEX document needs product statuses",
            code="vex_no_products",
        )
    published = _iso(record.get("published") or record["modified"])
    modified = _iso(record["modified"])
    assert published is not None and modified is not None
    summary = record.get("summary") or record["id"]
    vuln: dict[str, Any] = {
        "title": summary[:500],
        "notes": [
            {
                "category": "description",
                "text": record.get("details") or summary,
                "title": "Vulnerability description",
            }
        ],
    }
    cve = _cve_of(record)
    if cve:
        vuln["cve"] = cve
    ids = [a for a in [record["id"], *record.get("aliases", [])] if a != cve]
    if ids:
        vuln["ids"] = [{"system_name": a.split("-")[0], "text": a} for a in ids]
    if not cve and not ids:
        vuln["ids"] = [{"system_name": "CH", "text": record["id"]}]
    if _cwes(record):
        cwe = _cwes(record)[0]
        name = (cwe_names or {}).get(cwe) or _catalog_cwe_name(cwe)
        if name:  # CSAF's mandatory test 6.1.11 wants the catalog's name; unknown ids are left out
            vuln["cwe"] = {"id": cwe, "name": name}
    status: dict[str, list[str]] = {}
    if affected_ids:
        status["known_affected"] = affected_ids
    if fixed_ids:
        status["fixed"] = fixed_ids
    if status:
        vuln["product_status"] = status
    remediations = []
    if affected_ids:
        remediations.append(
            {
                "category": "vendor_fix" if fixed_ids else "none_available",
                "details": "Update to a fixed version."
                if fixed_ids
                else "No fixed version is known yet.",
                "product_ids": affected_ids,
            }
        )
    if remediations:
        vuln["remediations"] = remediations
    scores = []
    for sev in record.get("severity") or []:
        from clearinghouse.vulns.scoring import score

        scored = score(sev["score"])
        if scored.version in ("3.0", "3.1") and affected_ids:
            scores.append(
                {
                    "products": affected_ids,
                    "cvss_v3": {
                        "version": scored.version,
                        "vectorString": scored.vector,
                        "baseScore": scored.base_score,
                        "baseSeverity": scored.severity.upper(),
                    },
                }
            )
    if scores:
        vuln["scores"] = scores
    refs = [
        {"category": "external", "summary": r.get("type", "WEB"), "url": r["url"]}
        for r in record.get("references") or []
        if r.get("url")
    ]
    if refs:
        vuln["references"] = refs
    document: dict[str, Any] = {
        "category": "csaf_vex" if vex else "csaf_security_advisory",
        "csaf_version": "2.0",
        "distribution": {"tlp": {"label": CSAF20_TLP[tlp]}},
        "lang": "en",
        "notes": [{"category": "summary", "text": summary, "title": "Summary"}],
        "publisher": PUBLISHER,
        "references": [
            {
                "category": "self",
                "summary": "This advisory in OSV format",
                "url": f"{PUBLISHER['namespace']}/v1/vulns/{record['id']}",
            }
        ],
        "title": summary[:500],
        "tracking": {
            "current_release_date": modified,
            "generator": {"engine": {"name": "AI Cyber Clearinghouse"}},
            "id": record["id"],
            "initial_release_date": published,
            "revision_history": [
                {"date": published, "number": "1", "summary": "Initial version."},
                *(
                    [{"date": modified, "number": "2", "summary": "Updated."}]
                    if modified != published
                    else []
                ),
            ],
            "status": "final",
            "version": "2" if modified != published else "1",
        },
    }
    doc: dict[str, Any] = {"document": document, "vulnerabilities": [vuln]}
    if tree["branches"]:
        doc["product_tree"] = tree
    return doc


# --- STIX 2.1 ----------------------------------------------------------------------------------


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
        object_marking_refs=[TLP2_MARKINGS["CLEAR"]],
        allow_custom=False,
    )
    refs = [{"source_name": "clearinghouse", "external_id": record["id"]}]
    cve = _cve_of(record)
    if cve:
        refs.append({"source_name": "cve", "external_id": cve})
    refs += [
        {
            "source_name": "cwe",
            "external_id": c,
            "url": f"https://cwe.mitre.org/data/definitions/{c[4:]}.html",
        }
        for c in _cwes(record)
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
        epoch, datetime.fromisoformat(_iso(record.get("published") or record["modified"]) or "")
    )
    modified = max(epoch, datetime.fromisoformat(_iso(record["modified"]) or ""))
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
        if ref in {marking, TLP2_MARKINGS["CLEAR"]}
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


# --- the osv.dev bucket layout -----------------------------------------------------------------


def dump(records: Iterator[dict[str, Any]], out: Path) -> dict[str, int]:
    """Write `out/<Ecosystem>/all.zip` (one `<id>.json` per record), `out/ecosystems.txt` and
    `out/modified_id.csv` (`<modified>,<Ecosystem>/<id>`, newest first), plus a per-ecosystem
    `modified_id.csv` as osv.dev's bucket has. Files are written beside and renamed into place,
    so a reader never sees half a zip."""
    by_ecosystem: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for record in records:
        ecosystems = {
            (a.get("package") or {}).get("ecosystem")
            for a in record.get("affected") or []
            if a.get("package")
        }
        for eco in ecosystems - {None}:
            by_ecosystem[str(eco)][record["id"]] = record
    out.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str]] = []
    for eco, recs in sorted(by_ecosystem.items()):
        folder = out / eco
        folder.mkdir(exist_ok=True)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
            for rid, rec in sorted(recs.items()):
                info = zipfile.ZipInfo(f"{rid}.json", date_time=(2020, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, json.dumps(rec, indent=2, sort_keys=True))
        _atomic_write(folder / "all.zip", buf.getvalue())
        eco_rows = sorted(((r["modified"], rid) for rid, r in recs.items()), reverse=True)
        _atomic_write(
            folder / "modified_id.csv", "".join(f"{m},{rid}\n" for m, rid in eco_rows).encode()
        )
        rows += [(m, f"{eco}/{rid}") for m, rid in eco_rows]
    _atomic_write(out / "ecosystems.txt", "".join(f"{e}\n" for e in sorted(by_ecosystem)).encode())
    _atomic_write(
        out / "modified_id.csv",
        "".join(f"{m},{p}\n" for m, p in sorted(rows, reverse=True)).encode(),
    )
    return {"ecosystems": len(by_ecosystem), "records": len({p for _, p in rows})}


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{datetime.now(UTC).timestamp():.0f}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
