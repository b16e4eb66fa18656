"""Optional accounting of modular exponentiations by size, for benchmarks.

Off by default: ``record`` is then a single global check. ``with counting() as c:`` turns it on
for the block and ``c.counts`` maps (modulus bits, exponent bits) to a count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

_active: list[OpCounter] = []


class OpCounter:
    def __init__(self) -> None:
        self.counts: Counter[tuple[int, int]] = Counter()

    def total(self) -> int:
        return sum(self.counts.values())

    def __repr__(self) -> str:
        return f"OpCounter({dict(self.counts)})"


def record(m: int, e: int, bases: int = 1) -> None:
    if _active:
        key = (_round_bits(m.bit_length()), _round_bits(int(e).bit_length()))
        for c in _active:
            c.counts[key] += bases


def _round_bits(b: int) -> int:
    # bucket to the nearest multiple of 64 bits so that counts group by operand size
    return max(64, (b + 63) // 64 * 64)


@contextmanager
def counting() -> Iterator[OpCounter]:
    c = OpCounter()
    _active.append(c)
    try:
        yield c
    finally:
        _active.remove(c)
