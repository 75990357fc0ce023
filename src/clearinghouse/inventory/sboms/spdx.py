"""SPDX 2.2 and 2.3, JSON and tag-value, through spdx-tools: parsed, then validated in full
(`validate_full_spdx_document`); the packages are the components, their purl the
PACKAGE-MANAGER external reference of type "purl". SPDX 3 (JSON-LD) is refused as
unsupported."""

from __future__ import annotations

from typing import Any

from spdx_tools.spdx.model.document import Document
from spdx_tools.spdx.model.package import ExternalPackageRefCategory
from spdx_tools.spdx.parser.error import SPDXParsingError
from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser
from spdx_tools.spdx.parser.tagvalue.parser import Parser as TagValueParser
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from clearinghouse.inventory.sboms.document import (
    ParsedSbom,
    RawComponent,
    SbomInvalid,
    check_count,
)

VERSIONS = ("SPDX-2.2", "SPDX-2.3")


def _parsing_error(exc: SPDXParsingError) -> SbomInvalid:
    messages = exc.get_messages()  # type: ignore[no-untyped-call]
    first = str(messages[0]) if messages else str(exc)
    return SbomInvalid(f"the SPDX document could not be parsed: {first}"[:400])


def _finish(document: Document, media: str, max_components: int) -> ParsedSbom:
    version = document.creation_info.spdx_version
    if version not in VERSIONS:
        raise SbomInvalid(
            f"SPDX version {version[:20]!r} is not supported (supported: {', '.join(VERSIONS)})"
        )
    check_count(len(document.packages), max_components)
    messages = validate_full_spdx_document(document, version)
    if messages:
        first = messages[0]
        where = first.context.spdx_id or first.context.element_type or "document"
        raise SbomInvalid(
            f"the document is not valid {version} ({len(messages)} problems), first at "
            f"{where}: {first.validation_message}"[:400]
        )
    components = []
    for package in document.packages:
        purls = [
            ref.locator
            for ref in package.external_references
            if ref.category == ExternalPackageRefCategory.PACKAGE_MANAGER
            and ref.reference_type == "purl"
        ]
        version_text = package.version if isinstance(package.version, str) else None
        components.append(
            RawComponent(package.name, version_text, purls[0] if purls else None, package.spdx_id)
        )
    return ParsedSbom("spdx", version.removeprefix("SPDX-"), media, components)


def parse_json(doc: dict[str, Any], *, max_components: int) -> ParsedSbom:
    if "@context" in doc or "@graph" in doc:
        raise SbomInvalid("SPDX 3 (JSON-LD) is not supported (supported: SPDX-2.2, SPDX-2.3)")
    if not str(doc.get("spdxVersion", "")).startswith("SPDX-2"):
        raise SbomInvalid(
            f"SPDX version {str(doc.get('spdxVersion'))[:20]!r} is not supported "
            f"(supported: {', '.join(VERSIONS)})"
        )
    packages = doc.get("packages")
    check_count(len(packages) if isinstance(packages, list) else 0, max_components)
    try:
        document = JsonLikeDictParser().parse(doc)  # type: ignore[no-untyped-call]
    except SPDXParsingError as exc:
        raise _parsing_error(exc) from exc
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        # spdx-tools assumes the JSON's shapes in places (a string where it wants a list...)
        raise SbomInvalid(f"the SPDX document could not be parsed: {exc}"[:400]) from exc
    return _finish(document, "json", max_components)


def parse_tag_value(text: str, *, max_components: int) -> ParsedSbom:
    check_count(text.count("\nPackageName:"), max_components)
    try:
        document = TagValueParser().parse(text)  # type: ignore[no-untyped-call]
    except SPDXParsingError as exc:
        raise _parsing_error(exc) from exc
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise SbomInvalid(f"the SPDX document could not be parsed: {exc}"[:400]) from exc
    return _finish(document, "tag-value", max_components)
