"""The CSAF trusted provider (CSAF 2.0 section 7, role `csaf_trusted_provider`): `files` (the
metadata files, pure), `signing` (OpenPGP through GnuPG), `directory` (the directory built as
files, incrementally) and `serving` (one file for an HTTP request, with its access rule).
docs/csaf.md describes the layout."""

from clearinghouse.vulns.publication.provider.directory import BuildResult, build

__all__ = ["BuildResult", "build"]
