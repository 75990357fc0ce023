"""The clearinghouse as a CNA (issue 14, part 6): CVE ids reserved from CVE Services with
`cvelib`, published with our CNA container at publication, rejected when unused, after the
first-refusal step of CNA rules 4.2.1 (docs/cna.md).

- `client`: cvelib's `CveApi` with every request sent through the outbound policy;
- `scopes`: the first-refusal table (which CNA owns which products);
- `ids`: the services (reserve, list, show, publish, reject, first-refusal decisions);
- `models`, `schemas`, `errors`.
"""
