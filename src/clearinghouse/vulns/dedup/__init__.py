"""Finding records that describe the same vulnerability, and merging them.

Rules, strongest first (each candidate pair carries the rule that found it and a score):

- `alias`: the records share an id or alias (CVE, GHSA, ...). Score 1.0.
- `package_range_cwe`: the same normalised affected packages, ranges/versions and CWEs
  (`affected_signature`, computed when a record is stored). Score 1.0.
- `crash`: the same crash signature. Sandbox reproduction (a later issue) fills the field in;
  coordinators may set it by hand meanwhile. Score 1.0.
- `text`: near-duplicate wording, by MinHash LSH (datasketch) over word shingles of the
  normalised summary and details, combined with the overlap of the affected packages. This is
  the rule that catches the same finding reported twice in different words by two models.
  Two records that both carry CVE ids, and share none, are never text candidates: a CVE names
  one vulnerability, and a project's advisories are often written from one template (the
  TensorFlow and Go standard library advisories read alike and differ in their CVE).

Candidates are only proposals: a coordinator merges them into one alias set (the primary is
chosen deterministically) or rejects them, and a merge can be undone.

Modules: `similarity` (the MinHash LSH text index), `candidates` (the scan by the exact rules
and the text index; the candidate queue), `merges` (merge and undo).
"""
