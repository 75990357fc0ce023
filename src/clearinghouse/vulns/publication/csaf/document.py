"""CSAF 2.0 and 2.1 `csaf_security_advisory` and `csaf_vex` documents of one OSV record.

Valid under `csaf validate` and the BSI validator's mandatory tests; keys sorted (6.2.13); the
`self` reference is the document's URL in our trusted-provider directory (6.2.11); year-0001
placeholder dates are replaced (the originals are kept in a note). The mapping is ours: no
maintained Python converter from OSV to CSAF exists."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from clearinghouse.core.errors import InvalidInput
from clearinghouse.core.tlp import Tlp
from clearinghouse.vulns.publication.common import PUBLISHER, cve_of, cwes_of, iso
from clearinghouse.vulns.publication.csaf.tree import products_of

CSAF_VERSIONS = ("2.0", "2.1")
SCHEMA_21 = "https://docs.oasis-open.org/csaf/csaf/v2.1/schema/csaf.json"

# CSAF 2.0 carries TLP 1.0 labels. AMBER+STRICT has no TLP 1.0 equal; RED is the nearest label
# that does not widen the audience. CSAF 2.1 carries TLP 2.0 labels, ours.
CSAF20_TLP: dict[str, str] = {
    Tlp.clear: "WHITE",
    Tlp.green: "GREEN",
    Tlp.amber: "AMBER",
    Tlp.amber_strict: "RED",
    Tlp.red: "RED",
}
# Dates before this are placeholders (Go's vulndb writes 0001-01-01), never real releases.
FIRST_REAL_YEAR = 1970
EPOCH = "1970-01-01T00:00:00+00:00"


def filename(tracking_id: str) -> str:
    """CSAF 5.1: the tracking id, lower case, every character outside [+\\-a-z0-9] as `_`."""
    return re.sub(r"[^+\-a-z0-9]", "_", tracking_id.lower()) + ".json"


def tlp_folder(tlp: str, version: str = "2.0") -> str:
    """The provider directory's folder of a TLP (CSAF 7.1.16: the label in lower case)."""
    return (CSAF20_TLP[tlp] if version == "2.0" else str(tlp)).lower().replace("+", "_")


def _when(ts: str | None) -> datetime | None:
    if not ts:
        return None
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None


def release_dates(record: dict[str, Any]) -> tuple[str, str, dict[str, str]]:
    """(initial, current, originals replaced): placeholder dates are replaced by the other
    date, and an initial date after the current one becomes the current one."""
    published, modified = record.get("published"), record["modified"]
    originals: dict[str, str] = {}
    first, last = _when(published), _when(modified)
    if published and (first is None or first.year < FIRST_REAL_YEAR):
        originals["published"] = published
        published, first = None, None
    if last is None or last.year < FIRST_REAL_YEAR:
        originals["modified"] = modified
        # No real date at all: the epoch, the earliest date that is not a placeholder (the
        # original is kept in a note).
        modified, last = published or EPOCH, first or datetime.fromisoformat(EPOCH)
    if published is None or (first is not None and last is not None and first > last):
        published = modified
    initial, current = iso(published), iso(modified)
    assert initial is not None and current is not None
    return initial, current, originals


def self_url(
    record: dict[str, Any], tlp: str, version: str = "2.0", base: str | None = None
) -> str:
    """The document's URL in our provider directory."""
    initial, _, _ = release_dates(record)
    root = (base or PUBLISHER["namespace"]).rstrip("/")
    sub = "" if version == "2.0" else "v2.1/"
    return (
        f"{root}/.well-known/csaf/{sub}{tlp_folder(tlp, version)}/{initial[:4]}/"
        f"{filename(record['id'])}"
    )


def _catalog_cwe_name(cwe: str) -> str | None:
    """The CWE name from the catalog bundled with the csaf package (when ours is not loaded)."""
    import csaf

    try:
        return str(csaf.cwe_entry(cwe).name)
    except ValueError:
        return None


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def _scores(record: dict[str, Any], products: list[str], version: str) -> list[dict[str, Any]]:
    from clearinghouse.vulns.scoring import score

    out = []
    seen = set()
    for sev in record.get("severity") or []:
        try:
            scored = score(sev["score"])
        except InvalidInput:
            continue
        if scored.version not in ("3.0", "3.1", "4.0") or not products:
            continue
        if scored.version == "4.0" and version == "2.0":
            continue  # CSAF 2.0 has no CVSS 4.0: that is what 2.1 is for
        key = "cvss_v4" if scored.version == "4.0" else "cvss_v3"
        if key in seen:
            continue  # one score per CVSS version and product (CSAF 6.1.7)
        seen.add(key)
        cvss = {
            "version": scored.version,
            "vectorString": scored.vector,
            "baseScore": scored.base_score,
            "baseSeverity": scored.severity.upper(),
        }
        if version == "2.0":
            out.append({"products": products, key: cvss})
        else:
            out.append({"content": {key: cvss}, "products": products})
    return out


def to_csaf(
    record: dict[str, Any],
    *,
    tlp: str = "CLEAR",
    vex: bool = False,
    cwe_names: dict[str, str] | None = None,
    version: str = "2.0",
    base_url: str | None = None,
    publisher: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A CSAF security advisory, or (vex=True) a CSAF VEX document, for one record.
    `base_url`: where our provider directory is served; `publisher`: ours from Settings
    (default the embedded `PUBLISHER`)."""
    if version not in CSAF_VERSIONS:
        raise InvalidInput(
            f"CSAF version must be 2.0 or 2.1, got {version!r}", code="format_unsupported"
        )
    products = products_of(record, version)
    if vex and not (set(products.status) & {"fixed", "known_affected", "known_not_affected"}):
        raise InvalidInput(
            f"{record['id']} names no package versions; a VEX document needs product statuses",
            code="vex_no_products",
        )
    published, modified, originals = release_dates(record)
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
        "product_status": products.status,
    }
    cve = cve_of(record)
    if cve:
        vuln["cve"] = cve
    ids = [a for a in [record["id"], *record.get("aliases", [])] if a != cve]
    if ids:
        vuln["ids"] = [{"system_name": a.split("-")[0], "text": a} for a in ids]
    if cwes_of(record):
        cwe = cwes_of(record)[0]
        name = (cwe_names or {}).get(cwe) or _catalog_cwe_name(cwe)
        if name:  # CSAF's mandatory test 6.1.11 wants the catalog's name; unknown ids are left out
            if version == "2.0":
                vuln["cwe"] = {"id": cwe, "name": name}
            else:
                vuln["cwes"] = [{"id": cwe, "name": name, "version": "4.13"}]
    for key in ("remediations", "threats", "flags"):
        if getattr(products, key):
            vuln[key] = getattr(products, key)
    scores = _scores(record, products.affected, version)
    if scores:
        vuln["scores" if version == "2.0" else "metrics"] = scores
    refs = [
        {"category": "external", "summary": r.get("type", "WEB"), "url": r["url"]}
        for r in record.get("references") or []
        if r.get("url")
    ]
    if refs:
        vuln["references"] = refs
    notes = [{"category": "summary", "text": summary, "title": "Summary"}]
    if originals:
        notes.append(
            {
                "category": "other",
                "text": "The source gave placeholder dates, replaced here: "
                + ", ".join(f"{k} {v}" for k, v in sorted(originals.items())),
                "title": "Original dates",
            }
        )
    osv_url = f"{PUBLISHER['namespace']}/v1/vulns/{record['id']}"
    category = "csaf_vex" if vex else "csaf_security_advisory"
    if (
        category == "csaf_security_advisory"
        and not products.affected
        and (products.category in (None, "csaf_vex") or version == "2.1")
    ):
        # The advisory profile wants an affected product (2.1: 6.1.27.12); a record that knows
        # only fixed, not-affected or under-investigation products is a VEX document (2.0),
        # or a base document (2.1).
        category = "csaf_vex" if version == "2.0" else "csaf_base"
    document: dict[str, Any] = {
        "category": category,
        "csaf_version": version,
        "distribution": {"tlp": {"label": CSAF20_TLP[tlp] if version == "2.0" else str(tlp)}},
        "lang": "en",
        "notes": notes,
        "publisher": publisher or PUBLISHER,
        "references": [
            {
                "category": "self",
                "summary": "This document",
                "url": self_url(record, tlp, version, base_url),
            },
            {"category": "external", "summary": "This advisory in OSV format", "url": osv_url},
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
    doc: dict[str, Any] = {
        "document": document,
        "product_tree": products.tree,
        "vulnerabilities": [vuln],
    }
    if version == "2.1":
        doc["$schema"] = SCHEMA_21
    return dict(_sorted(doc))
