"""Publishing records in the formats that real tools consume.

- `osv`: OSV 1.7 JSON (osv-scanner, pip-audit, Dependency-Track's OSV mirror);
- `csaf`: CSAF 2.0 `csaf_security_advisory` and `csaf_vex` (valid under `csaf validate`);
- `cve5`: CVE JSON 5.1 (valid against the CVE JSON 5.1.1 schema);
- `stix`: a STIX 2.1 bundle with the OASIS TLP 2.0 marking-definition objects;
- `dump`: the osv.dev bucket layout (`<Ecosystem>/all.zip`, `ecosystems.txt`,
  `modified_id.csv`) that osv-scanner's offline mode and Dependency-Track read;
- `export`: the operations (one record in a format; the stream of public records for a dump).

The mappings are ours (no maintained Python converter exists); each is checked against its
format's validator in the tests.
"""
