"""`AdvisoryIndex.match_many` (the batch sweep) gives exactly the answers of `match` (the
reference evaluator, one version at a time), on real advisories and on the odd versions."""

from __future__ import annotations

import gzip
import json
import random

import pytest

from clearinghouse.inventory.matching.engine import AdvisoryIndex, Hit
from clearinghouse.vulns.records import normalise_name
from tests.conftest import shared_data_dir


def test_a_listed_unparseable_version_is_a_hit_without_a_fix() -> None:
    """I2's bug: fixed_on_branch raised on the version, and the listed hit was dropped."""
    record = {
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "x"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0"}]}
                ],
                "versions": ["0.7.11p2", "0.7.1.fix1"],
            }
        ]
    }
    one, many = AdvisoryIndex([("V", record)]), AdvisoryIndex([("V", record)])
    many.match_many([("PyPI", "x", "0.7.11p2"), ("PyPI", "x", "0.7.1.fix1"), ("PyPI", "x", "0.5")])
    for index in (one, many):
        assert index.match("PyPI", "x", "0.7.11p2") == (Hit("V", None),)
        assert index.match("PyPI", "x", "0.7.1.fix1") == (Hit("V", None),)
        assert index.match("PyPI", "x", "0.5") == (Hit("V", "1.0"),)


@pytest.mark.shared_data
def test_match_many_agrees_with_match_on_real_advisories() -> None:
    records = []
    components: set[tuple[str, str, str]] = set()
    for name in (
        "osv-pypa/osv-pypa.jsonl.gz",
        "osv-go/osv-go.jsonl.gz",
        "rustsec/osv-rustsec.jsonl.gz",
    ):
        for line in gzip.open(shared_data_dir() / name, "rt"):
            rec = json.loads(line)
            records.append((rec["id"], rec))
            for a in rec.get("affected", []):
                pkg = a.get("package") or {}
                if "ecosystem" not in pkg:
                    continue
                key = (pkg["ecosystem"], normalise_name(pkg["ecosystem"], pkg["name"]))
                seen = list(a.get("versions", []))
                for r in a.get("ranges", []):
                    seen += [
                        v for e in r.get("events", []) for v in e.values() if v not in ("0", "*")
                    ]
                for v in seen:
                    components.update({(*key, v), (*key, "v" + v), (*key, v + ".1")})
    sample = random.Random(15).sample(sorted(components), 4000)
    reference, batch = AdvisoryIndex(records), AdvisoryIndex(records)
    batch.match_many(sample)
    assert batch.evaluations == len(sample)  # all answered by the sweep
    differ = [c for c in sample if batch.match(*c) != reference.match(*c)]
    assert differ == []
    assert reference.errors == batch.errors
