"""Which modules a source file imports, read from its syntax tree: top-level, function-local and
TYPE_CHECKING imports alike, so a lazy import cannot hide a dependency. (import-linter does this
for `make lint`; these helpers let a test state one layering rule next to the code it guards.)"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def module_name(path: Path) -> str:
    parts = list(path.resolve().relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports; `from a import b` counts as both `a` and `a.b`."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package.pop()
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def modules_under(package: str) -> dict[str, set[str]]:
    """Each module of a package (recursively), with what it imports."""
    root = SRC.joinpath(*package.split("."))
    return {module_name(p): imports_of(p) for p in sorted(root.rglob("*.py"))}


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")
