"""Reading the other advisory formats into the canonical (OSV-shaped) record.

- CSAF 2.0 / 2.1: validated with the `csaf` package (schema + the spec's mandatory tests);
  a document that fails is rejected whole. Each vulnerability in a document becomes one record,
  `<tracking id>:<CVE or ordinal>`, with the CVE and the document id as aliases, so that dedup
  joins the same CVE seen in several vendors' documents.
- CVE JSON 5.x: validated against the CVE JSON 5.1.1 schema that `cvelib` (Red Hat, the CNA
  tooling) ships; `affected[].versions` become OSV events.
- CISA KEV: catalog entries (not records); they enrich records through their CVE aliases.

No maintained library converts between these formats in Python (see
`shared/research/clearinghouse-anchors.md`), so the mappings are written here, against the
specifications. Cross-format conversion is lossy by nature; what does not map is kept under
`database_specific` rather than dropped.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from functools import cache
from importlib import resources
from typing import Any

from packageurl import PackageURL

from clearinghouse.vulns.purls import PurlInvalid, parse_purl

PURL_ECOSYSTEMS = {
    "pypi": "PyPI",
    "npm": "npm",
    "golang": "Go",
    "cargo": "crates.io",
    "maven": "Maven",
    "nuget": "NuGet",
    "gem": "RubyGems",
    "composer": "Packagist",
    "deb": "Debian",
    "apk": "Alpine",
    "hex": "Hex",
    "pub": "Pub",
}
ECOSYSTEM_PURL_TYPES = {v: k for k, v in PURL_ECOSYSTEMS.items()}

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
# Ecosystems whose versions are SemVer 2.0, so OSV ranges over them are of type SEMVER.
SEMVER_ECOSYSTEMS = frozenset({"npm", "Go", "crates.io", "Hex", "Pub"})
_CWE = re.compile(r"^CWE-[1-9][0-9]*$")


class FormatError(ValueError):
    """The document is not a valid instance of its format; the message says why."""


def osv_timestamp(value: str | None) -> str | None:
    """Any ISO 8601 timestamp → OSV's `YYYY-MM-DDTHH:MM:SSZ` (UTC)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        # A time near year 1 or 9999 in its own zone may not exist in UTC (OverflowError).
        utc = parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise FormatError(f"not an ISO 8601 timestamp in range: {value!r}") from exc
    if utc.year < 1000:  # OSV timestamps have four-digit years
        raise FormatError(f"not an ISO 8601 timestamp in range: {value!r}")
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def package_of(p: PackageURL) -> tuple[str, str, str | None] | None:
    """(ecosystem, name, version) of a parsed purl of a known type, else None."""
    ecosystem = PURL_ECOSYSTEMS.get(p.type)
    if ecosystem is None:
        return None
    if p.namespace and p.type in ("golang", "npm", "composer"):
        name = f"{p.namespace}/{p.name}"
    elif p.namespace and p.type == "maven":
        name = f"{p.namespace}:{p.name}"
    else:
        name = p.name
    return ecosystem, name, p.version


def package_from_purl(purl: str) -> tuple[str, str, str | None] | None:
    """(ecosystem, name, version) for a valid purl of a known type, else None (malformed or
    unknown alike; callers that must tell them apart use `purls.parse_purl` first)."""
    try:
        return package_of(parse_purl(purl))
    except PurlInvalid:
        return None


def _document_package(purl: str, where: str) -> tuple[str, str, str | None] | None:
    """A document's package: a malformed purl rejects the document's record (nothing of it
    is stored); a valid purl of a type we do not map leaves the product unmapped."""
    try:
        return package_of(parse_purl(purl))
    except PurlInvalid as exc:
        raise FormatError(f"{where}: {exc.detail} [purl_invalid]") from None


def purl_for(ecosystem: str, name: str, version: str | None = None) -> str | None:
    kind = ECOSYSTEM_PURL_TYPES.get(ecosystem)
    if kind is None:
        return None
    namespace = None
    if kind == "maven" and ":" in name:
        namespace, name = name.split(":", 1)
    elif kind in ("golang", "npm", "composer") and "/" in name:
        namespace, name = name.rsplit("/", 1)
    return PackageURL(type=kind, namespace=namespace, name=name, version=version).to_string()


# --- CSAF --------------------------------------------------------------------------------------


def validate_csaf(doc: dict[str, Any]) -> None:
    """Schema + mandatory tests (the `basic` preset) of the document's own CSAF version."""
    version = (doc.get("document") or {}).get("csaf_version")
    if version == "2.0":
        from csaf.csaf.v20._validator import validate
    elif version == "2.1":
        from csaf import validate
    else:
        raise FormatError(f"document.csaf_version must be 2.0 or 2.1, got {version!r}")
    report = validate(doc, preset="basic")
    if not report.overall_valid:
        failures = [
            f"{r.id} {r.title}: {r.errors[0].instance_path} {r.errors[0].message}"
            if r.errors
            else f"{r.id} {r.title}"
            for r in report.results
            if not r.passed and not r.skipped
        ]
        raise FormatError(f"invalid CSAF {version}: " + "; ".join(failures[:3]))


def _csaf_products(tree: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """product_id → {name, purl, cpe, version} from branches, full names and relationships."""
    products: dict[str, dict[str, Any]] = {}

    def add(fpn: dict[str, Any], version: str | None) -> None:
        helper = fpn.get("product_identification_helper") or {}
        purl = helper.get("purl") or next(iter(helper.get("purls") or []), None)
        products[fpn["product_id"]] = {
            "name": fpn.get("name", ""),
            "purl": purl,
            "cpe": helper.get("cpe"),
            "version": version,
        }

    def walk(branches: list[dict[str, Any]], version: str | None) -> None:
        for b in branches:
            v = b["name"] if b.get("category") in ("product_version",) else version
            if b.get("product"):
                add(b["product"], v)
                if b.get("category") == "product_version_range" and b["name"].startswith("vers:"):
                    products[b["product"]["product_id"]]["vers"] = b["name"]
            walk(b.get("branches") or [], v)

    walk(tree.get("branches") or [], None)
    for fpn in tree.get("full_product_names") or []:
        add(fpn, None)
    for rel in tree.get("relationships") or []:
        fpn = rel.get("full_product_name") or {}
        component = products.get(rel.get("product_reference", ""))
        if fpn.get("product_id") and component is not None:
            products[fpn["product_id"]] = {**component, "name": fpn.get("name", "")}
    return products


def events_from_vers(vers: str) -> list[dict[str, str]] | None:
    """OSV events of a `vers:` range (the subset CSAF producers write: one interval of
    >=, >, <, <= constraints, or `*`). None when the range is not a single interval."""
    _, _, body = vers.partition("/")
    introduced, end = "0", None
    for constraint in (c.strip() for c in body.split("|") if c.strip()):
        if constraint == "*":
            continue
        if constraint.startswith(">="):
            introduced = constraint[2:]
        elif constraint.startswith("<="):
            end = {"last_affected": constraint[2:]}
        elif constraint.startswith("<"):
            end = {"fixed": constraint[1:]}
        else:
            return None
    return [{"introduced": introduced}, *([end] if end else [])]


def csaf_records(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One OSV-shaped record per vulnerability of a validated CSAF document."""
    document = doc["document"]
    tracking = document["tracking"]
    modified = osv_timestamp(tracking["current_release_date"])
    published = osv_timestamp(tracking["initial_release_date"])
    products = _csaf_products(doc.get("product_tree") or {})
    tlp = ((document.get("distribution") or {}).get("tlp") or {}).get("label")
    for n, vuln in enumerate(doc.get("vulnerabilities") or [], 1):
        cve = vuln.get("cve")
        ids = [i["text"] for i in vuln.get("ids") or [] if i.get("text")]
        record_id = f"{tracking['id']}:{cve or n}"
        notes = vuln.get("notes") or []
        details = "\n\n".join(
            note["text"]
            for note in notes
            if note.get("category") in ("description", "summary", "details", "general")
        )
        status = vuln.get("product_status") or {}
        affected_ids = [
            *status.get("known_affected", []),
            *status.get("first_affected", []),
            *status.get("last_affected", []),
        ]
        fixed_ids = [*status.get("fixed", []), *status.get("first_fixed", [])]
        by_package: dict[tuple[str, str], dict[str, Any]] = {}
        unmapped = []
        for pid, fixed in [(p, False) for p in affected_ids] + [(p, True) for p in fixed_ids]:
            product = products.get(pid, {"name": pid})
            pkg = (
                _document_package(product["purl"], f"product {pid}")
                if product.get("purl")
                else None
            )
            if pkg is None:
                unmapped.append({"product_id": pid, "name": product["name"], "fixed": fixed})
                continue
            ecosystem, name, version = pkg
            entry = by_package.setdefault(
                (ecosystem, name),
                {
                    "package": {
                        "ecosystem": ecosystem,
                        "name": name,
                        "purl": purl_for(ecosystem, name),
                    }
                },
            )
            events = events_from_vers(product["vers"]) if product.get("vers") else None
            if events is not None and not fixed:
                kind = "SEMVER" if ecosystem in SEMVER_ECOSYSTEMS else "ECOSYSTEM"
                entry.setdefault("ranges", []).append({"type": kind, "events": events})
                continue
            version = version or product.get("version")
            if version:
                key = "fixed_versions" if fixed else "versions"
                if fixed:
                    entry.setdefault("database_specific", {}).setdefault(key, []).append(version)
                else:
                    entry.setdefault("versions", []).append(version)
        cwes = [c["id"] for c in ([vuln["cwe"]] if vuln.get("cwe") else vuln.get("cwes") or [])]
        severity = []
        for score in vuln.get("scores") or []:
            for key, kind in (("cvss_v3", "CVSS_V3"), ("cvss_v4", "CVSS_V4")):
                if (score.get(key) or {}).get("vectorString"):
                    severity.append({"type": kind, "score": score[key]["vectorString"]})
        for metric in vuln.get("metrics") or []:  # CSAF 2.1
            content = metric.get("content") or {}
            for key, kind in (("cvss_v3", "CVSS_V3"), ("cvss_v4", "CVSS_V4")):
                if (content.get(key) or {}).get("vectorString"):
                    severity.append({"type": kind, "score": content[key]["vectorString"]})
        record: dict[str, Any] = {
            "id": record_id,
            "modified": modified,
            "published": published,
            "aliases": sorted({*([cve] if cve else []), *ids, tracking["id"]} - {record_id}),
            "summary": (vuln.get("title") or document.get("title") or "")[:10_000],
            "details": details,
            "affected": [
                {**entry, "versions": sorted(set(entry["versions"]))}
                if entry.get("versions")
                else entry
                for entry in by_package.values()
            ],
            "severity": list({s["score"]: s for s in severity}.values()),
            "references": [
                {"type": "ADVISORY" if r.get("category") == "self" else "WEB", "url": r["url"]}
                for r in (vuln.get("references") or []) + (document.get("references") or [])
                if r.get("url")
            ],
            "credits": [
                {"name": name}
                for ack in vuln.get("acknowledgments") or []
                for name in ack.get("names") or []
            ],
            "database_specific": {
                "source": {
                    "format": f"csaf-{document['csaf_version']}",
                    "document": tracking["id"],
                },
                "cwe_ids": cwes,
                **({"tlp": tlp} if tlp else {}),
                **({"products": unmapped} if unmapped else {}),
            },
        }
        yield {k: v for k, v in record.items() if v not in (None, [], "")}


# --- CVE JSON 5 --------------------------------------------------------------------------------


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
        if a.get("packageURL") and (pkg := _document_package(a["packageURL"], "packageURL")):
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
            "source": {"format": f"cve-{doc.get('dataVersion', '5')}"},
            "cwe_ids": cwes,
            **({"products": unmapped} if unmapped else {}),
        },
    }
    return {k: v for k, v in record.items() if v not in (None, [], "")}


# --- CISA KEV ----------------------------------------------------------------------------------


def kev_entry(raw: Any) -> dict[str, Any]:
    """One KEV catalog entry, checked and normalised (raises FormatError)."""
    if not isinstance(raw, dict):
        raise FormatError("a KEV entry must be an object")
    cve = raw.get("cveID")
    if not isinstance(cve, str) or not re.fullmatch(r"CVE-\d{4}-\d{4,19}", cve):
        raise FormatError(f"cveID must be a CVE id, got {cve!r}")
    try:
        added = date.fromisoformat(raw["dateAdded"])
        due = date.fromisoformat(raw["dueDate"]) if raw.get("dueDate") else None
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"{cve}: dateAdded/dueDate must be YYYY-MM-DD ({exc})") from None
    ransomware = raw.get("knownRansomwareCampaignUse", "Unknown")
    if ransomware not in ("Known", "Unknown"):
        raise FormatError(f"{cve}: knownRansomwareCampaignUse must be Known or Unknown")
    cwes = [c for c in raw.get("cwes") or [] if isinstance(c, str) and _CWE.match(c)]
    entry = {
        "cve_id": cve,
        "vendor": str(raw.get("vendorProject", ""))[:200],
        "product": str(raw.get("product", ""))[:200],
        "name": str(raw.get("vulnerabilityName", "")),
        "date_added": added,
        "due_date": due,
        "ransomware": ransomware,
        "required_action": str(raw.get("requiredAction", "")),
        "cwes": cwes,
    }
    canonical = json.dumps(entry, default=str, sort_keys=True)
    entry["digest"] = hashlib.sha256(canonical.encode()).hexdigest()
    return entry
