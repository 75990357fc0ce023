"""CSAF 2.0 and 2.1 exports: `document` (the advisory or VEX document of one record) and
`tree` (the product tree, kept from a CSAF import or derived from the record)."""

from clearinghouse.vulns.publication.csaf.document import (
    CSAF20_TLP,
    CSAF_VERSIONS,
    filename,
    release_dates,
    self_url,
    tlp_folder,
    to_csaf,
)

__all__ = [
    "CSAF20_TLP",
    "CSAF_VERSIONS",
    "filename",
    "release_dates",
    "self_url",
    "tlp_folder",
    "to_csaf",
]
