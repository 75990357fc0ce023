"""Triage signals (issue 11, items 4-6): what the evidence says about a vulnerability report, and
the queue ordered by it. Pure logic: no database, no API; the caller passes what it has.

- `source_index`: what a source tree defines (files, line counts, functions and their spans);
- `grounding`: does the code the report names exist in that tree;
- `reproduction`: what a `ValidationResult` says (reproduced, suspect, already fixed);
- `track_record`: the share of a reporter's earlier reports that were validated, with its n;
- `ssvc`: CERT/CC's SSVC Coordinator Triage table 1.0.0, as data, and the mapping to it;
- `signals`: the `TriageSignals` bundle of one report (`compute_signals`);
- `queue`: the ranking with its reasons (`rank`) and the audit sample (`audit_sample`).

docs/triage.md describes the signals, the SSVC mapping, the queue order and the audit sample.
"""
