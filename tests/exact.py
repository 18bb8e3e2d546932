"""Reference values the engine promises exactly, computed here in exact (rational) arithmetic.

A weight is taken as the decimal it was written as (``0.9`` is 9/10: the shortest text that
reads back as the float), and everything after that is rational arithmetic, so a tie is a tie.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from statistics import NormalDist


def written(x: float) -> Fraction:
    """The decimal a float was written as: its shortest round-trip text, exactly."""
    return Fraction(repr(float(x)))


def largest_remainder(n: int, weights: Sequence[float]) -> list[int]:
    """Split ``n`` proportionally to ``weights``: floors, then one more for the largest
    remainders (ties: the earlier weight first)."""
    w = [written(x) for x in weights]
    total = sum(w)
    exact = [n * x / total for x in w]
    counts = [math.floor(e) for e in exact]
    short = n - sum(counts)
    order = sorted(range(len(w)), key=lambda k: (-(exact[k] - counts[k]), k))
    for k in order[:short]:
        counts[k] += 1
    return counts


def status_counts(n_content: int, weights: Mapping[str, float]) -> dict[str, int]:
    """genonaut's job statuses: one ``completed`` job per item, then the never-completed ones
    sized to the weights' share of all jobs and split by largest remainder."""
    others = [k for k in weights if k != "completed" and weights[k] > 0]
    share = sum(written(weights[k]) for k in others) / written(weights["completed"])
    extra = round(n_content * share)  # Fraction rounds half to even, like Python's round
    counts = dict(zip(others, largest_remainder(extra, [weights[k] for k in others]), strict=True))
    return {"completed": n_content, **counts}


def share_tolerance(n: int, p: float, false_alarm: float = 1e-6) -> float:
    """Half-width of the two-sided interval a Bernoulli(p) share of ``n`` trials leaves with
    probability ``false_alarm`` (normal approximation), plus one trial for the discreteness."""
    z = NormalDist().inv_cdf(1 - false_alarm / 2)
    return z * math.sqrt(p * (1 - p) / n) + 1 / n
