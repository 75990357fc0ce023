"""CSAF 2.0 `csaf_security_advisory` and `csaf_vex` (valid under `csaf validate`)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from clearinghouse.core.errors import InvalidInput
from clearinghouse.vulns.publication.common import PUBLISHER, cve_of, cwes_of, intervals, iso
from clearinghouse.vulns.purls import ECOSYSTEM_PURL_TYPES, purl_for
from clearinghouse.vulns.visibility import Tlp

# CSAF 2.0 carries TLP 1.0 labels. AMBER+STRICT has no TLP 1.0 equal; RED is the nearest label
# that does not widen the audience.
CSAF20_TLP: dict[str, str] = {
    Tlp.clear: "WHITE",
    Tlp.green: "GREEN",
    Tlp.amber: "AMBER",
    Tlp.amber_strict: "RED",
    Tlp.red: "RED",
}


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
        for introduced, fixed, last in intervals(aff):
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
    published = iso(record.get("published") or record["modified"])
    modified = iso(record["modified"])
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
    cve = cve_of(record)
    if cve:
        vuln["cve"] = cve
    ids = [a for a in [record["id"], *record.get("aliases", [])] if a != cve]
    if ids:
        vuln["ids"] = [{"system_name": a.split("-")[0], "text": a} for a in ids]
    if not cve and not ids:
        vuln["ids"] = [{"system_name": "CH", "text": record["id"]}]
    if cwes_of(record):
        cwe = cwes_of(record)[0]
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
