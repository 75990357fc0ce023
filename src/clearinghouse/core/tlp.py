"""Traffic Light Protocol 2.0: the one enumeration of labels, their order, and how imported
labels read. Records (vulns), case messages and case labels (coordination), notification
variants (notifications) and the policy's clearances all use it."""

from __future__ import annotations

from enum import StrEnum

# CSAF 2.0 carries TLP 1.0 labels; WHITE became CLEAR in TLP 2.0.
_TLP1 = {"WHITE": "CLEAR"}


class Tlp(StrEnum):
    """TLP 2.0 labels, from the least to the most restrictive (the declaration order)."""

    clear = "CLEAR"
    green = "GREEN"
    amber = "AMBER"
    amber_strict = "AMBER+STRICT"
    red = "RED"

    @classmethod
    def of_label(cls, label: object) -> Tlp:
        """The label an imported document carries; TLP 1.0's WHITE (CSAF 2.0) is CLEAR, and
        an unknown label is treated as the most restrictive, RED."""
        text = str(label or "CLEAR").upper()
        text = _TLP1.get(text, text)
        try:
            return cls(text)
        except ValueError:
            return cls.red

    @property
    def rank(self) -> int:
        return ORDER.index(self)

    def at_least(self, other: Tlp) -> Tlp:
        """The stricter of the two labels."""
        return self if self.rank >= other.rank else other


ORDER: tuple[Tlp, ...] = tuple(Tlp)
