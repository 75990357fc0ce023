"""Grounding: does the code a report names exist in the target's source?

The classic invented report names a function, a file or a line that the project does not have.
`extract_claims()` reads the claims out of the report's text, `check_claims()` looks each one up
in the tree's `SourceIndex`, and the verdict says how much of what the report names is real:

- `grounded`: every claim was found, at least one of them a strong one (a file, a line, a
  function, a module attribute, a crash frame), and the report does not spray names;
- `ungrounded`: claims were made and none was found;
- `partly_grounded`: some were found (or only weak claims, backticked identifiers, were made);
- `no_claims`: the report names nothing that can be checked. That is not grounded.

The claims read (bounded to the first `MAX_TEXT_CHARS` of the text, `MAX_CHECKED` distinct
claims; a regular expression here never backtracks without bound):
- files: `src/parser.c`, `parser.c:123`, `parser.c:120-140`, `parser.c#L120-L140`, `parser.c
  line 12`, `line 12 of parser.c`, traceback lines `File "...", line N, in NAME`, sanitizer
  frames `#0 0x... in NAME /path/file.c:12:3` (a trace also shows the caller's code and
  libraries: when some of its frames are in the tree, the frames outside it are not claims; when
  none is, they all count, and a frame without a file is never a claim); a line claim is found when the file exists and is
  that long, and, when its sentence names exactly one function defined in that file, when the
  line lies inside that function;
- functions: `parse_header()`, `parse_header(buf, len)`, "function `foo`", "the `foo` method",
  `def foo`, `class Foo`, `Foo::bar()`; found when defined in the tree (in the file the sentence
  names, if it names one that exists), or called from it (a library function the code uses);
- module attributes (Python): `yaml.constructor.FullConstructor` or `jwt.decode(...)`, in
  backticks or called: the longest prefix that is a module of the tree must define (or import)
  the rest; a standard-library module (`os.system`) is outside the tree and not a claim;
- symbols: other backticked identifiers, bare snake_case names in prose (`_keyify`,
  `parse_records`), and a dotted name about a tree without Python (`name.buf`: a member
  access), found when the tree uses the word (half weight);
- frames: the function names of a crash signature, when one is passed (a forged sanitizer
  report names frames the code does not have).

Not claims: names the report's own code blocks define (its PoC's helpers), its attachments
(`poc.py`, `exploit.c`, `crash.bin`), language keywords and Python's builtins, and paths under
a Python installation's standard library in a traceback.
"""

from __future__ import annotations

import builtins
import keyword
import re
import sys
from dataclasses import dataclass, replace
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from clearinghouse.vulns.signals.source_index import C_KEYWORDS, Definition, SourceIndex

MAX_TEXT_CHARS = 100_000  # the rest of a longer report is not read
MAX_CHECKED = 200  # distinct claims checked; the rest are counted
SPRAY_LIMIT = 40  # a report naming more distinct code locations than this is never `grounded`
MAX_WHERE = 3  # locations shown per claim
WEIGHTS = {"file": 1.0, "line": 1.0, "function": 1.0, "attribute": 1.0, "frame": 1.0, "symbol": 0.5}

_EXT = (
    r"(?:c|h|cc|cpp|cxx|c\+\+|hh|hpp|hxx|inc|py|pyi|pyx|pxd|js|mjs|cjs|jsx|ts|tsx|go|rs|java|"
    r"kt|scala|rb|php|cs|swift|m|mm|s|S|asm|sh|pl|pm|lua)"
)
_PATH = rf"(?:[A-Za-z]:\\)?(?:\.{{1,2}}/|/)?(?:[\w.+-]{{1,100}}[/\\]){{0,20}}[\w+-][\w.+-]{{0,100}}\.{_EXT}"
_FILE = re.compile(
    rf"(?<![\w/.\\+-])(?P<path>{_PATH})(?![\w+])"
    r"(?:(?::|#L|,?[ \t]+(?:line|at[ \t]+line)[ \t]+)(?P<a>\d{1,9})"
    r"(?:[ \t]?(?:-|\u2013|\.\.|to)[ \t]?L?(?P<b>\d{1,9}))?)?"
)
_LINE_FIRST = re.compile(
    r"\blines?[ \t]+(?P<a>\d{1,9})(?:[ \t]*(?:-|\u2013|to|through)[ \t]*(?P<b>\d{1,9}))?"
    rf"(?:[ \t]+(?:of|in)[ \t]+`?(?P<path>{_PATH}))?",
    re.IGNORECASE,
)
_GITHUB_LINES = re.compile(r"(?<![\w#])L(?P<a>\d{1,9})(?:-L(?P<b>\d{1,9}))?\b")
_TRACEBACK = re.compile(
    r'File "(?P<path>[^"\n]{1,400})", line (?P<a>\d{1,9})(?:, in (?P<func>[A-Za-z_]\w{0,100}))?'
)
_FRAME = re.compile(
    r"#\d{1,4} 0x[0-9a-fA-F]{1,16} in (?P<func>[A-Za-z_][\w:~]{0,200})"
    rf"(?:\([^)\n]{{0,200}}\))?(?: (?P<path>{_PATH})(?::(?P<a>\d{{1,9}}))?)?"
)
_CALL = re.compile(
    r"(?<![\w.$>:/`-])(?P<name>(?:[A-Za-z_]\w{0,80}::){0,4}[A-Za-z_]\w{0,80})\((?P<args>[^()\n]{0,160})\)"
)
_DOTTED = re.compile(
    r"(?<![\w.$/-])(?P<name>[A-Za-z_]\w{0,80}(?:\.[A-Za-z_]\w{0,80}){1,8})(?P<after>\(|`)?"
)
_BACKTICK = re.compile(r"`(?P<name>[A-Za-z_](?:\w|::){0,120})(?P<parens>\(\))?`")
_FUNC_WORD = re.compile(
    r"\b(?:function|method|routine|handler|callback|helper|macro)[ \t]+`?(?P<name>[A-Za-z_]\w{0,80})\b"
)
_WORD_FUNC = re.compile(
    r"`(?P<name>[A-Za-z_]\w{0,80})`[ \t]+(?:function|method|routine|helper|macro)\b"
)
_DEF = re.compile(r"\b(?:def|cdef|cpdef)[ \t]+(?P<name>[A-Za-z_]\w{0,80})")
# A bare snake_case identifier in prose (`the key goes through _keyify`): a weak claim.
_SNAKE = re.compile(
    r"(?<![\w.`$/\\>:-])(?P<name>_{1,2}[a-z][a-z0-9_]*|[a-z][a-z0-9]*_[a-z0-9_]*)(?![\w(`/\\-]|\.\w)"
)
_CLASS = re.compile(r"\bclass[ \t]+(?P<name>[A-Z]\w{0,80})")
_CODE_BLOCK = re.compile(r"```[^\n]{0,40}\n(?P<body>.*?)(?:```|\Z)", re.DOTALL)
_REPORTER_DEF = re.compile(
    r"(?:\bdef|\bclass|\bfunction|\bconst|\blet|\bvar)[ \t]+(?P<name>[A-Za-z_]\w{0,80})"
    r"|^[ \t]*(?P<assigned>[A-Za-z_]\w{0,80})[ \t]*=(?!=)"
    r"|^[\w \t*]{0,80}?\b(?P<cfunc>[A-Za-z_]\w{0,80})\([^;\n]{0,200}\)[ \t]*\{",
    re.MULTILINE,
)
_SENTENCE_END = re.compile(r"[.!?;](?=\s)|\n")
_ATTACHMENT = re.compile(
    r"^(?:poc|exploit|repro|reproduce|reproducer|crash|payload|testcase|trigger|attack|pwn|"
    r"fuzz|harness)[\w.+-]*$",
    re.IGNORECASE,
)
_STDLIB_PATH = re.compile(r"/lib/python\d(?:\.\d+)?/(?!.*(?:site|dist)-packages/)")
_DATA_EXTENSIONS = frozenset(
    "bin txt ini cfg conf json yaml yml xml pem der key crt csr csv dat raw img png jpg jpeg gif "
    "bmp md rst html htm log out toml tar gz tgz zip xz bz2 pdf svg wasm so dll exe o a".split()
)
_SELF = frozenset({"self", "cls", "this", "super"})
STOP_NAMES = (
    frozenset(dir(builtins))
    | frozenset(keyword.kwlist)
    | frozenset(keyword.softkwlist)
    | C_KEYWORDS
    | frozenset(
        "NULL nullptr true false None True False void int char long short unsigned signed float "
        "double bool size_t ssize_t uint8_t uint16_t uint32_t uint64_t int8_t int16_t int32_t "
        "int64_t struct union enum typedef static const volatile extern inline main_ "
        "e i ie eg etc vs via see note".split()
    )
)
# Words that follow "function"/"method" in prose and are not names.
_PROSE = frozenset(
    "is was that which the a an and or of to in on for with when where this it its does did "
    "can may will would should calls call called returns return name names body bodies "
    "pointer pointers argument arguments parameter parameters signature".split()
)


class ClaimKind(StrEnum):
    file = "file"
    line = "line"
    function = "function"
    attribute = "attribute"  # a dotted Python name: module(s), then attributes
    symbol = "symbol"  # a backticked identifier: weak
    frame = "frame"  # a crash signature's frame


class GroundingVerdict(StrEnum):
    grounded = "grounded"
    partly_grounded = "partly_grounded"
    ungrounded = "ungrounded"
    no_claims = "no_claims"


class ClaimCheck(BaseModel):
    """One claim and what the tree says about it: found or not, and where."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    claim: str  # as the report wrote it (at most 200 characters)
    kind: ClaimKind
    found: bool
    where: list[str]  # "path:line" locations, at most MAX_WHERE
    note: str = ""


class Grounding(BaseModel):
    """The grounding signal's evidence: the verdict, the weighted share of claims found, and
    each claim checked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    verdict: GroundingVerdict
    score: float | None  # found weight / claimed weight; None with no_claims
    checked: list[ClaimCheck]
    claims: int  # distinct claims extracted
    unchecked: int = 0  # distinct claims beyond MAX_CHECKED
    text_truncated: bool = False
    ignored: list[str] = []  # not claims about the tree: attachments, stdlib, the PoC's own names
    notes: list[str] = []

    def missing(self) -> list[ClaimCheck]:
        return [c for c in self.checked if not c.found]


@dataclass(frozen=True)
class Claim:
    kind: ClaimKind
    name: str  # a path, a function name, a dotted name, an identifier
    text: str  # as written
    file: str | None = None  # a line's file, or the file the sentence names for a function
    start: int | None = None
    end: int | None = None
    function: str | None = None  # for a line: the function it is said to be in
    pos: int = 0  # where it was read in its sentence (not part of its identity)
    stop: int = 0
    trace: bool = False  # read from a traceback or sanitizer frame

    @property
    def key(self) -> tuple[object, ...]:
        return (self.kind, self.name, self.file, self.start, self.end)


@dataclass(frozen=True)
class Extraction:
    claims: list[Claim]
    ignored: list[str]
    truncated: bool


def extract_claims(text: str) -> Extraction:
    """The claims a report's text makes about code, in order, without duplicates. Never
    raises on any string (the tests fuzz it)."""
    truncated = len(text) > MAX_TEXT_CHARS
    text = text[:MAX_TEXT_CHARS]
    ignored: list[str] = []
    own = _reporter_names(text)
    ignored.extend(sorted(own)[:10])
    claims: list[Claim] = []
    spans = _sentences(text)
    for start, end in spans:
        claims.extend(_sentence_claims(text, start, end, own, ignored))
    _attribute_lines(claims)
    seen: set[tuple[object, ...]] = set()
    unique = []
    for claim in claims:
        if claim.key not in seen:
            seen.add(claim.key)
            unique.append(claim)
    return Extraction(unique, list(dict.fromkeys(ignored))[:20], truncated)


def _reporter_names(text: str) -> set[str]:
    """Names the report's own code blocks define: the PoC's helpers and variables."""
    names: set[str] = set()
    for block in _CODE_BLOCK.finditer(text):
        for m in _REPORTER_DEF.finditer(block.group("body")):
            name = m.group("name") or m.group("assigned") or m.group("cfunc")
            if name and name not in C_KEYWORDS:
                names.add(name)
    return names


def _sentences(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        if m.start() > start:
            spans.append((start, m.start()))
        start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def _is_attachment(path: str) -> bool:
    return bool(_ATTACHMENT.match(path.replace("\\", "/").rsplit("/", 1)[-1]))


def _lines(a: str | None, b: str | None) -> tuple[int | None, int | None]:
    if a is None:
        return None, None
    first = int(a)
    last = int(b) if b is not None else first
    return first, (last if last >= first else first)  # `file.c:12:5` is line 12, column 5


def _sentence_claims(
    text: str, start: int, end: int, own: set[str], ignored: list[str]
) -> list[Claim]:
    sentence = text[start:end]
    files: list[Claim] = []
    lines: list[Claim] = []
    functions: list[Claim] = []
    other: list[Claim] = []
    taken: list[tuple[int, int]] = []  # spans already read as a path (no function inside them)

    def add_path(
        path: str, a: str | None, b: str | None, where: tuple[int, int], trace: bool = False
    ) -> str | None:
        taken.append(where)
        if _is_attachment(path) or _STDLIB_PATH.search(path.replace("\\", "/")):
            ignored.append(path[:200])
            return None
        files.append(
            Claim(ClaimKind.file, path, path[:200], pos=where[0], stop=where[1], trace=trace)
        )
        first, last = _lines(a, b)
        if first is not None:
            shown = sentence[where[0] : where[1]]
            lines.append(
                Claim(
                    ClaimKind.line,
                    path,
                    shown[:200],
                    path,
                    first,
                    last,
                    in_function,
                    where[0],
                    where[1],
                    trace,
                )
            )
        return path

    def add_function(
        name: str,
        shown: str,
        where: tuple[int, int],
        file: str | None = None,
        trace: bool = False,
    ) -> None:
        bare = name.rsplit("::", 1)[-1]
        if bare in STOP_NAMES or bare in own or len(bare) < 2:
            if bare in own:
                ignored.append(bare)
            return
        functions.append(
            Claim(
                ClaimKind.function,
                bare,
                shown[:200],
                file,
                pos=where[0],
                stop=where[1],
                trace=trace,
            )
        )

    # A frame of a trace is a claim only with a file (`check_claims` drops the frames outside
    # the tree when others are in it): frames of the runtime and of libraries have none.
    in_function: str | None = None  # the frame's function, for the line of that frame
    for m in _TRACEBACK.finditer(sentence):
        in_function = m.group("func")
        path = add_path(m.group("path"), m.group("a"), None, m.span(), trace=True)
        if m.group("func") and path is not None:
            add_function(m.group("func"), m.group("func"), m.span(), path, trace=True)
    for m in _FRAME.finditer(sentence):
        in_function = m.group("func").rsplit("::", 1)[-1]
        taken.append(m.span())
        if m.group("path"):
            path = add_path(m.group("path"), m.group("a"), None, m.span("path"), trace=True)
            if path is not None:
                add_function(m.group("func"), m.group("func"), m.span(), path, trace=True)
        else:
            ignored.append(m.group("func")[:200])
    in_function = None
    for m in _FILE.finditer(sentence):
        if not _inside(m.span(), taken):
            add_path(m.group("path"), m.group("a"), m.group("b"), m.span())
    for m in _LINE_FIRST.finditer(sentence):
        if _inside(m.span(), taken):
            continue
        first, last = _lines(m.group("a"), m.group("b"))
        path = m.group("path")
        if path is not None:
            add_path(path, None, None, m.span("path"))
            if _is_attachment(path):
                continue
        lines.append(
            Claim(
                ClaimKind.line,
                path or "",
                m.group()[:200],
                path,
                first,
                last,
                pos=m.start(),
                stop=m.end(),
            )
        )
    for m in _GITHUB_LINES.finditer(sentence):
        if not _inside(m.span(), taken):
            first, last = _lines(m.group("a"), m.group("b"))
            lines.append(
                Claim(ClaimKind.line, "", m.group(), None, first, last, pos=m.start(), stop=m.end())
            )
    for m in _DOTTED.finditer(sentence):
        if _inside(m.span(), taken):
            continue
        name, after = m.group("name"), m.group("after")
        backticked = m.start() > 0 and sentence[m.start() - 1] == "`"
        if after is None and not backticked:
            continue
        taken.append(m.span("name"))
        parts = name.split(".")
        if re.fullmatch(_EXT, parts[-1]) or parts[-1].lower() in _DATA_EXTENSIONS:
            continue  # a file name: a source file is read as a path, a data file is no claim
        if parts[0] in _SELF:
            add_function(parts[-1], name, m.span())
        elif parts[0] in sys.stdlib_module_names or parts[0] in own:
            ignored.append(name)
        else:
            other.append(Claim(ClaimKind.attribute, name, name))
    for m in _CALL.finditer(sentence):
        if _inside(m.span("name"), taken) or m.group("args").strip() in ("s", "es", "ies"):
            continue
        add_function(m.group("name"), m.group(0), m.span())
    for pattern in (_FUNC_WORD, _WORD_FUNC, _DEF):
        for m in pattern.finditer(sentence):
            name = m.group("name")
            if name.lower() not in _PROSE and _looks_like_code(name):
                add_function(name, m.group(0), m.span())
    for m in _CLASS.finditer(sentence):
        if _looks_like_code(m.group("name")) and m.group("name") not in own:
            add_function(m.group("name"), m.group(0), m.span())
    for m in _BACKTICK.finditer(sentence):
        name = m.group("name")
        if _inside(m.span("name"), taken) or name in own:
            continue
        if m.group("parens"):
            add_function(name, m.group(0), m.span())
        elif name not in STOP_NAMES and len(name) >= 3:
            other.append(Claim(ClaimKind.symbol, name.rsplit("::", 1)[-1], m.group(0)))
        taken.append(m.span())
    for m in _SNAKE.finditer(sentence):
        name = m.group("name")
        if not _inside(m.span(), taken) and name not in own and name not in STOP_NAMES:
            other.append(Claim(ClaimKind.symbol, name, name))

    distinct_files = list(dict.fromkeys(c.name for c in files))
    one_file = distinct_files[0] if len(distinct_files) == 1 else None
    functions = [replace(c, file=c.file or one_file) for c in functions]
    lines = [
        replace(
            c,
            name=c.name or (one_file or ""),
            file=c.file or one_file,
            function=c.function or _function_of(c, functions),
        )
        for c in lines
    ]
    return files + lines + functions + other


def _function_of(line: Claim, functions: list[Claim]) -> str | None:
    """The function a line claim is said to be in: the sentence's only function, or the one
    written just before it (`store_field() (records.c:21)`, `parse() at parser.c:9`)."""
    names = list(dict.fromkeys(c.name for c in functions))
    if len(names) == 1:
        return names[0]
    before = [c for c in functions if c.stop <= line.pos and line.pos - c.stop <= 12]
    return max(before, key=lambda c: c.stop).name if before else None


def _inside(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(a <= span[0] and span[1] <= b for a, b in taken)


def _looks_like_code(name: str) -> bool:
    """`parse_header`, `readChunk`, `HMACAlgorithm`: an underscore, a digit or an inner capital."""
    return "_" in name or any(ch.isdigit() for ch in name) or any(ch.isupper() for ch in name[1:])


def _attribute_lines(claims: list[Claim]) -> None:
    """A line claim whose sentence names no file belongs to the report's one file, if it names
    exactly one; otherwise it cannot be checked and is dropped."""
    files = list(dict.fromkeys(c.name for c in claims if c.kind is ClaimKind.file))
    for i, claim in enumerate(claims):
        if claim.kind is ClaimKind.line and not claim.file:
            if len(files) == 1:
                claims[i] = replace(claim, name=files[0], file=files[0])
    claims[:] = [c for c in claims if not (c.kind is ClaimKind.line and not c.file)]


def frame_claims(signature: str) -> list[Claim]:
    """The frames of a crash signature (`type@f1|f2|f3`) as claims."""
    if "@" not in signature:
        return []
    frames = signature.split("@", 1)[1].split("|")
    out = []
    for frame in frames[:8]:
        name = frame.rsplit("::", 1)[-1].lstrip("~")
        if re.fullmatch(r"[A-Za-z_]\w{0,200}", name):
            out.append(Claim(ClaimKind.frame, name, frame[:200]))
    return out


_Found = tuple[bool, list[str], str]  # found, where, note


def _where(defs: list[Definition]) -> list[str]:
    return [f"{d.path}:{d.line}" for d in defs[:MAX_WHERE]]


def check_claim(claim: Claim, index: SourceIndex) -> ClaimCheck:
    """Look one claim up in the tree."""
    kind = claim.kind
    if kind is ClaimKind.file:
        paths = index.resolve(claim.name)
        found: _Found = (
            (True, paths[:MAX_WHERE], "") if paths else (False, [], "no such file in the tree")
        )
    elif kind is ClaimKind.line:
        found = _check_line(claim, index)
    elif kind in (ClaimKind.function, ClaimKind.frame):
        found = _check_function(claim, index)
    elif kind is ClaimKind.attribute and not index.has_python:
        # `name.buf` about a C tree is a member access, not a module path: a weak claim.
        kind = ClaimKind.symbol
        last = claim.name.rsplit(".", 1)[-1]
        found = (
            last in index.words,
            [],
            f"{last} {'occurs' if last in index.words else 'occurs nowhere'} in the tree",
        )
    elif kind is ClaimKind.attribute:
        found = _check_attribute(claim, index)
    elif claim.name in index.words:
        found = (True, [], "the identifier occurs in the tree")
    else:
        found = (False, [], "the identifier occurs nowhere in the tree")
    return ClaimCheck(claim=claim.text, kind=kind, found=found[0], where=found[1], note=found[2])


def _check_line(claim: Claim, index: SourceIndex) -> _Found:
    paths = index.resolve(claim.file or "")
    first, last = claim.start or 0, claim.end or claim.start or 0
    if not paths:
        return (False, [], f"{claim.file}: no such file in the tree")
    if first < 1:
        return (False, [], "line numbers start at 1")
    long_enough = [p for p in paths if (index.files.get(p) or 0) >= last]
    if not long_enough:
        counts = ", ".join(f"{p} has {index.files.get(p)} lines" for p in paths[:MAX_WHERE])
        return (False, [], f"past the end of the file ({counts})")
    where = [f"{p}:{first}" if first == last else f"{p}:{first}-{last}" for p in long_enough]
    if claim.function:
        spans = [d for d in index.defined(claim.function) if d.path in long_enough]
        spans = [d for d in spans if d.kind in ("function", "class", "macro")]
        if spans:
            inside = [d for d in spans if d.line <= first and last <= d.end_line]
            if not inside:
                d = spans[0]
                return (
                    False,
                    where[:MAX_WHERE],
                    f"outside {claim.function} ({d.path}:{d.line}-{d.end_line})",
                )
            d = inside[0]
            return (True, where[:MAX_WHERE], f"inside {claim.function} ({d.line}-{d.end_line})")
    return (True, where[:MAX_WHERE], "")


def _check_function(claim: Claim, index: SourceIndex) -> _Found:
    defs = [d for d in index.defined(claim.name) if d.kind != "import"]
    if defs:
        in_file = index.resolve(claim.file) if claim.file else []
        if in_file:
            here = [d for d in defs if d.path in in_file]
            if not here:
                return (
                    False,
                    _where(defs),
                    f"defined in {defs[0].path}, not in {claim.file}",
                )
            return (True, _where(here), "")
        return (True, _where(defs), "")
    if claim.name in index.calls:
        return (True, [index.calls[claim.name]], "called in the tree, defined outside it")
    return (False, [], "neither defined nor called anywhere in the tree")


def _check_attribute(claim: Claim, index: SourceIndex) -> _Found:
    parts = claim.name.split(".")
    failure: _Found | None = None
    for cut in range(len(parts), 0, -1):
        module = "/".join(parts[:cut])
        files = sorted(
            set(
                index.resolve(module + ".py")
                + index.resolve(module + "/__init__.py")
                + index.resolve(module + ".pyx")
            )
        )
        if not files:
            continue
        rest = parts[cut:]
        if not rest:
            return (True, files[:MAX_WHERE], "a module of the tree")
        for path in files:
            defs = [[d for d in index.defined(name) if d.path == path] for name in rest]
            if all(defs):
                return (True, _where(defs[-1]), "")
        if failure is None:
            missing = next(n for n in rest if not any(d.path in files for d in index.defined(n)))
            failure = (
                False,
                files[:MAX_WHERE],
                f"{'.'.join(parts[:cut])} does not define {missing}",
            )
    if failure is not None:
        return failure
    rest = parts[1:]
    defs = [index.defined(name) for name in rest]
    if all(defs):
        return (
            True,
            _where(defs[-1]),
            f"no module {parts[0]} in the tree; {'.'.join(rest)} defined",
        )
    return (False, [], f"no module {parts[0]} in the tree, and {'.'.join(rest)} is not defined")


def check_claims(
    extraction: Extraction, index: SourceIndex, signature: str | None = None
) -> Grounding:
    """Check the claims (and a crash signature's frames) against the tree, and decide."""
    claims, ignored = [], list(extraction.ignored)
    # A trace also shows the caller's code and libraries: when some of its frames are in the
    # tree, the others are not claims. When none is, the trace is not the target's: it counts.
    in_tree = {c.key: bool(index.resolve(c.file or c.name)) for c in extraction.claims if c.trace}
    for claim in extraction.claims:
        if claim.trace and any(in_tree.values()) and not in_tree[claim.key]:
            ignored.append(f"{claim.text} (a frame outside the tree)")
        else:
            claims.append(claim)
    if signature:
        claims += frame_claims(signature)
    checked = [check_claim(c, index) for c in claims[:MAX_CHECKED]]
    notes = []
    if extraction.truncated:
        notes.append(f"only the first {MAX_TEXT_CHARS} characters of the report were read")
    if len(claims) > MAX_CHECKED:
        notes.append(f"{len(claims)} claims: only the first {MAX_CHECKED} were checked")
    if not checked:
        return Grounding(
            verdict=GroundingVerdict.no_claims,
            score=None,
            checked=[],
            claims=0,
            text_truncated=extraction.truncated,
            ignored=list(dict.fromkeys(ignored))[:20],
            notes=[*notes, "the report names no file, line or function that can be checked"],
        )
    total = sum(WEIGHTS[c.kind] for c in checked)
    found = sum(WEIGHTS[c.kind] for c in checked if c.found)
    score = round(found / total, 4)
    strong = any(c.found and c.kind is not ClaimKind.symbol for c in checked)
    if found == 0:
        verdict = GroundingVerdict.ungrounded
    elif found < total or not strong:
        verdict = GroundingVerdict.partly_grounded
    elif len(claims) > SPRAY_LIMIT:
        verdict = GroundingVerdict.partly_grounded
        notes.append(
            f"names {len(claims)} distinct code locations, more than one bug's report does "
            f"({SPRAY_LIMIT}): never grounded"
        )
    else:
        verdict = GroundingVerdict.grounded
    return Grounding(
        verdict=verdict,
        score=score,
        checked=checked,
        claims=len(claims),
        unchecked=max(0, len(claims) - MAX_CHECKED),
        text_truncated=extraction.truncated,
        ignored=list(dict.fromkeys(ignored))[:20],
        notes=notes,
    )


def ground(text: str, index: SourceIndex, signature: str | None = None) -> Grounding:
    """Extract the report's claims and check them against the tree."""
    return check_claims(extract_claims(text), index, signature)
