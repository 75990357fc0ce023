"""CVE JSON 5.x → an OSV record.

Validated against the CVE JSON 5.1.1 schema that `cvelib` (Red Hat, the CNA tooling) ships;
`affected[].versions` become OSV events.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from clearinghouse.vulns.errors import FormatError
from clearinghouse.vulns.intake.common import document_package, osv_timestamp
from clearinghouse.vulns.purls import purl_for

# CVE 5 `collectionURL` → OSV ecosystem (the registries' canonical URLs).
COLLECTIONS = {
    "pypi.org": "PyPI",
    "pypi.python.org": "PyPI",
    "www.npmjs.com": "npm",
    "registry.npmjs.org": "npm",
    "pkg.go.dev": "Go",
    "proxy.golang.org": "Go",
    "crates.io": "crates.io",
    "repo.maven.apache.org": "Maven",
    "rubygems.org": "RubyGems",
    "packagist.org": "Packagist",
    "www.nuget.org": "NuGet",
}


@cache
def cve5_schema_validator() -> Any:
    """A validator for the CVE JSON 5.1.1 bundled schema (shipped by cvelib)."""
    import jsonschema

    text = (resources.files("cvelib") / "schemas" / "CVE_JSON_bundled_5.1.1.json").read_text()
    schema = json.loads(text)
    return jsonschema.Draft7Validator(schema)


def validate_cve5(doc: dict[str, Any]) -> None:
    from jsonschema.exceptions import best_match

    error = best_match(cve5_schema_validator().iter_errors(doc))
    if error is not None:
        # The schema is a oneOf (published | rejected): name the deepest reason, not the oneOf.
        while error.context:
            error = max(error.context, key=lambda e: len(list(e.absolute_path)))
        where = "/".join(str(p) for p in error.absolute_path) or "/"
        raise FormatError(f"invalid CVE JSON 5: at {where}: {error.message[:300]}")


def _cve5_events(v: dict[str, Any]) -> list[dict[str, str]] | None:
    start = v.get("version", "0")
    introduced = "0" if start in ("0", "*", "") else start
    if v.get("lessThan") and v["lessThan"] != "*":
        return [{"introduced": introduced}, {"fixed": v["lessThan"]}]
    if v.get("lessThanOrEqual") and v["lessThanOrEqual"] != "*":
        return [{"introduced": introduced}, {"last_affected": v["lessThanOrEqual"]}]
    if v.get("lessThan") == "*" or v.get("lessThanOrEqual") == "*":
        return [{"introduced": introduced}]
    return None


def _assigner(meta: dict[str, Any]) -> dict[str, Any]:
    assigner = {
        k: str(meta[m])
        for k, m in (("orgId", "assignerOrgId"), ("shortName", "assignerShortName"))
        if meta.get(m)
    }
    return {"assigner": assigner} if assigner else {}


def cve5_record(doc: dict[str, Any]) -> dict[str, Any]:
    """The OSV-shaped record of one validated CVE JSON 5 record (published or rejected)."""
    meta = doc["cveMetadata"]
    cna = doc["containers"]["cna"]
    descriptions = cna.get("descriptions") or cna.get("rejectedReasons") or []
    english = [d["value"] for d in descriptions if d.get("lang", "").startswith("en")]
    details = (english or [d["value"] for d in descriptions] or [""])[0]
    modified = osv_timestamp(
        meta.get("dateUpdated") or meta.get("datePublished") or meta.get("dateReserved")
    ) or osv_timestamp(datetime.now(UTC).isoformat())
    affected, unmapped = [], []
    for a in cna.get("affected") or []:
        ecosystem = name = None
        if a.get("packageURL") and (pkg := document_package(a["packageURL"], "packageURL")):
            ecosystem, name, _ = pkg
        elif a.get("collectionURL") and a.get("packageName"):
            host = re.sub(r"^https?://", "", a["collectionURL"]).split("/")[0]
            ecosystem, name = COLLECTIONS.get(host), a["packageName"]
        if ecosystem is None or name is None:
            unmapped.append({k: a[k] for k in ("vendor", "product", "versions") if k in a})
            continue
        entry: dict[str, Any] = {
            "package": {"ecosystem": ecosystem, "name": name, "purl": purl_for(ecosystem, name)}
        }
        ranges, versions = [], []
        for v in a.get("versions") or []:
            if v.get("status") != "affected":
                continue
            events = _cve5_events(v)
            if events is None:
                versions.append(v["version"])
            else:
                kind = "SEMVER" if v.get("versionType") == "semver" else "ECOSYSTEM"
                ranges.append({"type": kind, "events": events})
        if ranges:
            entry["ranges"] = ranges
        if versions:
            entry["versions"] = versions
        affected.append(entry)
    severity = []
    for m in cna.get("metrics") or []:
        for key, kind in (
            ("cvssV3_1", "CVSS_V3"),
            ("cvssV3_0", "CVSS_V3"),
            ("cvssV4_0", "CVSS_V4"),
        ):
            if (m.get(key) or {}).get("vectorString"):
                severity.append({"type": kind, "score": m[key]["vectorString"]})
    cwes = sorted(
        {
            d["cweId"]
            for p in cna.get("problemTypes") or []
            for d in p.get("descriptions") or []
            if d.get("cweId")
        }
    )
    record: dict[str, Any] = {
        "id": meta["cveId"],
        "modified": modified,
        "published": osv_timestamp(meta.get("datePublished")),
        "withdrawn": modified if meta.get("state") == "REJECTED" else None,
        "summary": (cna.get("title") or details.split("\n")[0])[:300],
        "details": details,
        "affected": affected,
        "severity": severity,
        "references": [{"type": "WEB", "url": r["url"]} for r in cna.get("references") or []],
        "credits": [{"name": c["value"]} for c in cna.get("credits") or [] if c.get("value")],
        "database_specific": {
            "source": {
                "format": f"cve-{doc.get('dataVersion', '5')}",
                # who assigned the CVE id: decides whether our export is the CNA container
                # or an ADP one (publication/cve5.py)
                **_assigner(meta),
            },
            "cwe_ids": cwes,
            **({"products": unmapped} if unmapped else {}),
        },
    }
    return {k: v for k, v in record.items() if v not in (None, [], "")}
