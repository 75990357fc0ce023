"""An in-memory `reviews.access.ModelProber`: answers a probe with the models it was given, or
raises the error it was given, and records what it was asked. `during` runs inside the probe,
between verify-access's transactions, to play what happens meanwhile elsewhere."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from clearinghouse.reviews.access import AccessCheck


@dataclass
class MemoryModelProber:
    models: list[str] = field(default_factory=list)
    error: Exception | None = None
    during: Callable[[], None] | None = None
    seen: list[tuple[str, str]] = field(default_factory=list)

    def probe(self, endpoint_url: str, api_key: str) -> AccessCheck:
        self.seen.append((endpoint_url, api_key))
        if self.during is not None:
            self.during()
        if self.error is not None:
            raise self.error
        return AccessCheck(models=list(self.models))
