"""Bringing records in: files (`files`), OSV import batches (`osv`), the other advisory formats
(`csaf`, `cve5`) converted to OSV, and the CISA KEV and MITRE CWE catalogs (`kev`, `cwe`).

No maintained library converts between these formats in Python (see
`shared/research/clearinghouse-anchors.md`), so the mappings are written here, against the
specifications. Cross-format conversion is lossy by nature; what does not map is kept under
`database_specific` rather than dropped.
"""
