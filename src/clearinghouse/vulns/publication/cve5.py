"""CVE JSON 5.1 (valid against the CVE JSON 5.1.1 schema)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from clearinghouse.core.errors import InvalidInput
from clearinghouse.vulns.publication.common import PUBLISHER, cve_of, cwes_of, intervals, iso

# The CNA organisation id in CVE records (CVE Services issues real ones; deployments that are a
# CNA pass theirs to `to_cve5`). It must be a version 4 UUID.
CNA_ORG_ID = uuid.UUID("8a1c6b2e-4f3d-4c5b-9e7a-2d1f0b3c4e5a")
# OSV ecosystem → its registry's canonical URL (CVE 5 `collectionURL`).
ECOSYSTEM_COLLECTIONS = {
    "PyPI": "https://pypi.org",
    "npm": "https://www.npmjs.com",
    "Go": "https://pkg.go.dev",
    "crates.io": "https://crates.io",
    "Maven": "https://repo.maven.apache.org/maven2",
    "RubyGems": "https://rubygems.org",
    "Packagist": "https://packagist.org",
    "NuGet": "https://www.nuget.org",
}


def _cve5_versions(aff: dict[str, Any], version_type: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for introduced, fixed, last in intervals(aff):
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
    cve = cve_of(record)
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
    if cwes_of(record):
        cna["problemTypes"] = [
            {
                "descriptions": [
                    {
                        "lang": "en",
                        "cweId": c,
                        "description": f"{c} {(cwe_names or {}).get(c, '')}".strip(),
                        "type": "CWE",
                    }
                    for c in cwes_of(record)
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
        "dateUpdated": iso(record["modified"]),
    }
    if record.get("published"):
        meta["datePublished"] = iso(record["published"])
    return {
        "dataType": "CVE_RECORD",
        "dataVersion": "5.1",
        "cveMetadata": meta,
        "containers": {"cna": cna},
    }
