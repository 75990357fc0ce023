"""CVE JSON 5.1: a CNA container for the CVE ids we assigned, an ADP container with our
enrichment for those others assigned (both valid against the CVE JSON 5.1.1 schema that cvelib
bundles)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from clearinghouse.core.errors import InvalidInput
from clearinghouse.vulns.publication.common import PUBLISHER, cve_of, cwes_of, intervals, iso

if TYPE_CHECKING:
    from clearinghouse.core.config import Settings

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


@dataclass(frozen=True)
class Cna:
    """Our identity as a CNA (Settings `cve_cna_org_id`, `cve_cna_short_name`)."""

    org_id: str = str(CNA_ORG_ID)
    short_name: str = "clearinghouse"

    @classmethod
    def of(cls, settings: Settings) -> Cna:
        return cls(str(settings.cve_cna_org_id), settings.cve_cna_short_name)


def cve_assigner(record: dict[str, Any]) -> dict[str, str] | None:
    """Who assigned the record's CVE id, where the record says: `database_specific.cve_assigner`
    (set when we assign one) or the assigner a CVE 5 import kept (`source.assigner`)."""
    specific = record.get("database_specific") or {}
    assigner = specific.get("cve_assigner") or (specific.get("source") or {}).get("assigner")
    return assigner if isinstance(assigner, dict) else None


def assigned_by_us(record: dict[str, Any], cna: Cna, *, native: bool = False) -> bool:
    """Whether we are the CNA of the record's CVE id: its recorded assigner is our org id or
    short name. With no assigner recorded, one of our own reports (`native`, origin "report")
    is ours, since nothing but our own assignment puts a CVE id on it, and an imported record
    is someone else's."""
    assigner = cve_assigner(record)
    if assigner is not None:
        return assigner.get("orgId") == cna.org_id or (
            str(assigner.get("shortName", "")).lower() == cna.short_name.lower()
        )
    return native


def _instant(ts: str | None) -> str | None:
    """A CVE 5 timestamp; placeholder dates before 1970 (year 0001 in every Go record) are
    not dates, so they are left out rather than published."""
    if not ts:
        return None
    parsed = datetime.fromisoformat(iso(ts) or "").astimezone(UTC)
    if parsed.year < 1970:
        return None
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _content(record: dict[str, Any], cwe_names: dict[str, str] | None) -> dict[str, Any]:
    """What we know of the vulnerability, in CVE 5 container fields (a CNA container's
    content, or our enrichment in an ADP container)."""
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
    target = (record.get("database_specific") or {}).get("target") or {}
    if not affected and target.get("repository_url") and target.get("commit"):
        affected.append(
            {
                "vendor": "n/a",
                "product": target["repository_url"][:2048],
                "repo": target["repository_url"],
                "defaultStatus": "unknown",
                "versions": [
                    {"version": target["commit"], "status": "affected", "versionType": "git"}
                ],
            }
        )
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
    content: dict[str, Any] = {
        "affected": affected,
        "references": [{"url": url} for url in urls],  # the schema wants them unique
    }
    if cwes_of(record):
        content["problemTypes"] = [
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
        content["metrics"] = metrics
    if record.get("credits"):
        content["credits"] = [
            {"lang": "en", "value": c["name"], "type": "finder"} for c in record["credits"]
        ]
    return content


def to_cve5(
    record: dict[str, Any],
    cna: Cna | None = None,
    cwe_names: dict[str, str] | None = None,
    *,
    native: bool = False,
) -> dict[str, Any]:
    """For a CVE id we assigned, a CVE JSON 5.1 record (PUBLISHED) with our CNA container; for
    one another CNA assigned, our ADP container (`{"adpContainer": ...}`, the body CVE Services
    takes from an ADP) with our enrichment: affected versions, CWEs, scores, references.
    `native`: the record is one of our own reports (see `assigned_by_us`).
    Needs a CVE id among the record's aliases: a CNA assigns CVE ids; we do not invent them."""
    cve = cve_of(record)
    if cve is None:
        raise InvalidInput(
            f"{record['id']} has no CVE id; a CVE record needs one assigned by a CNA",
            code="cve_id_missing",
        )
    cna = cna or Cna()
    content = _content(record, cwe_names)
    updated = _instant(record["modified"]) or _instant(record.get("published"))
    provider: dict[str, Any] = {"orgId": cna.org_id, "shortName": cna.short_name}
    if updated:
        provider["dateUpdated"] = updated
    if not assigned_by_us(record, cna, native=native):
        adp: dict[str, Any] = {
            "providerMetadata": provider,
            "title": f"{PUBLISHER['name']} enrichment",
            **{k: v for k, v in content.items() if v},
        }
        return {"adpContainer": adp}
    if not content["affected"]:
        content["affected"] = [{"vendor": "n/a", "product": "n/a", "defaultStatus": "unknown"}]
    if not content["references"]:
        content["references"] = [{"url": f"{PUBLISHER['namespace']}/v1/vulns/{record['id']}"}]
    container: dict[str, Any] = {
        "providerMetadata": provider,
        "title": (record.get("summary") or cve)[:256],
        "descriptions": [
            {"lang": "en", "value": record.get("details") or record.get("summary") or cve}
        ],
        **content,
    }
    meta = {
        "cveId": cve,
        "assignerOrgId": cna.org_id,
        "assignerShortName": cna.short_name,
        "state": "PUBLISHED",
    }
    if updated:
        meta["dateUpdated"] = updated
    published = _instant(record.get("published"))
    if published:
        meta["datePublished"] = published
    return {
        "dataType": "CVE_RECORD",
        "dataVersion": "5.1",
        "cveMetadata": meta,
        "containers": {"cna": container},
    }
