"""Seeded Faker pools: Faker runs once per (seed, provider) to fill a pool; rows sample it.

Faker is slow per call (thousands of values/s); a pool of a few thousand distinct values,
sampled by vectorised index arithmetic, gives millions per second. The Faker instance is seeded
per instance (``seed_instance``), never globally.
"""

from __future__ import annotations

import re
from functools import lru_cache

from faker import Faker

from generator.rng import name_key

_ASCII_WORD = re.compile(r"[a-z]+")


@lru_cache(maxsize=32)
def faker_pool(seed: int, provider: str, draws: int, locale: str = "en_US") -> list[str]:
    """Distinct lower-case ASCII values of ``provider``, in first-drawn order."""
    fake = Faker(locale)
    fake.seed_instance(int(name_key(seed, "faker", provider, locale)) & 0x7FFFFFFF)
    method = getattr(fake, provider)
    seen: dict[str, None] = {}
    for _ in range(draws):
        value = str(method()).lower()
        if _ASCII_WORD.fullmatch(value):
            seen[value] = None
    return list(seen)
