"""What a source tree defines: its files and line counts, its functions, classes and macros (with
the lines they span), the names it calls and the identifiers it uses. Built once per tree, then
every report about that tree is checked against it (`grounding.py`).

The walk never follows a symbolic link and never reads anything but regular files under the
root, so no path a report names can make it read outside the tree: claims are looked up in this
index, never opened. It is bounded (files, bytes per file, bytes in all); what it skipped is
said in `notes`.

Language-aware by extension, without a third-party parser (none is installed, and a report's
claims need names and spans, not a syntax tree):
- C and C++: comments and literals blanked, then a brace-depth scan finds `name(...) {` at the
  top level (`extern "C"` and `namespace` blocks are transparent) and the matching `}`;
  `#define NAME(` is a macro.
- Python and Cython: `def`, `class`, `cdef`/`cpdef`, spans by indentation; module-level
  assignments and imported names are attributes of the module.
- JavaScript, Go, Rust, Ruby, PHP, Lua, shell: `function NAME`, `func NAME`, `fn NAME`, `def
  NAME` (start line only).
"""

from __future__ import annotations

import os
import re
import stat
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from clearinghouse.vulns.signals.errors import SignalInputInvalid

MAX_FILES = 20_000  # the same cap as a validation source tree
MAX_FILE_BYTES = 4 * 1024 * 1024  # larger files are listed (name, size) but not parsed
MAX_TOTAL_BYTES = 128 * 1024 * 1024
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", "node_modules"})

C_EXTENSIONS = frozenset({".c", ".h", ".cc", ".cpp", ".cxx", ".c++", ".hh", ".hpp", ".hxx", ".inc"})
PY_EXTENSIONS = frozenset({".py", ".pyi", ".pyx", ".pxd"})
OTHER_EXTENSIONS = frozenset(
    {".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".go", ".rs", ".rb", ".php", ".lua", ".sh"}
)
C_KEYWORDS = frozenset(
    "if for while switch return sizeof alignof typeof offsetof defined do else case goto "
    "_Alignof _Generic _Static_assert static_assert __attribute__ __declspec __typeof__ "
    "decltype noexcept catch throw new delete operator template".split()
)
_TRANSPARENT_BLOCKS = frozenset({"extern", "namespace"})

_C_BLANK = re.compile(
    r"//[^\n]*|/\*.*?(?:\*/|\Z)|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'", re.DOTALL
)
_C_PREPROCESSOR = re.compile(r"^[ \t]*#(?:[^\n\\]|\\.)*", re.MULTILINE | re.DOTALL)
_C_MACRO = re.compile(r"^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)(\()?", re.MULTILINE)
_C_TOKEN = re.compile(r"[{}();,=]|[A-Za-z_]\w*")
_PY_DEF = re.compile(
    r"^([ \t]*)(?:async[ \t]+def|def|class|cpdef|cdef[ \t]+class|cdef(?:[ \t]+[\w.*\[\]]+){0,4}?)"
    r"[ \t]+\**([A-Za-z_]\w*)[ \t]*[(:\[]",
    re.MULTILINE,
)
_PY_ASSIGN = re.compile(r"^([A-Za-z_]\w*)[ \t]*(?::[^=\n]*)?=(?!=)", re.MULTILINE)
_PY_FROM_IMPORT = re.compile(
    r"^[ \t]*from[ \t]+[\w.]+[ \t]+import[ \t]+(?:\(([^)]*)\)|([^\n#]+))", re.MULTILINE
)
_PY_IMPORT = re.compile(r"^[ \t]*import[ \t]+([^\n#]+)", re.MULTILINE)
_OTHER_DEF = re.compile(
    r"\b(?:function|func|fn|def|sub)[ \t]+(?:\([^)\n]*\)[ \t]*)?([A-Za-z_]\w*)[ \t]*[(<]"
)
_CALL = re.compile(r"\b([A-Za-z_]\w*)[ \t]*\(")
_WORD = re.compile(r"[A-Za-z_]\w*")


@dataclass(frozen=True)
class Definition:
    """Where a name is defined: the file, the first line, the last line of its body (the same
    line when the language's span is not computed)."""

    path: str
    line: int
    end_line: int
    kind: str  # function, class, macro, assignment, import


@dataclass
class SourceIndex:
    """The index of one source tree. `files` maps each regular file's path (relative, POSIX) to
    its number of lines (None when it was too large to read)."""

    root: str
    files: dict[str, int | None] = field(default_factory=dict)
    definitions: dict[str, list[Definition]] = field(default_factory=lambda: defaultdict(list))
    calls: dict[str, str] = field(default_factory=dict)  # name -> "path:line" of a call
    words: set[str] = field(default_factory=set)
    by_basename: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    notes: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, root: Path) -> SourceIndex:
        """Walk `root` (not following links) and index every regular file in it."""
        if not root.is_dir() or root.is_symlink():
            raise SignalInputInvalid(f"{root} is not a directory", code="source_tree_invalid")
        index = cls(root=root.name)
        budget = MAX_TOTAL_BYTES
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            for name in sorted(filenames):
                if len(index.files) >= MAX_FILES:
                    index.notes.append(f"more than {MAX_FILES} files: the rest are not indexed")
                    return index
                full = Path(dirpath, name)
                rel = full.relative_to(root).as_posix()
                try:
                    info = full.lstat()
                except OSError:
                    continue
                if not stat.S_ISREG(info.st_mode):
                    continue  # a symbolic link, a FIFO, a device: never read
                if info.st_size > MAX_FILE_BYTES or info.st_size > budget:
                    index._add_file(rel, None)
                    index.notes.append(f"{rel}: {info.st_size} bytes, listed but not read")
                    continue
                budget -= info.st_size
                try:
                    data = _read_no_follow(full)
                except OSError:
                    continue
                index._add_file(rel, data)
        return index

    def _add_file(self, rel: str, data: bytes | None) -> None:
        self.by_basename[rel.rsplit("/", 1)[-1]].append(rel)
        if data is None:
            self.files[rel] = None
            return
        text = data.decode("utf-8", errors="replace")
        self.files[rel] = text.count("\n") + (0 if not text or text.endswith("\n") else 1)
        suffix = os.path.splitext(rel)[1].lower()
        if suffix in C_EXTENSIONS:
            self._index_c(rel, text)
        elif suffix in PY_EXTENSIONS:
            self._index_python(rel, text)
        elif suffix in OTHER_EXTENSIONS:
            self._index_other(rel, text)
        else:
            return  # a data or build file: its name and length only
        self.words.update(_WORD.findall(text))

    def _define(self, name: str, rel: str, line: int, end: int, kind: str) -> None:
        self.definitions[name].append(Definition(rel, line, end, kind))

    def _call(self, name: str, rel: str, line: int) -> None:
        self.calls.setdefault(name, f"{rel}:{line}")

    def _index_c(self, rel: str, text: str) -> None:
        lines = _LineMap(text)
        for m in _C_MACRO.finditer(text):
            self._define(m.group(1), rel, lines.at(m.start(1)), lines.at(m.start(1)), "macro")
        code = _C_PREPROCESSOR.sub(_blank, _C_BLANK.sub(_blank, text))
        tokens = [(m.group(), m.start()) for m in _C_TOKEN.finditer(code)]
        i, depth, n = 0, 0, len(tokens)
        while i < n:
            tok, pos = tokens[i]
            if tok == "{":
                if not (depth == 0 and i > 0 and _opens_transparent_block(tokens, i)):
                    depth += 1
            elif tok == "}":
                depth = max(0, depth - 1)
            elif tok[0].isalpha() or tok[0] == "_":
                if i + 1 < n and tokens[i + 1][0] == "(" and tok not in C_KEYWORDS:
                    if depth == 0:
                        body = _c_function_body(tokens, i + 1)
                        if body is not None:
                            end = tokens[body[1]][1] if body[1] < n else len(code)
                            self._define(tok, rel, lines.at(pos), lines.at(end), "function")
                    else:
                        self._call(tok, rel, lines.at(pos))
            i += 1

    def _index_python(self, rel: str, text: str) -> None:
        lines = _LineMap(text)
        source_lines = text.split("\n")
        for m in _PY_DEF.finditer(text):
            indent, name = len(m.group(1).expandtabs()), m.group(2)
            first = lines.at(m.start(2))
            end = _python_block_end(source_lines, first, indent)
            kind = "class" if "class" in m.group(0).split(name)[0] else "function"
            self._define(name, rel, first, end, kind)
        for m in _PY_ASSIGN.finditer(text):
            line = lines.at(m.start(1))
            self._define(m.group(1), rel, line, line, "assignment")
        for m in _PY_FROM_IMPORT.finditer(text):
            names = m.group(1) if m.group(1) is not None else m.group(2)
            line = lines.at(m.start())
            for part in names.replace("\\", " ").split(","):
                words = part.split()
                if words:
                    self._define(words[-1], rel, line, line, "import")
        for m in _PY_IMPORT.finditer(text):
            line = lines.at(m.start())
            for part in m.group(1).split(","):
                words = part.split()
                if words:
                    self._define(words[-1].split(".")[0], rel, line, line, "import")
        for m in _CALL.finditer(text):
            self._call(m.group(1), rel, lines.at(m.start(1)))

    def _index_other(self, rel: str, text: str) -> None:
        lines = _LineMap(text)
        for m in _OTHER_DEF.finditer(text):
            line = lines.at(m.start(1))
            self._define(m.group(1), rel, line, line, "function")
        for m in _CALL.finditer(text):
            self._call(m.group(1), rel, lines.at(m.start(1)))

    def resolve(self, claimed: str) -> list[str]:
        """The files of the tree that a path named in a report can mean: the same file name,
        and either one path a suffix of the other by whole components (`parser.c` and
        `/build/pkg-1.0/src/parser.c` both name `src/parser.c`) or at least the last two
        components the same (an installed `site-packages/yaml/constructor.py` names the
        source's `lib3/yaml/constructor.py`). Leading `/`, `./` and `../` are dropped first;
        nothing outside the tree is ever looked at."""
        parts = [p for p in claimed.replace("\\", "/").split("/") if p not in ("", ".", "..")]
        if not parts:
            return []
        found = []
        for candidate in self.by_basename.get(parts[-1], []):
            have = candidate.split("/")
            common = 0
            while common < min(len(have), len(parts)) and have[-1 - common] == parts[-1 - common]:
                common += 1
            if common in (len(have), len(parts)) or common >= 2:
                found.append(candidate)
        return sorted(found)

    @cached_property
    def has_python(self) -> bool:
        return any(os.path.splitext(p)[1] in PY_EXTENSIONS for p in self.files)

    def defined(self, name: str) -> list[Definition]:
        return list(self.definitions.get(name, ()))


class _LineMap:
    """Offset -> line number, by bisecting the offsets of the newlines."""

    def __init__(self, text: str) -> None:
        self.starts = [m.end() for m in re.finditer("\n", text)]

    def at(self, offset: int) -> int:
        return bisect_right(self.starts, offset) + 1


def _read_no_follow(path: Path) -> bytes:
    """Read a regular file without following a link swapped in since it was listed."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError("not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(MAX_FILE_BYTES + 1)[:MAX_FILE_BYTES]
    finally:
        os.close(fd)


def _blank(m: re.Match[str]) -> str:
    """Blank a comment, literal or directive, keeping its newlines (line numbers stay right)."""
    return re.sub(r"[^\n]", " ", m.group())


def _opens_transparent_block(tokens: list[tuple[str, int]], i: int) -> bool:
    """`extern "C" {` (the literal is blanked) or `namespace NAME {`: functions inside are
    still top-level."""
    back = [t for t, _ in tokens[max(0, i - 2) : i]]
    return any(t in _TRANSPARENT_BLOCKS for t in back)


def _c_function_body(tokens: list[tuple[str, int]], open_paren: int) -> tuple[int, int] | None:
    """If the parameter list at `open_paren` is followed by a body, the indexes of the body's
    `{` and its matching `}` (len(tokens) when unterminated); None for a declaration, a call
    or an initialiser."""
    n, depth, j = len(tokens), 0, open_paren
    while j < n:
        t = tokens[j][0]
        depth += t == "("
        depth -= t == ")"
        if depth == 0:
            break
        j += 1
    j += 1
    while j < n:  # qualifiers and attributes between `)` and `{`: const, noexcept, __attribute__
        t = tokens[j][0]
        if t == "{":
            break
        if t in (";", ",", "=", ")", "}"):
            return None
        if t == "(":
            depth = 0
            while j < n:
                depth += tokens[j][0] == "("
                depth -= tokens[j][0] == ")"
                if depth == 0:
                    break
                j += 1
        j += 1
    if j >= n:
        return None
    start, depth = j, 0
    while j < n:
        t = tokens[j][0]
        depth += t == "{"
        depth -= t == "}"
        if depth == 0:
            return start, j
        j += 1
    return start, n


def _python_block_end(lines: list[str], first: int, indent: int) -> int:
    """The last line of the block that starts at line `first` (1-based): the line before the
    next non-blank line indented no deeper than the block's header."""
    last, in_string = first, False
    for number in range(first, len(lines)):  # lines[number] is line number + 1
        line = lines[number].expandtabs()
        stripped = line.strip()
        quotes = (line.count('"""') + line.count("'''")) % 2 == 1
        if in_string:  # a line of a triple-quoted string that started in the block
            in_string ^= quotes
            last = number + 1
            continue
        if not stripped or stripped.startswith(("#", ")", "]")):
            continue  # blank, a comment, the closing bracket of a multi-line signature
        if len(line) - len(line.lstrip()) <= indent:
            break
        in_string ^= quotes
        last = number + 1
    return last
