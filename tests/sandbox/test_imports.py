"""The shared sandbox imports no domain: validation, patch verification, scanning and the battery
all build on it, so it may use only the kernel (core), storage and itself."""

from __future__ import annotations

from tests.support.imports import modules_under, within

ALLOWED = ("clearinghouse.sandbox", "clearinghouse.core", "clearinghouse.storage")


def test_sandbox_imports_no_domain() -> None:
    modules = modules_under("clearinghouse.sandbox")
    assert "clearinghouse.sandbox.bwrap" in modules
    offending = {
        module: sorted(
            name
            for name in imports
            if within(name, "clearinghouse") and not any(within(name, a) for a in ALLOWED)
        )
        for module, imports in modules.items()
    }
    assert {m: names for m, names in offending.items() if names} == {}
