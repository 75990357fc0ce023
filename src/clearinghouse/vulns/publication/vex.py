"""VEX from one per-product status model: OpenVEX, CycloneDX VEX and CSAF VEX (`csaf_vex`).

The model (`VexSubject`: one vulnerability and its `ProductStatus` list) is the single seam
every VEX format is mapped from. `vex_subject(record, extra=...)` derives it from a record:
- each affected interval of a package is `affected` (a version range) and its fix `fixed`;
- each listed affected version is `affected`; a CSAF import's fixed versions
  (`affected[].database_specific.fixed_versions`) and unmapped products
  (`database_specific.products`) keep their status;
- a package named with no version at all is `under_investigation`;
- a native report on a purl of no ecosystem (`pkg:generic`) is `affected` at its version, and
  one on a repository is `affected` at its commit;
- statements a record carries in `database_specific.vex` (a list of
  `{"product": {"name", "purl"?, "version"?, "cpe"?}, "status", "justification"?,
  "impact_statement"?, "action_statement"?}`: CSAF imports' `known_not_affected`, a
  coordinator's per-vendor statements) are taken as they are.
`extra` is where callers add statuses that do not live in the record (the coordination cases'
per-vendor statuses). The three mappings never look at the record again, so a status reaches
every format the same way.

The mappings are ours: no maintained Python library converts between VEX formats. CycloneDX is
built with cyclonedx-python-lib's model and serialiser; OpenVEX and CSAF are plain JSON.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from clearinghouse.core.errors import InvalidInput
from clearinghouse.vulns.publication.common import (
    NAMESPACE,
    PUBLISHER,
    cve_of,
    intervals,
    iso,
    vers_range,
)
from clearinghouse.vulns.purls import purl_for


class VexStatus(StrEnum):
    affected = "affected"
    not_affected = "not_affected"
    fixed = "fixed"
    under_investigation = "under_investigation"


class Justification(StrEnum):
    """Why a product is not affected: the five labels OpenVEX and CSAF (flags) share."""

    component_not_present = "component_not_present"
    vulnerable_code_not_present = "vulnerable_code_not_present"
    vulnerable_code_not_in_execute_path = "vulnerable_code_not_in_execute_path"
    vulnerable_code_cannot_be_controlled_by_adversary = (
        "vulnerable_code_cannot_be_controlled_by_adversary"
    )
    inline_mitigations_already_exist = "inline_mitigations_already_exist"


@dataclass(frozen=True)
class Product:
    """A product a status is about: a package (purl) at a version or in a range (`vers`), or a
    named product (a repository at a commit, a CSAF product with no purl)."""

    name: str
    purl: str | None = None  # without version; `versioned_purl` adds it
    version: str | None = None
    vers: str | None = None  # a `vers:` range (https://github.com/package-url/purl-spec VERS)
    cpe: str | None = None
    vendor: str | None = None  # the ecosystem, for packages

    @property
    def versioned_purl(self) -> str | None:
        if self.purl and self.version:
            return f"{self.purl}@{self.version}"
        return self.purl

    @property
    def label(self) -> str:
        """A human name: `name version` or `name range`."""
        return " ".join(p for p in (self.name, self.version or self.vers) if p)


@dataclass(frozen=True)
class ProductStatus:
    product: Product
    status: VexStatus
    justification: Justification | None = None
    impact_statement: str | None = None
    action_statement: str | None = None


@dataclass(frozen=True)
class VexSubject:
    """One vulnerability and the status of each product it concerns."""

    id: str
    cve: str | None
    aliases: tuple[str, ...]
    title: str
    description: str
    published: str
    modified: str
    statuses: tuple[ProductStatus, ...] = field(default=())


FIX_ACTION = "Update to a fixed version ({})."
NO_FIX_ACTION = "No fixed version is known yet; follow the advisory for mitigations."


def _stored(entry: Any) -> ProductStatus:
    """A statement a record carries in `database_specific.vex`."""
    try:
        product = entry["product"]
        status = VexStatus(entry["status"])
        justification = (
            Justification(entry["justification"]) if entry.get("justification") else None
        )
        return ProductStatus(
            Product(
                name=str(product["name"]),
                purl=product.get("purl"),
                version=product.get("version"),
                cpe=product.get("cpe"),
            ),
            status,
            justification,
            entry.get("impact_statement"),
            entry.get("action_statement"),
        )
    except (KeyError, TypeError, ValueError):
        raise InvalidInput(
            "the record's database_specific.vex holds a malformed statement",
            code="vex_statement_invalid",
        ) from None


def _package_statuses(aff: dict[str, Any]) -> list[ProductStatus]:
    pkg = aff["package"]
    eco, name = pkg["ecosystem"], pkg["name"]
    base = Product(name=name, purl=purl_for(eco, name) or pkg.get("purl"), vendor=eco)
    out: list[ProductStatus] = []
    fixes = [f for _, f, _ in intervals(aff) if f]
    action = FIX_ACTION.format(", ".join(fixes)) if fixes else NO_FIX_ACTION
    out += [
        ProductStatus(
            replace(base, vers=vers_range(eco, introduced, fixed, last)),
            VexStatus.affected,
            action_statement=action,
        )
        for introduced, fixed, last in intervals(aff)
    ]
    out += [
        ProductStatus(replace(base, version=version), VexStatus.affected, action_statement=action)
        for version in aff.get("versions") or []
    ]
    fixed_versions = dict.fromkeys(
        [*fixes, *((aff.get("database_specific") or {}).get("fixed_versions") or [])]
    )
    out += [
        ProductStatus(replace(base, version=version), VexStatus.fixed) for version in fixed_versions
    ]
    if not out:
        out.append(ProductStatus(base, VexStatus.under_investigation))
    return out


def product_statuses(record: dict[str, Any]) -> list[ProductStatus]:
    """The per-product statuses a record carries (see the module's docstring)."""
    statuses: list[ProductStatus] = []
    for aff in record.get("affected") or []:
        if aff.get("package"):
            statuses += _package_statuses(aff)
    specific = record.get("database_specific") or {}
    for product in specific.get("products") or []:  # CSAF products with no purl
        if isinstance(product, dict) and product.get("name"):
            statuses.append(
                ProductStatus(
                    Product(name=str(product["name"])),
                    VexStatus.fixed if product.get("fixed") else VexStatus.affected,
                    action_statement=None if product.get("fixed") else NO_FIX_ACTION,
                )
            )
    target = specific.get("target") or {}
    if not statuses and target.get("purl"):  # a native report on a purl of no ecosystem
        from packageurl import PackageURL

        purl = PackageURL.from_string(target["purl"])
        statuses.append(
            ProductStatus(
                Product(
                    name=purl.name,
                    purl=PackageURL(purl.type, purl.namespace, purl.name).to_string(),
                    version=purl.version,
                ),
                VexStatus.affected,
                action_statement=NO_FIX_ACTION,
            )
        )
    if not statuses and target.get("repository_url") and target.get("commit"):
        statuses.append(
            ProductStatus(
                Product(name=str(target["repository_url"]), version=str(target["commit"])),
                VexStatus.affected,
                action_statement=NO_FIX_ACTION,
            )
        )
    stored = specific.get("vex") or []
    if not isinstance(stored, list):
        stored = [stored]
    statuses += [_stored(entry) for entry in stored]
    return list(dict.fromkeys(statuses))


def vex_subject(record: dict[str, Any], extra: Iterable[ProductStatus] = ()) -> VexSubject:
    """The per-product statuses of one record, plus `extra` (the statuses that do not live in
    the record). Raises InvalidInput (`vex_no_products`) when nothing names a product."""
    statuses = [*product_statuses(record), *extra]
    if not statuses:
        raise InvalidInput(
            f"{record['id']} names no product; a VEX document needs product statuses",
            code="vex_no_products",
        )
    cve = cve_of(record)
    summary = record.get("summary") or record["id"]
    published = _instant(record.get("published") or record["modified"])
    return VexSubject(
        id=record["id"],
        cve=cve,
        aliases=tuple(a for a in [record["id"], *record.get("aliases", [])] if a != cve),
        title=summary,
        description=record.get("details") or summary,
        published=published,
        modified=max(published, _instant(record["modified"])),
        statuses=tuple(dict.fromkeys(statuses)),
    )


def _instant(ts: str) -> str:
    """RFC 3339 in UTC; placeholder dates before 1970 (year-0001 in some real records) are
    clamped to the epoch, which every format accepts."""
    parsed = datetime.fromisoformat(iso(ts) or "").astimezone(UTC)
    parsed = max(parsed, datetime(1970, 1, 1, tzinfo=UTC))
    return parsed.strftime("%Y-%m-%dT%H:%M:%SZ")


def _doc_id(subject: VexSubject, kind: str) -> str:
    return f"{PUBLISHER['namespace']}/vex/{kind}/{subject.id}/{subject.modified}"


# --- OpenVEX 0.2.0 ------------------------------------------------------------------------


def to_openvex(subject: VexSubject) -> dict[str, Any]:
    """An OpenVEX 0.2.0 document: one statement per product status. A range has no purl of
    its own, so an affected range names the package's unversioned purl and says the range in
    `status_notes`; a fixed or listed version names the versioned purl, which matchers prefer."""
    vulnerability: dict[str, Any] = {"name": subject.cve or subject.id}
    if subject.aliases:
        vulnerability["aliases"] = list(subject.aliases)
    vulnerability["description"] = subject.description
    statements = []
    for s in subject.statuses:
        product: dict[str, Any] = {"@id": s.product.versioned_purl or _product_iri(s.product)}
        identifiers = {}
        if s.product.versioned_purl:
            identifiers["purl"] = s.product.versioned_purl
        if s.product.cpe:
            identifiers["cpe23" if s.product.cpe.startswith("cpe:2.3") else "cpe22"] = s.product.cpe
        if identifiers:
            product["identifiers"] = identifiers
        statement: dict[str, Any] = {
            "vulnerability": vulnerability,
            "timestamp": subject.modified,
            "products": [product],
            "status": s.status.value,
        }
        if s.product.vers:
            statement["status_notes"] = f"versions {s.product.vers}"
        if s.justification:
            statement["justification"] = s.justification.value
        if s.impact_statement:
            statement["impact_statement"] = s.impact_statement
        if s.status is VexStatus.not_affected and not (s.justification or s.impact_statement):
            statement["impact_statement"] = "Not affected."
        if s.status is VexStatus.affected:
            statement["action_statement"] = s.action_statement or NO_FIX_ACTION
        statements.append(statement)
    return {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": _doc_id(subject, "openvex"),
        "author": str(PUBLISHER["name"]),
        "role": "Coordinator",
        "timestamp": subject.modified,
        "version": 1,
        "tooling": "AI Cyber Clearinghouse",
        "statements": statements,
    }


def _product_iri(product: Product) -> str:
    """An IRI for a product with no purl: its repository URL at the commit, or a urn."""
    if product.name.startswith(("https://", "http://")):
        return product.name + (f"@{product.version}" if product.version else "")
    return f"urn:uuid:{uuid.uuid5(NAMESPACE, product.label)}"


# --- CycloneDX 1.6 VEX --------------------------------------------------------------------

# CDX_JUSTIFICATION, CDX_STATE and CSAF_STATUS are also read backwards by the VEX intake
# (inventory.vex_intake): one mapping per format, both ways.
CDX_JUSTIFICATION = {
    Justification.component_not_present: "code_not_present",
    Justification.vulnerable_code_not_present: "code_not_present",
    Justification.vulnerable_code_not_in_execute_path: "code_not_reachable",
    Justification.vulnerable_code_cannot_be_controlled_by_adversary: "requires_environment",
    Justification.inline_mitigations_already_exist: "protected_by_mitigating_control",
}
CDX_STATE = {
    VexStatus.affected: "exploitable",
    VexStatus.not_affected: "not_affected",
    VexStatus.fixed: "resolved",
    VexStatus.under_investigation: "in_triage",
}
_CDX_VERSION_STATUS = {
    VexStatus.affected: "affected",
    VexStatus.not_affected: "unaffected",
    VexStatus.fixed: "unaffected",
    VexStatus.under_investigation: "unknown",
}


def to_cyclonedx_vex(subject: VexSubject) -> dict[str, Any]:
    """A CycloneDX 1.6 BOM with the products as components and one vulnerability entry per
    (state, justification, detail) group, each `affects` naming its components' versions or
    ranges (CycloneDX gives one analysis per vulnerability entry, so differing statuses need
    separate entries)."""
    from cyclonedx.model import XsUri
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.impact_analysis import (
        ImpactAnalysisAffectedStatus,
        ImpactAnalysisJustification,
        ImpactAnalysisResponse,
        ImpactAnalysisState,
    )
    from cyclonedx.model.vulnerability import (
        BomTarget,
        BomTargetVersionRange,
        Vulnerability,
        VulnerabilityAnalysis,
        VulnerabilitySource,
    )
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    stamp = datetime.fromisoformat(subject.modified)
    bom = Bom(serial_number=uuid.uuid5(NAMESPACE, _doc_id(subject, "cyclonedx")))
    bom.metadata.timestamp = stamp
    components: dict[Product, Component] = {}
    for s in subject.statuses:
        base = Product(name=s.product.name, purl=s.product.purl, cpe=s.product.cpe)
        if base in components:
            continue
        ref = f"product-{uuid.uuid5(NAMESPACE, repr(base))}"
        components[base] = Component(
            name=base.name,
            type=ComponentType.LIBRARY if base.purl else ComponentType.APPLICATION,
            bom_ref=ref,
            purl=PackageURL.from_string(base.purl) if base.purl else None,
            cpe=base.cpe,
            group=s.product.vendor,
        )
        bom.components.add(components[base])
    groups: dict[tuple[Any, ...], list[ProductStatus]] = defaultdict(list)
    for s in subject.statuses:
        key = (s.status, s.justification, s.impact_statement or s.action_statement)
        groups[key].append(s)
    for n, ((status, justification, detail), members) in enumerate(groups.items(), 1):
        targets: dict[str, list[Any]] = defaultdict(list)
        for s in members:
            base = Product(name=s.product.name, purl=s.product.purl, cpe=s.product.cpe)
            version_status = ImpactAnalysisAffectedStatus(_CDX_VERSION_STATUS[s.status])
            if s.product.vers:
                target = BomTargetVersionRange(range=s.product.vers, status=version_status)
            elif s.product.version:
                target = BomTargetVersionRange(version=s.product.version, status=version_status)
            else:
                target = None
            refs = targets[str(components[base].bom_ref)]
            if target is not None:
                refs.append(target)
        responses = []
        if status is VexStatus.affected:
            fixable = any(
                x.status is VexStatus.fixed and x.product.purl == m.product.purl
                for m in members
                for x in subject.statuses
            )
            responses = [
                ImpactAnalysisResponse.UPDATE if fixable else ImpactAnalysisResponse.CAN_NOT_FIX
            ]
        bom.vulnerabilities.add(
            Vulnerability(
                bom_ref=f"{subject.cve or subject.id}#{n}",
                id=subject.cve or subject.id,
                source=VulnerabilitySource(
                    name=str(PUBLISHER["name"]),
                    url=XsUri(f"{PUBLISHER['namespace']}/v1/vulns/{subject.id}"),
                ),
                description=subject.description,
                published=datetime.fromisoformat(subject.published),
                updated=stamp,
                analysis=VulnerabilityAnalysis(
                    state=ImpactAnalysisState(CDX_STATE[status]),
                    justification=ImpactAnalysisJustification(CDX_JUSTIFICATION[justification])
                    if justification
                    else None,
                    responses=responses,
                    detail=detail,
                ),
                affects=[BomTarget(ref=ref, versions=v) for ref, v in targets.items()],
            )
        )
    result: dict[str, Any] = json.loads(JsonV1Dot6(bom).output_as_string())
    return result


# --- CSAF 2.0 VEX -------------------------------------------------------------------------

CSAF_STATUS = {
    VexStatus.affected: "known_affected",
    VexStatus.not_affected: "known_not_affected",
    VexStatus.fixed: "fixed",
    VexStatus.under_investigation: "under_investigation",
}


def to_csaf_vex(subject: VexSubject, advisory: dict[str, Any]) -> dict[str, Any]:
    """A CSAF 2.0 `csaf_vex` document: the document part (publisher, tracking, references),
    the vulnerability's identity (cve, ids, notes, cwe, references) taken from `advisory` (the
    record's CSAF security advisory, so both share one mapping of those), and the product tree,
    product statuses, flags, threats and remediations from the status model."""
    ids: dict[ProductStatus, str] = {}
    branches: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for n, s in enumerate(subject.statuses, 1):
        pid = ids[s] = f"CSAFPID-{n:04d}"
        product: dict[str, Any] = {"name": s.product.label, "product_id": pid}
        helper = {}
        if s.product.versioned_purl:
            helper["purl"] = s.product.versioned_purl
        if s.product.cpe:
            helper["cpe"] = s.product.cpe
        if helper:
            product["product_identification_helper"] = helper
        if s.product.vers:
            leaf = {"category": "product_version_range", "name": s.product.vers}
        else:
            leaf = {"category": "product_version", "name": s.product.version or "unspecified"}
        branches[s.product.vendor or "unspecified"][s.product.name].append(
            {**leaf, "product": product}
        )
    tree = {
        "branches": [
            {
                "category": "vendor",
                "name": vendor,
                "branches": [
                    {"category": "product_name", "name": name, "branches": leaves}
                    for name, leaves in products.items()
                ],
            }
            for vendor, products in branches.items()
        ]
    }
    status: dict[str, list[str]] = defaultdict(list)
    for s, pid in ids.items():
        status[CSAF_STATUS[s.status]].append(pid)
    base = advisory["vulnerabilities"][0]
    vuln: dict[str, Any] = {
        k: base[k] for k in ("cve", "ids", "notes", "cwe", "references", "title") if k in base
    }
    vuln["product_status"] = dict(status)
    flags: dict[str, list[str]] = defaultdict(list)
    threats = []
    remediations: dict[str, list[str]] = defaultdict(list)
    for s, pid in ids.items():
        if s.status is VexStatus.not_affected:
            if s.justification:
                flags[s.justification.value].append(pid)
            else:
                threats.append(
                    {
                        "category": "impact",
                        "details": s.impact_statement or "Not affected.",
                        "product_ids": [pid],
                    }
                )
        if s.status is VexStatus.affected:
            remediations[s.action_statement or NO_FIX_ACTION].append(pid)
    if flags:
        vuln["flags"] = [{"label": k, "product_ids": v} for k, v in flags.items()]
    if threats:
        vuln["threats"] = threats
    if remediations:
        vuln["remediations"] = [
            {
                "category": "none_available" if details == NO_FIX_ACTION else "vendor_fix",
                "details": details,
                "product_ids": pids,
            }
            for details, pids in remediations.items()
        ]
    tracking = dict(advisory["document"]["tracking"])
    # the status model's dates: placeholder dates (year 0001) are already clamped there
    tracking["initial_release_date"] = subject.published
    tracking["current_release_date"] = subject.modified
    tracking["revision_history"] = [
        {**rev, "date": subject.published if n == 0 else subject.modified}
        for n, rev in enumerate(tracking.get("revision_history") or [])
    ]
    document = {**advisory["document"], "category": "csaf_vex", "tracking": tracking}
    return {"document": document, "product_tree": tree, "vulnerabilities": [vuln]}
