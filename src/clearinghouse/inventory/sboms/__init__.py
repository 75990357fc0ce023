"""SBOM intake: CycloneDX (JSON, XML) and SPDX 2 (JSON, tag-value), validated, read into
components, and normalised to OSV packages."""
