"""The source trees the clearinghouse has: the vulnerable source of every validated recipe, kept
content-addressed under `<var_dir>/cache/trees/<tree sha256>/`, so that a later report about the
same target is grounded at intake (the files, functions and lines it names are looked up in
it) before it carries a recipe of its own.

Like the validator's caches, nothing here is trusted on reuse: a tree is re-hashed against its
name before it is indexed, and one that no longer matches is not used. With the setting
`validation_build_cache` off nothing is kept (a reporter's source then lives only in the
validation's temporary directory), and reports are grounded only after their own validation.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import threading
from collections import OrderedDict
from pathlib import Path

from clearinghouse.core.config import Settings
from clearinghouse.core.errors import InvalidInput
from clearinghouse.vulns.signals.source_index import SourceIndex
from clearinghouse.vulns.validation.sources import copy_tree, tree_digest

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_INDEXES: OrderedDict[str, SourceIndex] = OrderedDict()  # by digest, most recent last
_INDEXES_KEPT = 16
_lock = threading.Lock()


class SourceTrees:
    """Source trees by content hash; `root` None keeps nothing."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    @classmethod
    def for_settings(cls, settings: Settings) -> SourceTrees:
        return cls(
            settings.var_dir / "cache" / "trees" if settings.validation_build_cache else None
        )

    def _intact(self, digest: str) -> Path | None:
        if self.root is None or not _DIGEST.match(digest):
            return None
        entry = self.root / digest
        try:
            if (entry / "tree").is_dir() and tree_digest(entry / "tree") == digest:
                return entry / "tree"
        except (OSError, InvalidInput):
            pass
        return None

    def keep(self, tree: Path, digest: str) -> None:
        """Keep a copy of `tree`, whose content hash is `digest` (nothing if it is kept)."""
        if self.root is None or not _DIGEST.match(digest) or self._intact(digest) is not None:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f".tmp-{secrets.token_hex(8)}"
        try:
            copy_tree(tree, staging / "tree")
            if tree_digest(staging / "tree") != digest:
                return  # the tree changed under us: keep nothing
            final = self.root / digest
            shutil.rmtree(final, ignore_errors=True)  # absent, or not intact
            try:
                os.rename(staging, final)
            except OSError:
                if self._intact(digest) is None:  # not a concurrent copy that got there first
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def index(self, digest: str) -> SourceIndex | None:
        """The index of the kept tree `digest`, or None when it is not kept (or not intact)."""
        with _lock:
            if digest in _INDEXES:
                _INDEXES.move_to_end(digest)
                return _INDEXES[digest]
        path = self._intact(digest)
        if path is None:
            return None
        built = SourceIndex.build(path)
        remember(digest, built)
        return built


def remember(digest: str, index: SourceIndex) -> None:
    """Keep an index in memory (a validation built it from the tree it just hashed)."""
    with _lock:
        _INDEXES[digest] = index
        _INDEXES.move_to_end(digest)
        while len(_INDEXES) > _INDEXES_KEPT:
            _INDEXES.popitem(last=False)
