"""Wilson's score interval: the one implementation, shared by the battery's statistics
(evals/analysis) and the reporters' track records (vulns/signals)."""

from __future__ import annotations

import math

Z95 = 1.959963984540054


def wilson(p: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval for a rate `p` from `n` observations, with critical value `z`.

    Computed in a form free of cancellation: the upper bound as centre + half-width, the lower bound
    from the product of the roots (lower * upper = p^2 / (1 + z^2/n)), and the upper bound at p by
    symmetry (upper(p) = 1 - lower(1 - p)). Both bounds then move monotonically with p even in
    floating point, where the textbook centre - half-width does not near 0 and 1."""
    if n <= 0:
        return 0.0, 1.0
    p = min(1.0, max(0.0, p))
    a = 1 + z * z / n

    def above(q: float) -> float:
        return (q + z * z / (2 * n) + z * math.sqrt(q * (1 - q) / n + z * z / (4 * n * n))) / a

    low = p * p / (a * above(p)) if p > 0 else 0.0
    q = 1 - p
    high = 1 - q * q / (a * above(q)) if q > 0 else 1.0
    return max(0.0, min(p, low)), min(1.0, max(p, high))
