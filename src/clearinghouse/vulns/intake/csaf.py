"""CSAF 2.0 / 2.1 → OSV records.

Documents are validated with the `csaf` package (schema + the spec's mandatory tests); a
document that fails is rejected whole. Each vulnerability in a document becomes one record,
`<tracking id>:<CVE or ordinal>`, with the CVE and the document id as aliases, so that dedup
joins the same CVE seen in several vendors' documents.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from clearinghouse.vulns.errors import FormatError
from clearinghouse.vulns.intake.common import SEMVER_ECOSYSTEMS, document_package, osv_timestamp
from clearinghouse.vulns.purls import purl_for


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
                document_package(product["purl"], f"product {pid}") if product.get("purl") else None
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
