"""Grounding: the claims a report makes about code, checked against a real source tree.

The adversaries: an invented function, a real function in an invented file, a line past the end
of the file or outside the function it names, a spray of names, a path that climbs out of the
tree or a link that points out of it, a report too long to read, and arbitrary text.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clearinghouse.vulns.signals.errors import SignalInputInvalid
from clearinghouse.vulns.signals.grounding import (
    MAX_CHECKED,
    MAX_TEXT_CHARS,
    ClaimKind,
    GroundingVerdict,
    extract_claims,
    ground,
)
from clearinghouse.vulns.signals.source_index import SourceIndex

REPO = Path(__file__).resolve().parents[3]
HEAP = REPO / "examples" / "recipes" / "c-heap-overflow" / "vulnerable"
UAF = REPO / "examples" / "recipes" / "c-use-after-free" / "vulnerable"

PY_MODULE = '''"""A tiny package."""
import os
from .util import helper, other as renamed

LIMIT = 16


class Parser:
    """Parses things."""

    def parse_header(self, data):
        """Docstring with text
at column 0, which must not end the method."""
        return data[:LIMIT]

    def parse_body(
        self,
        data,
    ):
        return helper(data)


def load(stream):
    return Parser().parse_header(stream)
'''


@pytest.fixture(scope="module")
def heap() -> SourceIndex:
    return SourceIndex.build(HEAP)


@pytest.fixture
def pytree(tmp_path: Path) -> SourceIndex:
    pkg = tmp_path / "src" / "tinypkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .core import load\n")
    (pkg / "core.py").write_text(PY_MODULE)
    (pkg / "util.py").write_text("def helper(x):\n    return x\n\n\ndef other():\n    pass\n")
    return SourceIndex.build(tmp_path)


def kinds(text: str) -> list[tuple[str, str]]:
    return [(c.kind.value, c.name) for c in extract_claims(text).claims]


def test_the_index_finds_c_functions_with_their_spans_and_the_calls_they_make(
    heap: SourceIndex,
) -> None:
    assert [(d.path, d.line, d.end_line) for d in heap.defined("store_field")] == [
        ("records.c", 17, 23)
    ]
    assert [(d.line, d.end_line) for d in heap.defined("parse_records")] == [(25, 44)]
    assert heap.files == {"records.c": 65}
    assert "memcpy" in heap.calls and not heap.defined("memcpy")
    # the comment above says "store_field() accepts a value": a comment is not a definition
    assert len(heap.defined("store_field")) == 1


def test_the_index_finds_python_definitions_methods_imports_and_spans(
    pytree: SourceIndex,
) -> None:
    (method,) = pytree.defined("parse_header")
    assert (method.path, method.kind) == ("src/tinypkg/core.py", "function")
    assert method.end_line == 14  # the docstring's column-0 line did not end it
    (body,) = pytree.defined("parse_body")
    assert body.end_line == 20  # the multi-line signature's `):` did not end it
    assert {d.kind for d in pytree.defined("load")} == {"function", "import"}
    assert [d.kind for d in pytree.defined("renamed")] == ["import"]
    assert [d.kind for d in pytree.defined("LIMIT")] == ["assignment"]


def test_a_genuine_report_with_a_sanitizer_trace_is_grounded(heap: SourceIndex) -> None:
    text = (
        "Off-by-one heap overflow in store_field() (records.c:21): a 16-byte name passes the "
        "`len > f->cap` check and the NUL lands one past the malloc(16) buffer. Reached from "
        "parse_records().\n\n```\n==1==ERROR: AddressSanitizer: heap-buffer-overflow\n"
        "    #0 0x4c3a1b in store_field /src/records.c:21:17\n"
        "    #1 0x4c3b2f in parse_records /src/records.c:39:20\n```\n"
        "Run `./records poc.bin`."
    )
    g = ground(text, heap)
    assert g.verdict is GroundingVerdict.grounded, g.missing()
    assert g.score == 1.0
    lines = [c for c in g.checked if c.kind is ClaimKind.line]
    assert lines and all("inside" in c.note for c in lines)
    assert "poc.bin" not in [c.claim for c in g.checked]  # an attachment, not a claim


def test_a_report_naming_a_function_that_does_not_exist_is_ungrounded(heap: SourceIndex) -> None:
    g = ground("Stack overflow in parse_header_ext() when the header is long.", heap)
    assert g.verdict is GroundingVerdict.ungrounded
    (check,) = g.checked
    assert (check.kind, check.found) == (ClaimKind.function, False)
    assert "neither defined nor called" in check.note


def test_a_real_function_in_a_file_that_does_not_exist_is_partly_grounded(
    heap: SourceIndex,
) -> None:
    g = ground("The overflow is in store_field() in src/record_parser.c.", heap)
    assert g.verdict is GroundingVerdict.partly_grounded
    found = {c.kind: c.found for c in g.checked}
    assert found == {ClaimKind.file: False, ClaimKind.function: True}


def test_a_real_function_placed_in_the_wrong_real_file_is_not_found(tmp_path: Path) -> None:
    (tmp_path / "a.c").write_text("static int alpha(void) { return 0; }\n")
    (tmp_path / "b.c").write_text("static int beta(void) { return 1; }\n")
    g = ground("The bug is in alpha() in b.c.", SourceIndex.build(tmp_path))
    (function,) = [c for c in g.checked if c.kind is ClaimKind.function]
    assert not function.found and "defined in a.c, not in b.c" in function.note
    assert g.verdict is GroundingVerdict.partly_grounded


def test_a_line_past_the_end_or_outside_the_named_function_is_not_found(
    heap: SourceIndex,
) -> None:
    past = ground("See records.c:420 for the copy.", heap)
    assert [c.found for c in past.checked if c.kind is ClaimKind.line] == [False]
    assert "past the end" in past.checked[-1].note
    outside = ground("store_field() writes past the buffer at records.c:50.", heap)
    (line,) = [c for c in outside.checked if c.kind is ClaimKind.line]
    assert not line.found and "outside store_field (records.c:17-23)" in line.note
    inside = ground("store_field() writes past the buffer at lines 20-21 of records.c.", heap)
    assert inside.verdict is GroundingVerdict.grounded


def test_python_dotted_names_must_be_defined_by_the_module_they_name(
    pytree: SourceIndex,
) -> None:
    good = ground(
        "`tinypkg.core.Parser.parse_header` slices without a check; tinypkg.load(x).", pytree
    )
    assert good.verdict is GroundingVerdict.grounded, good.missing()
    bad = ground("`tinypkg.core.SafeParser` is bypassed.", pytree)
    assert bad.verdict is GroundingVerdict.ungrounded
    assert "tinypkg.core does not define SafeParser" in bad.checked[0].note
    # the standard library is outside the tree: not a claim either way
    external = ground("It ends in `os.system` via subprocess.Popen(cmd).", pytree)
    assert external.verdict is GroundingVerdict.no_claims
    assert "os.system" in external.ignored


def test_a_traceback_is_read_and_the_stdlib_frames_are_not_claims(pytree: SourceIndex) -> None:
    text = (
        'Traceback (most recent call last):\n  File "poc.py", line 3, in <module>\n'
        '  File "/usr/lib/python3.11/json/decoder.py", line 337, in decode\n'
        '  File "/venv/lib/python3.11/site-packages/tinypkg/core.py", line 14, in parse_header\n'
    )
    g = ground(text, pytree)
    assert g.verdict is GroundingVerdict.grounded, g.checked
    assert {c.kind for c in g.checked} == {ClaimKind.file, ClaimKind.line, ClaimKind.function}


def test_the_reports_own_code_is_not_a_claim(pytree: SourceIndex) -> None:
    text = (
        "PoC:\n```python\ndef make_payload(n):\n    return b'A' * n\n"
        "tinypkg.load(make_payload(64))\n```\nmake_payload() builds the input."
    )
    g = ground(text, pytree)
    assert [c.claim for c in g.checked] == ["tinypkg.load"]
    assert "make_payload" in g.ignored


def test_a_report_that_names_nothing_has_no_claims(heap: SourceIndex) -> None:
    g = ground(
        "A critical memory corruption vulnerability allows remote attackers to execute "
        "arbitrary code via a crafted file. CVSS 9.8.",
        heap,
    )
    assert g.verdict is GroundingVerdict.no_claims and g.score is None


def test_a_spray_of_random_names_is_not_grounded(heap: SourceIndex) -> None:
    names = [f"handler_{i:03d}_fn()" for i in range(200)]
    g = ground("Possible issues in: " + ", ".join(names), heap)
    assert g.verdict is GroundingVerdict.ungrounded
    assert len(g.checked) == MAX_CHECKED and g.claims == 200


def test_a_spray_that_includes_every_real_name_is_still_not_grounded(
    heap: SourceIndex,
) -> None:
    real = ["store_field()", "parse_records()", "main()", "memcpy()", "records.c"]
    invented = [f"check_{i}()" for i in range(60)]
    g = ground(" ".join(real + invented), heap)
    assert g.verdict is not GroundingVerdict.grounded
    # and the real names alone, repeated many times, cannot pass the spray cap either way
    only_real = ground(" ".join(real * 50), heap)
    assert only_real.verdict is GroundingVerdict.grounded and only_real.claims == len(real)


def test_many_distinct_real_locations_are_capped_as_a_spray(tmp_path: Path) -> None:
    (tmp_path / "big.c").write_text(
        "".join(f"int f{i}(void) {{ return {i}; }}\n" for i in range(100))
    )
    g = ground(" ".join(f"f{i}()" for i in range(100)), SourceIndex.build(tmp_path))
    assert g.score == 1.0
    assert g.verdict is GroundingVerdict.partly_grounded
    assert any("never grounded" in n for n in g.notes)


def test_a_path_that_climbs_out_of_the_tree_never_reads_outside_it(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "main.c").write_text("int main(void) { return 0; }\n")
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "leak.c").write_text("int leak_me(void) { return 42; }\n" * 10)
    (tree / "link").symlink_to(outside, target_is_directory=True)
    (tree / "leak_link.c").symlink_to(outside / "leak.c")
    index = SourceIndex.build(tree)
    assert set(index.files) == {"main.c"}  # neither link was followed
    text = (
        "leak_me() in ../secret/leak.c:5 and ../../etc/passwd and /etc/shadow, "
        "link/leak.c:3, leak_link.c:1"
    )
    g = ground(text, index)
    assert g.verdict is GroundingVerdict.ungrounded
    assert not any(c.found for c in g.checked)


def test_the_index_does_not_follow_a_link_swapped_in_for_a_file(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tmp_path / "outside.c").write_text("int outside_fn(void) { return 1; }\n")
    os.symlink(tmp_path / "outside.c", tree / "inner.c")
    index = SourceIndex.build(tree)
    assert index.files == {} and not index.defined("outside_fn")


def test_a_tree_that_is_not_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SignalInputInvalid) as err:
        SourceIndex.build(tmp_path / "missing")
    assert err.value.code == "source_tree_invalid"


def test_huge_report_text_is_bounded(heap: SourceIndex) -> None:
    text = ("store_field() " + "A" * 1000 + " ") * 5000 + "parse_header_ext()"  # ~5 MB
    start = time.monotonic()
    g = ground(text, heap)
    assert time.monotonic() - start < 10
    assert g.text_truncated and any(str(MAX_TEXT_CHARS) in n for n in g.notes)
    assert "parse_header_ext()" not in [c.claim for c in g.checked]  # past the bound: not read


def test_pathological_inputs_stay_fast(heap: SourceIndex) -> None:
    for text in (
        "a." * 40_000 + "(",
        "`" + "a" * 90_000,
        "/".join(["x"] * 40_000) + ".c",
        "line " * 20_000,
        "(" * 50_000 + ")" * 50_000,
        "```\n" + "def a" * 15_000,
    ):
        start = time.monotonic()
        ground(text, heap)
        assert time.monotonic() - start < 5, text[:20]


def test_a_c_source_with_an_unterminated_comment_indexes_in_linear_time(tmp_path: Path) -> None:
    (tmp_path / "bad.c").write_text("/* " * 200_000)
    start = time.monotonic()
    SourceIndex.build(tmp_path)
    assert time.monotonic() - start < 5


def test_claims_read_from_the_usual_notations() -> None:
    text = (
        "See src/parser.c#L120-L140, lib/util.h line 7, lines 3 to 9 of io.c and "
        "`Foo::bar()`, the `decode_chunk` method, def parse_tag, class TagParser."
    )
    found = kinds(text)
    assert ("line", "src/parser.c") in found and ("file", "lib/util.h") in found
    assert ("line", "io.c") in found
    assert {("function", "bar"), ("function", "decode_chunk"), ("function", "parse_tag")} <= set(
        found
    )
    assert ("function", "TagParser") in found
    lines = [c for c in extract_claims(text).claims if c.kind is ClaimKind.line]
    assert {(c.start, c.end) for c in lines} == {(120, 140), (7, 7), (3, 9)}


def test_prose_words_are_not_claims() -> None:
    text = (
        "The function is called when the value(s) overflow (see the header). "
        "If (x) the method returns. print(x) and len(buf) are builtins. sizeof(int)."
    )
    assert kinds(text) == []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=3000))
def test_the_claim_extractor_never_raises_on_any_text(text: str) -> None:
    extraction = extract_claims(text)
    for claim in extraction.claims:
        assert claim.kind in ClaimKind


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(
            [
                "records.c",
                ":",
                "21",
                "-",
                "L",
                "#L",
                "line ",
                "of ",
                "()",
                "(",
                ")",
                "`",
                "store_field",
                "a.b.c",
                "\n",
                "```",
                "def ",
                "class ",
                'File "',
                '", line ',
                ", in ",
                "#0 0x1 in ",
                " ",
                "..",
                "/",
                "\\",
                "\u2013",
                "x" * 50,
            ]
        ),
        max_size=80,
    )
)
def test_grounding_never_raises_on_notation_soup(parts: list[str]) -> None:
    g = ground("".join(parts), SourceIndex.build(HEAP))
    assert g.verdict in GroundingVerdict
    assert g.score is None or 0.0 <= g.score <= 1.0


def test_another_tree_does_not_ground_this_report() -> None:
    """The same genuine report checked against another program's source is ungrounded."""
    g = ground(
        "Off-by-one in store_field() (records.c:21), from parse_records().", SourceIndex.build(UAF)
    )
    assert g.verdict is GroundingVerdict.ungrounded


def test_trace_frames_outside_the_tree_are_not_claims(pytree: SourceIndex) -> None:
    """A traceback or sanitizer trace also shows the caller's code, libraries and the runtime:
    a frame is a claim only when its file is in the tree."""
    text = (
        '  File "/srv/app/verify.py", line 14, in check_signature\n'
        '  File "/venv/site-packages/tinypkg/core.py", line 14, in parse_header\n'
        "    #0 0x7f2a1c in __interceptor_free\n"
        "    #1 0x4012e3 in app_main /home/me/app/main.c:10\n"
    )
    g = ground(text, pytree)
    assert g.verdict is GroundingVerdict.grounded
    assert all("tinypkg/core.py" in c.claim or c.claim == "parse_header" for c in g.checked)
    assert "__interceptor_free" in g.ignored
    assert any("verify.py" in i and "outside the tree" in i for i in g.ignored)


def test_a_trace_none_of_whose_frames_is_in_the_tree_counts_against_it(heap: SourceIndex) -> None:
    g = ground(
        "    #0 0x4011d6 in parse_header /src/lib/parser.c:88\n"
        "    #1 0x401260 in main /src/tools/cli.c:12\n",
        heap,
    )
    assert g.verdict is GroundingVerdict.partly_grounded  # main() exists, nothing else
    assert [(c.kind.value, c.found) for c in g.checked] == [
        ("file", False),
        ("line", False),
        ("function", False),
        ("file", False),
        ("line", False),
        ("function", True),
    ]


def test_a_forged_trace_inside_the_tree_is_checked(heap: SourceIndex) -> None:
    """A frame in a file of the tree is checked: its line and its function must be real."""
    g = ground("    #1 0x4012e3 in session_destroy /src/records.c:141\n", heap)
    assert [(c.kind, c.found) for c in g.checked] == [
        (ClaimKind.file, True),
        (ClaimKind.line, False),
        (ClaimKind.function, False),
    ]
    assert g.verdict is GroundingVerdict.partly_grounded and g.score == pytest.approx(
        1 / 3, abs=1e-3
    )


def test_bare_snake_case_names_in_prose_are_weak_claims(pytree: SourceIndex) -> None:
    found = ground("The input goes through parse_header and then _private_helper.", pytree)
    assert [(c.claim, c.kind, c.found) for c in found.checked] == [
        ("parse_header", ClaimKind.symbol, True),
        ("_private_helper", ClaimKind.symbol, False),
    ]
    assert found.verdict is GroundingVerdict.partly_grounded and found.score == 0.5
    assert kinds("See user_data/file_name.c, MAX_LEN and a use-after-free.") == [
        ("file", "user_data/file_name.c")
    ]


def test_a_member_access_about_a_c_tree_is_not_a_python_module_path(heap: SourceIndex) -> None:
    g = ground("main() writes `name.buf[0]` without checking malloc().", heap)
    member = next(c for c in g.checked if c.claim == "name.buf")
    assert (member.kind, member.found) == (ClaimKind.symbol, True)
    assert g.verdict is GroundingVerdict.grounded
