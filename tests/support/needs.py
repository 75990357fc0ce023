"""Skip marks for tests that need a system tool. The reasons say "not installed", which
tests/conftest.py turns into a failure under CI=true: a missing tool never passes as green."""

from __future__ import annotations

import shutil

import pytest

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed"
)
needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
