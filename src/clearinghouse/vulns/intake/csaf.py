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

# CSAF's VEX profile (2.0 test 6.1.27.6, 2.1 test 6.1.27.7) requires at least ONE of these
# statuses in each vulnerability's product_status; it does not forbid the others. The `csaf`
# package refuses any other status (so it refused OASIS's own VEX example 2022-evd-uc-08-001,
# which also lists `recommended`); the BSI validator and the spec accept it, and so do we.
VEX_STATUSES = ("fixed", "known_affected", "known_not_affected", "under_investigation")


def _spec_error(doc: dict[str, Any], error: Any) -> bool:
    """False for the `csaf` package's stricter-than-the-spec VEX status error."""
    path = str(error.instance_path).split("/")
    if (
        "is not allowed" not in str(error.message)
        or len(path) != 5
        or path[1:2] != ["vulnerabilities"]
        or path[3] != "product_status"
        or not path[2].isdigit()
    ):
        return True
    vulns = doc.get("vulnerabilities") or []
    index = int(path[2])
    status = (vulns[index] if index < len(vulns) else {}).get("product_status") or {}
    return not any(status.get(s) for s in VEX_STATUSES)


def _failures(doc: dict[str, Any], validate: Any) -> list[tuple[str, str]]:
    """(test id, message) of each failed test of a `csaf` validator, in order, less the
    package's VEX-status error."""
    report = validate(doc, preset="basic")
    if report.overall_valid:
        return []
    failures = []
    for r in report.results:
        if r.passed or r.skipped:
            continue
        errors = [e for e in r.errors if _spec_error(doc, e)]
        if r.errors and not errors:
            continue
        failures.append(
            (
                str(r.id),
                f"{r.id} {r.title}: {errors[0].instance_path} {errors[0].message}"
                if errors
                else f"{r.id} {r.title}",
            )
        )
    return failures


def _draft_only(test_id: str) -> bool:
    parts = test_id.split(".")
    return (
        parts[:2] == ["6", "1"]
        and len(parts) > 2
        and parts[2].isdigit()
        and int(parts[2]) >= FIRST_DRAFT_ONLY_TEST
    )


# The mandatory tests that CSAF 2.0 has (6.1.1 to 6.1.33) are settled; 2.1 adds 6.1.34 and up,
# which are still changing between committee drafts (OASIS's own 2.1 examples fail 6.1.36,
# 6.1.62 and 6.1.66 of the `csaf` package's current draft, and pass the BSI validator's 2.1
# tests). A 2.1 document must pass the schema and the settled tests; what the draft-only tests
# find is returned to the caller as findings, not a refusal.
FIRST_DRAFT_ONLY_TEST = 34


def _current_21(doc: dict[str, Any]) -> dict[str, Any]:
    publisher = (doc.get("document") or {}).get("publisher")
    if not isinstance(publisher, dict) or "contact_details" not in publisher:
        return doc
    if "contact" in publisher:
        return doc  # both names: the schema refuses it, as it should
    renamed = {k: v for k, v in publisher.items() if k != "contact_details"}
    renamed["contact"] = {"details": publisher["contact_details"]}
    return {**doc, "document": {**doc["document"], "publisher": renamed}}


def validate_csaf(doc: dict[str, Any]) -> list[str]:
    """Schema + mandatory tests (the `basic` preset) of the document's own CSAF version; a
    failure raises FormatError. Returns the findings of CSAF 2.1's draft-only tests.

    CSAF 2.1 is still moving: committee draft 02 named the publisher's contact
    `contact_details` (a string), later drafts (and the `csaf` package) moved it to
    `contact.details`, and OASIS's own 2.1 examples still use the former. A 2.1 document is
    validated with that one field in its current place (the document is kept as it came)."""
    version = (doc.get("document") or {}).get("csaf_version")
    findings: list[str] = []
    if version == "2.0":
        from csaf.csaf.v20._validator import validate

        failures = [text for _, text in _failures(doc, validate)]
    elif version == "2.1":
        from csaf import validate as validate21

        found = _failures(_current_21(doc), validate21)
        failures = [text for test, text in found if not _draft_only(test)]
        findings = [text for test, text in found if _draft_only(test)]
    else:
        raise FormatError(f"document.csaf_version must be 2.0 or 2.1, got {version!r}")
    if failures:
        raise FormatError(f"invalid CSAF {version}: " + "; ".join(failures[:3]))
    return findings


def csaf_products(tree: dict[str, Any]) -> dict[str, dict[str, Any]]:
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


def _kept(doc: dict[str, Any], vuln: dict[str, Any]) -> dict[str, Any]:
    kept = {
        "version": doc["document"]["csaf_version"],
        "category": doc["document"]["category"],
        "product_tree": doc["product_tree"],
        **{
            k: vuln[k]
            for k in ("product_status", "remediations", "threats", "flags")
            if vuln.get(k)
        },
    }
    return kept


def csaf_records(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One OSV-shaped record per vulnerability of a validated CSAF document."""
    document = doc["document"]
    tracking = document["tracking"]
    modified = osv_timestamp(tracking["current_release_date"])
    published = osv_timestamp(tracking["initial_release_date"])
    products = csaf_products(doc.get("product_tree") or {})
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
                # The document's own product tree and what this vulnerability says of its
                # products, kept so that a CSAF export carries them (known_not_affected, its
                # justification, remediations) instead of what survives the OSV mapping.
                **({"csaf": _kept(doc, vuln)} if doc.get("product_tree") else {}),
            },
        }
        yield {k: v for k, v in record.items() if v not in (None, [], "")}
