"""VEX intake (issue 15, part 4): an operator asserts that its asset is `not_affected`, with a
justification, as OpenVEX, CycloneDX VEX or CSAF VEX.

Reading: each format is validated by its library or schema first, and a document that fails is
refused whole (`vex_invalid`) with nothing applied:
- OpenVEX: its JSON schema (0.2.0, shipped in `data/`; jsonschema);
- CycloneDX VEX (JSON): cyclonedx-python-lib's schema validator of the document's version;
- CSAF VEX: the `csaf` package's schema and mandatory tests (`vulns.intake.csaf.validate_csaf`,
  the validator the knowledge base's CSAF import uses).
Each is then read into the status model the VEX exports are written from
(`vulns.publication.vex`: `ProductStatus`, `VexStatus`, `Justification`), with the export's
mappings used in reverse (no second mapping table): what we export reads back as the same
statuses (the round-trip test).

Applying (`apply_to_asset`): a `not_affected` statement applies to each of the asset's open
exposures whose record is named by the statement's vulnerability (its id or an alias) and whose
component is the statement's product (the same purl without version; when the product's purl
carries a version, that version exactly; a range is not evaluated and is reported as skipped).
It needs one of the five justifications OpenVEX and CSAF share (a CycloneDX justification
outside their mapping is skipped, with the reason). Every applied statement is an
`ExposureEvent` with evidence {format, document sha256, statement}, and one audit event
records the document; all in the caller's transaction.

A vendor's VEX (`apply_for_case`) has a bounded authority. The product keeps no registry of
which packages a vendor makes, so a vendor does not speak for "its products" at large: it
speaks in a coordination case in which it is a vendor participant (the policy's
`case:vendor-status`; coordinators are not vendors and are refused), and its statements apply
only to the case's records (our id, source id or an alias) and only to the packages those
records name in their OSV `affected` (ecosystem and normalised name, from the purl without
version). Any other statement is skipped with its reason ("not a record of this case", "not a
product of this case"), so a vendor cannot close exposures to another vendor's package. An
applicable `not_affected` statement with one of the five justifications closes every
operator's open (open, in progress) exposure of those records whose component it covers (the
operator rule above); risk-accepted, mitigated and closed exposures are left alone, and an
operator may reopen (`not_affected` -> `open`), and a vendor's VEX never closes an exposure its
operator reopened (replayed or new: the operator's judgement stands). Each closure is an `ExposureEvent` by the
vendor's user with evidence {asserted_by: "vendor", vendor_org_id, case_id, format, sha256,
statement}. The answer, the case timeline event (`vendor_vex`) and its audit event say what
happened to each statement and never which exposures or operators it touched, nor how many.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import Action, Principal, Target, authorize
from clearinghouse.audit import trail as audit
from clearinghouse.coordination import timeline
from clearinghouse.coordination.access import load_case
from clearinghouse.coordination.models import CaseVuln
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import InvalidInput
from clearinghouse.core.events import AuditTag
from clearinghouse.core.schemas import check_storable
from clearinghouse.inventory import assets
from clearinghouse.inventory.exposures import TRANSITIONS, apply_status
from clearinghouse.inventory.models import OPEN_STATUSES, Exposure, ExposureEvent, ExposureStatus
from clearinghouse.inventory.schemas_exposures import CaseVexResult, VexResult, VexSkip
from clearinghouse.vulns.models import AffectedPackage, Vulnerability, VulnerabilityAlias
from clearinghouse.vulns.publication.vex import (
    CDX_JUSTIFICATION,
    CDX_STATE,
    CSAF_STATUS,
    Justification,
    Product,
    ProductStatus,
    VexStatus,
)
from clearinghouse.vulns.purls import package_from_purl
from clearinghouse.vulns.records import normalise_name

MAX_BYTES = 16 * 1024**2
SCHEMA = Path(__file__).parent / "data" / "openvex_json_schema_0_2_0.json"

# The exports' mappings, read backwards. CycloneDX's `code_not_present` stands for two of the
# shared labels (component_not_present, vulnerable_code_not_present); read back it is the
# second, which is what CycloneDX says ("the code has been removed or tree-shaken").
_FROM_CDX_STATE = {v: k for k, v in CDX_STATE.items()}
_FROM_CDX_JUSTIFICATION = {v: k for k, v in CDX_JUSTIFICATION.items()}  # the last listed wins
_FROM_CSAF_STATUS = {v: k for k, v in CSAF_STATUS.items()}


class VexInvalid(InvalidInput):
    """The document is not a valid OpenVEX, CycloneDX VEX or CSAF VEX (code `vex_invalid`)."""

    default_code = "vex_invalid"
    title = "Invalid VEX document"


@dataclass(frozen=True)
class Statement:
    """One product's status for one vulnerability (named by its id and aliases)."""

    names: frozenset[str]
    status: ProductStatus
    source: dict[str, Any]  # the statement as the document says it, for the evidence


@dataclass(frozen=True)
class VexDocument:
    format: str  # openvex | cyclonedx | csaf
    sha256: str
    statements: tuple[Statement, ...]


# --- reading ---------------------------------------------------------------------------------


@cache
def _openvex_validator() -> Any:
    import jsonschema

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def _justification(value: Any) -> Justification | None:
    try:
        return Justification(value) if value else None
    except ValueError:
        return None


def _purl_product(purl: str | None, name: str | None = None) -> Product:
    """A product from a (maybe versioned) purl: unversioned purl plus version."""
    if not purl:
        return Product(name=name or "")
    from packageurl import PackageURL

    try:
        parsed = PackageURL.from_string(purl)
    except ValueError:
        return Product(name=name or purl)
    base = PackageURL(parsed.type, parsed.namespace, parsed.name).to_string()
    return Product(name=name or parsed.name, purl=base, version=parsed.version)


def _openvex(doc: dict[str, Any]) -> list[Statement]:
    error = next(iter(_openvex_validator().iter_errors(doc)), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        raise VexInvalid(f"not a valid OpenVEX 0.2.0 document at {where}: {error.message[:300]}")
    out = []
    for st in doc.get("statements") or []:
        vuln = st.get("vulnerability") or {}
        names = frozenset(n for n in [vuln.get("name"), *(vuln.get("aliases") or [])] if n)
        for product in st.get("products") or []:
            purl = (product.get("identifiers") or {}).get("purl") or product.get("@id")
            p = _purl_product(purl if str(purl).startswith("pkg:") else None, None)
            notes = str(st.get("status_notes") or "")
            if notes.startswith("versions vers:"):
                p = Product(name=p.name, purl=p.purl, vers=notes.removeprefix("versions "))
            status = ProductStatus(
                p,
                VexStatus(st["status"]),
                _justification(st.get("justification")),
                st.get("impact_statement"),
                st.get("action_statement"),
            )
            out.append(Statement(names, status, {"statement": st}))
    return out


def _cyclonedx(doc: dict[str, Any]) -> list[Statement]:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    versions = {"1.4": SchemaVersion.V1_4, "1.5": SchemaVersion.V1_5, "1.6": SchemaVersion.V1_6}
    version = versions.get(str(doc.get("specVersion")))
    if version is None:
        raise VexInvalid("CycloneDX VEX must be specVersion 1.4, 1.5 or 1.6 (JSON)")
    error = JsonStrictValidator(version).validate_str(json.dumps(doc))
    if error is not None:
        raise VexInvalid(
            f"not a valid CycloneDX {version.to_version()} document: {str(error)[:300]}"
        )
    refs = {
        c.get("bom-ref"): c.get("purl")
        for c in _walk(doc.get("components") or [])
        if isinstance(c, dict)
    }
    out = []
    for v in doc.get("vulnerabilities") or []:
        names = frozenset(
            n for n in [v.get("id"), *(r.get("id") for r in v.get("references") or [])] if n
        )
        analysis = v.get("analysis") or {}
        state = _FROM_CDX_STATE.get(str(analysis.get("state")))
        if state is None:
            continue  # false_positive and states with no VEX status: nothing to say
        justification = _FROM_CDX_JUSTIFICATION.get(str(analysis.get("justification")))
        for target in v.get("affects") or []:
            purl = refs.get(target.get("ref")) or (
                target.get("ref") if str(target.get("ref", "")).startswith("pkg:") else None
            )
            base = _purl_product(purl)
            for ver in target.get("versions") or [{}]:
                p = base
                if ver.get("version"):
                    p = Product(name=base.name, purl=base.purl, version=ver["version"])
                elif ver.get("range"):
                    p = Product(name=base.name, purl=base.purl, vers=ver["range"])
                source = {"vulnerability": v.get("id"), "analysis": analysis, "affects": target}
                out.append(
                    Statement(
                        names,
                        ProductStatus(p, state, justification, analysis.get("detail")),
                        source,
                    )
                )
    return out


def _walk(items: list[Any]) -> list[Any]:
    out = []
    for c in items:
        if isinstance(c, dict):
            out.append(c)
            out += _walk(c.get("components") or [])
    return out


def _csaf(doc: dict[str, Any]) -> list[Statement]:
    from clearinghouse.vulns.errors import FormatError
    from clearinghouse.vulns.intake.csaf import csaf_products, validate_csaf

    if (doc.get("document") or {}).get("category") != "csaf_vex":
        raise VexInvalid("a CSAF document must be of category csaf_vex to be read as VEX")
    try:
        validate_csaf(doc)
    except FormatError as exc:
        raise VexInvalid(str(exc)[:400]) from None
    products = csaf_products(doc.get("product_tree") or {})
    ranges = _csaf_ranges(doc.get("product_tree") or {})
    out = []
    for v in doc.get("vulnerabilities") or []:
        names = frozenset(
            n for n in [v.get("cve"), *(i.get("text") for i in v.get("ids") or [])] if n
        )
        flags = {
            pid: _justification(f.get("label"))
            for f in v.get("flags") or []
            for pid in f.get("product_ids") or []
        }
        impacts = {
            pid: t.get("details")
            for t in v.get("threats") or []
            if t.get("category") == "impact"
            for pid in t.get("product_ids") or []
        }
        for csaf_status, pids in (v.get("product_status") or {}).items():
            status = _FROM_CSAF_STATUS.get(csaf_status)
            if status is None:
                continue  # first_affected, recommended...: no VEX status of ours
            for pid in pids:
                info = products.get(pid) or {}
                base = _purl_product(info.get("purl"), info.get("name"))
                p = Product(
                    name=base.name,
                    purl=base.purl,
                    # the export writes "unspecified" for a product with no version
                    version=base.version
                    or (info.get("version") if info.get("version") != "unspecified" else None),
                    # a range branch is a range however written (vers, or a free-text
                    # specifier CSAF also allows): never read as every version
                    vers=info.get("vers") or ranges.get(pid),
                )
                source = {"vulnerability": v.get("cve"), "product_id": pid, "status": csaf_status}
                out.append(
                    Statement(
                        names, ProductStatus(p, status, flags.get(pid), impacts.get(pid)), source
                    )
                )
    return out


def _csaf_ranges(tree: dict[str, Any]) -> dict[str, str]:
    """product_id -> its `product_version_range` branch name, for the products under such a
    branch and the relationships built on them (`csaf_products` keeps only `vers:` ranges)."""
    out: dict[str, str] = {}

    def walk(branches: list[Any], within: str | None) -> None:
        for b in branches:
            if not isinstance(b, dict):
                continue
            here = str(b.get("name")) if b.get("category") == "product_version_range" else within
            product = b.get("product") or {}
            if here is not None and product.get("product_id"):
                out[product["product_id"]] = here
            walk(b.get("branches") or [], here)

    walk(tree.get("branches") or [], None)
    for rel in tree.get("relationships") or []:
        ranged = out.get(rel.get("product_reference", "")) or out.get(
            rel.get("relates_to_product_reference", "")
        )
        pid = (rel.get("full_product_name") or {}).get("product_id")
        if ranged is not None and pid:
            out[pid] = ranged
    return out


def parse(data: bytes) -> VexDocument:
    """Read and validate a VEX document of any of the three formats (sniffed)."""
    if len(data) > MAX_BYTES:
        raise VexInvalid(f"the document is over {MAX_BYTES} bytes", code="vex_too_large")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise VexInvalid("the document is not UTF-8 JSON (CycloneDX VEX is read as JSON)") from None
    except RecursionError:
        raise VexInvalid("the document is nested too deeply") from None
    if not isinstance(doc, dict):
        raise VexInvalid("the document is not a JSON object")
    try:  # its statements are kept as evidence: no NUL, no lone surrogate
        check_storable(doc)
    except ValueError as exc:
        raise VexInvalid(f"the document holds text that cannot be stored: {exc}") from None
    except RecursionError:
        raise VexInvalid("the document is nested too deeply") from None
    digest = hashlib.sha256(data).hexdigest()
    try:  # the validators (pure-Python jsonschema) recurse with the document's depth
        if str(doc.get("@context", "")).startswith("https://openvex.dev/ns"):
            return VexDocument("openvex", digest, tuple(_openvex(doc)))
        if doc.get("bomFormat") == "CycloneDX":
            return VexDocument("cyclonedx", digest, tuple(_cyclonedx(doc)))
        if isinstance(doc.get("document"), dict) and "csaf_version" in doc["document"]:
            return VexDocument("csaf", digest, tuple(_csaf(doc)))
    except RecursionError:
        raise VexInvalid("the document is nested too deeply") from None
    raise VexInvalid("not OpenVEX (@context), CycloneDX (bomFormat) or CSAF (document)")


# --- applying --------------------------------------------------------------------------------


def _names(session: Session, vuln_ids: set[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {v: {v} for v in vuln_ids}
    for vuln_id, source_id in session.execute(
        select(Vulnerability.id, Vulnerability.source_id).where(Vulnerability.id.in_(vuln_ids))
    ):
        out[vuln_id].add(source_id)
    for vuln_id, alias in session.execute(
        select(VulnerabilityAlias.vuln_id, VulnerabilityAlias.alias).where(
            VulnerabilityAlias.vuln_id.in_(vuln_ids)
        )
    ):
        out[vuln_id].add(alias)
    return out


def _package(purl: str | None) -> tuple[str, str] | None:
    """(OSV ecosystem, normalised name) of an unversioned product purl, as records index it."""
    found = package_from_purl(purl) if purl else None
    if found is None:
        return None
    ecosystem, name, _ = found
    return ecosystem, normalise_name(ecosystem, name)


def _covers(product: Product, e: Exposure) -> bool:
    """The statement's product is the exposure's package (as records index it, so PEP 503
    spellings of one PyPI project are one package), at its version when the product names one.
    An exposure's purl always has an OSV ecosystem: matching opened it through one."""
    key = _package(product.purl)
    if key is None or key != _package(e.purl):
        return False
    return product.version is None or product.version == (
        e.version or _purl_product(e.purl).version
    )


def _refusal(st: Statement) -> str | None:
    """Why a not_affected statement cannot be applied, or None."""
    if st.status.justification is None:
        return "no justification of the five VEX labels"
    if st.status.product.vers:
        return "a version range is not evaluated"
    return None


def _close(
    session: Session,
    e: Exposure,
    st: Statement,
    document: VexDocument,
    actor: str,
    evidence: dict[str, Any],
    now: datetime,
) -> None:
    """One applicable statement closes one exposure as not_affected, with its evidence."""
    assert st.status.justification is not None  # _refusal checked it
    apply_status(
        session,
        e,
        ExposureStatus.not_affected,
        actor=actor,
        note=st.status.impact_statement or f"VEX ({document.format})",
        justification=st.status.justification.value,
        evidence={
            **evidence,
            "format": document.format,
            "sha256": document.sha256,
            "statement": st.source,
        },
        now=now,
    )


def apply_to_asset(session: Session, p: Principal, asset_id: str, data: bytes) -> VexResult:
    """Apply an operator's VEX to one asset's exposures (see the module docstring)."""
    asset = assets.load(session, p, asset_id, Action.asset_read)
    authorize(p, Action.exposure_update, Target("asset", id=asset.id, org_id=asset.org_id))
    document = parse(data)
    candidates = list(
        session.scalars(
            select(Exposure)
            .where(
                Exposure.asset_id == asset.id,
                Exposure.status.in_(
                    [
                        s.value
                        for s, nxt in TRANSITIONS.items()
                        if ExposureStatus.not_affected in nxt
                    ]
                ),
            )
            .order_by(Exposure.id)
            .with_for_update()
        )
    )
    names = _names(session, {e.vuln_id for e in candidates})
    now = utcnow()
    applied: list[str] = []
    skipped: list[VexSkip] = []
    actor = p.user_id or p.org_id or "system"
    for n, st in enumerate(document.statements):
        if st.status.status is not VexStatus.not_affected:
            continue
        if (reason := _refusal(st)) is not None:
            skipped.append(VexSkip(statement=n, reason=reason))
            continue
        for e in candidates:
            if e.id in applied or not (names.get(e.vuln_id, set()) & st.names):
                continue
            if not _covers(st.status.product, e):
                continue
            _close(session, e, st, document, actor, {}, now)
            applied.append(e.id)
    audit.record(
        session,
        AuditTag.INVENTORY_EXPOSURE_VEX,
        actor=p.actor,
        subject_type="asset",
        subject_id=asset.id,
        data={
            "format": document.format,
            "sha256": document.sha256,
            "statements": len(document.statements),
            "applied": applied,
        },
    )
    return VexResult(
        format=document.format,
        sha256=document.sha256,
        statements=len(document.statements),
        applied=applied,
        skipped=skipped,
    )


# --- a vendor's VEX for its case ---------------------------------------------------------------


def _case_packages(session: Session, vuln_ids: set[str]) -> dict[str, set[tuple[str, str]]]:
    """record id -> the (ecosystem, normalised name) packages its OSV `affected` names."""
    out: dict[str, set[tuple[str, str]]] = {v: set() for v in vuln_ids}
    for vuln_id, ecosystem, name in session.execute(
        select(AffectedPackage.vuln_id, AffectedPackage.ecosystem, AffectedPackage.name).where(
            AffectedPackage.vuln_id.in_(vuln_ids)
        )
    ):
        out[vuln_id].add((ecosystem, name))
    return out


def apply_for_case(session: Session, p: Principal, case_id: str, data: bytes) -> CaseVexResult:
    """Apply a vendor's VEX to every operator's open exposures of its case's records and
    packages (see the module docstring). The answer names statements only."""
    case, _ = load_case(session, p, case_id, Action.case_vendor_status)
    document = parse(data)
    vuln_ids = set(session.scalars(select(CaseVuln.vuln_id).where(CaseVuln.case_id == case.id)))
    names = _names(session, vuln_ids)
    packages = _case_packages(session, vuln_ids)
    accepted: list[int] = []
    skipped: list[VexSkip] = []
    targets: list[tuple[Statement, set[str]]] = []
    for n, st in enumerate(document.statements):
        if st.status.status is not VexStatus.not_affected:
            reason: str | None = "only not_affected statements are applied"
        elif (reason := _refusal(st)) is None:
            named = {v for v, known in names.items() if known & st.names}
            package = _package(st.status.product.purl)
            records = {v for v in named if package in packages[v]}
            if not named:
                reason = "not a record of this case"
            elif not records:
                reason = "not a product of this case: its records do not name this package"
            else:
                accepted.append(n)
                targets.append((st, records))
        if reason is not None:
            skipped.append(VexSkip(statement=n, reason=reason))
    if targets:
        exposures = list(
            session.scalars(
                select(Exposure)
                .where(
                    Exposure.vuln_id.in_(sorted({v for _, records in targets for v in records})),
                    Exposure.status.in_(sorted(OPEN_STATUSES)),
                    # One its operator reopened from not_affected stays open: the operator's
                    # judgement of its own deployment stands over any vendor statement,
                    # replayed or new.
                    ~exists().where(
                        ExposureEvent.exposure_id == Exposure.id,
                        ExposureEvent.from_status == ExposureStatus.not_affected.value,
                    ),
                )
                .order_by(Exposure.id)
                .with_for_update()
            )
        )
        evidence = {"asserted_by": "vendor", "vendor_org_id": p.org_id, "case_id": case.id}
        actor = p.user_id or p.org_id or "system"
        now = utcnow()
        closed: set[str] = set()
        for st, records in targets:
            for e in exposures:
                if e.id in closed or e.vuln_id not in records:
                    continue
                if _covers(st.status.product, e):
                    _close(session, e, st, document, actor, evidence, now)
                    closed.add(e.id)
    # the case's parties read the timeline: statements only, never exposures or operators
    timeline.record(
        session,
        p,
        case.id,
        "vendor_vex",
        AuditTag.INVENTORY_EXPOSURE_VEX,
        {
            "vendor_org_id": p.org_id,
            "format": document.format,
            "sha256": document.sha256,
            "statements": len(document.statements),
            "accepted": accepted,
            "skipped": [s.model_dump() for s in skipped],
        },
        tlp=case.tlp,
    )
    return CaseVexResult(
        case_id=case.id,
        format=document.format,
        sha256=document.sha256,
        statements=len(document.statements),
        accepted=accepted,
        skipped=skipped,
    )
