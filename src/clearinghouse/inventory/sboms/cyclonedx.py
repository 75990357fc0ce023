"""CycloneDX 1.2-1.6, JSON and XML, through cyclonedx-python-lib: validated against the schema
the library ships for the document's version, then deserialised with the library's model.

JSON is validated with `jsonschema_rs` against the library's own bundled schema files (the
same schemas and referenced SPDX/JSF definitions its `JsonValidator` loads): the library's
validator (the pure-Python `jsonschema`) took minutes on a 1,000-component BOM, this takes
milliseconds. XML goes through the library's `XmlValidator` (lxml, no network, no entities),
after `defusedxml` has refused DTDs and entity tricks."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator
from typing import Any

import jsonschema_rs
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component as CdxComponent
from cyclonedx.schema import OutputFormat, SchemaVersion
from cyclonedx.schema._res import BOM_JSON, CRYPTOGRAPHY_DEFS, JSF, SPDX_JSON
from cyclonedx.validation import make_schemabased_validator
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError
from defusedxml.ElementTree import fromstring as safe_fromstring

from clearinghouse.inventory.sboms.document import (
    ParsedSbom,
    RawComponent,
    SbomInvalid,
    check_count,
)

VERSIONS = {
    "1.2": SchemaVersion.V1_2,
    "1.3": SchemaVersion.V1_3,
    "1.4": SchemaVersion.V1_4,
    "1.5": SchemaVersion.V1_5,
    "1.6": SchemaVersion.V1_6,
}
XML_NAMESPACE = "http://cyclonedx.org/schema/bom/"
_SCHEMA_PREFIX = "http://cyclonedx.org/schema/"


def _unsupported(version: object) -> SbomInvalid:
    return SbomInvalid(
        f"CycloneDX specVersion {str(version)[:20]!r} is not supported "
        f"(supported: {', '.join(VERSIONS)})"
    )


def _load(path: str) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


@functools.cache
def _json_validator(version: SchemaVersion) -> jsonschema_rs.Draft7Validator:
    registry = jsonschema_rs.Registry(
        [
            (f"{_SCHEMA_PREFIX}spdx.SNAPSHOT.schema.json", _load(SPDX_JSON)),
            (f"{_SCHEMA_PREFIX}jsf-0.82.SNAPSHOT.schema.json", _load(JSF)),
            (
                f"{_SCHEMA_PREFIX}cryptography-defs.SNAPSHOT.schema.json",
                _load(CRYPTOGRAPHY_DEFS),
            ),
        ]
    )
    path = BOM_JSON[version]
    assert path is not None
    return jsonschema_rs.Draft7Validator(
        _load(path), registry=registry, validate_formats=True, offline=True
    )


def _where(path: Iterable[object]) -> str:
    return "/" + "/".join(str(p) for p in path)


def _count_json(components: object) -> int:
    """Components, nested ones included, before anything is deserialised (the size limit)."""
    n, stack = 0, [components]
    while stack:
        items = stack.pop()
        if isinstance(items, list):
            for c in items:
                n += 1
                if isinstance(c, dict):
                    stack.append(c.get("components"))
    return n


def _walk(components: Iterable[CdxComponent]) -> Iterator[RawComponent]:
    for c in components:
        yield RawComponent(
            name=c.name,
            version=c.version,
            purl=c.purl.to_string() if c.purl is not None else None,
            bom_ref=c.bom_ref.value if c.bom_ref is not None else None,
        )
        yield from _walk(c.components)


def parse_json(doc: dict[str, Any], *, max_components: int) -> ParsedSbom:
    version = VERSIONS.get(str(doc.get("specVersion")))
    if version is None:
        raise _unsupported(doc.get("specVersion"))
    error = next(iter(_json_validator(version).iter_errors(doc)), None)
    if error is not None:
        raise SbomInvalid(
            f"the document does not match the CycloneDX {version.to_version()} JSON schema at "
            f"{_where(error.instance_path)}: {error.message[:300]}"
        )
    check_count(_count_json(doc.get("components")), max_components)
    try:
        components = list(_walk(Bom.from_json(doc).components))  # type: ignore[attr-defined]
    except Exception:  # the model cannot hold it: see _json_components
        components = list(_json_components(doc.get("components") or []))
    return ParsedSbom("cyclonedx", version.to_version(), "json", components)


def parse_xml(data: bytes, *, max_components: int) -> ParsedSbom:
    try:
        root = safe_fromstring(data)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise SbomInvalid(f"the XML is not well-formed or uses DTDs/entities: {exc}") from exc
    namespace, _, local = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", "")
    if local != "bom" or not namespace.startswith(XML_NAMESPACE):
        raise SbomInvalid("the XML is not a CycloneDX BOM (root <bom> in its namespace)")
    version = VERSIONS.get(namespace[len(XML_NAMESPACE) :])
    if version is None:
        raise _unsupported(namespace[len(XML_NAMESPACE) :])
    validator = make_schemabased_validator(OutputFormat.XML, version)
    try:
        error = validator.validate_str(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SbomInvalid(f"the XML could not be validated: {exc}"[:400]) from exc
    if error is not None:
        raise SbomInvalid(
            f"the document does not match the CycloneDX {version.to_version()} XML schema: "
            f"{str(error)[:300]}"
        )
    check_count(sum(1 for e in root.iter(f"{{{namespace}}}component")), max_components)
    try:
        components = list(_walk(Bom.from_xml(root).components))  # type: ignore[attr-defined]
    except Exception:  # the model cannot hold it: see _json_components
        components = list(_xml_components(root, namespace))
    return ParsedSbom("cyclonedx", version.to_version(), "xml", components)


# The library's model cannot represent a few schema-valid documents (the official test
# documents valid-saasbom-1.5/1.6, valid-external-elements-*, valid-cryptography-full-1.6: it
# raises on data classifications, elements from other namespaces, crypto bom-refs). A document
# the schema accepts is not refused for that: its components are read from the validated tree
# itself (the schema guarantees their shape: name, version, purl, bom-ref).
def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _json_components(items: list[Any]) -> Iterator[RawComponent]:
    for c in items:
        if isinstance(c, dict):
            yield RawComponent(
                _text(c.get("name")),
                _text(c.get("version")),
                _text(c.get("purl")),
                _text(c.get("bom-ref")),
            )
            yield from _json_components(c.get("components") or [])


def _xml_components(root: Any, namespace: str) -> Iterator[RawComponent]:
    ns = f"{{{namespace}}}"

    def walk(parent: Any) -> Iterator[RawComponent]:
        holder = parent.find(f"{ns}components")
        for c in holder.findall(f"{ns}component") if holder is not None else ():
            yield RawComponent(
                c.findtext(f"{ns}name"),
                c.findtext(f"{ns}version"),
                c.findtext(f"{ns}purl"),
                c.get("bom-ref"),
            )
            yield from walk(c)

    yield from walk(root)
