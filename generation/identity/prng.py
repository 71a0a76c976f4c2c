"""A deterministic pseudo-random stream drawn from a seed.

The stream is BLAKE2b in counter mode keyed by the seed, so it is defined by
this file alone (not by a library's generator, which may change between
releases) and uses all 256 bits of the seed. `fork(name)` gives independent
streams per component, so a new style version that edits one component
leaves the draws of the others, and so their look, unchanged.
"""

import hashlib
import struct
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")
_UNPACK = struct.Struct("<16I").unpack
_SCALE = 1.0 / 4294967296.0  # 2**-32: a u32 to a float in [0, 1)


class Prng:
    __slots__ = ("_key", "_counter", "_buffer", "_index")

    def __init__(self, seed: bytes) -> None:
        self._key = seed[:64]
        self._counter = 0
        self._buffer: list[float] = []
        self._index = 0

    def fork(self, name: str) -> "Prng":
        return Prng(hashlib.blake2b(name.encode(), key=self._key, digest_size=32).digest())

    def random(self) -> float:
        """A float in [0, 1): the next 32-bit word of the stream, scaled."""
        if self._index >= len(self._buffer):
            block = hashlib.blake2b(
                self._counter.to_bytes(8, "little"), key=self._key, digest_size=64
            ).digest()
            self._buffer = [word * _SCALE for word in _UNPACK(block)]
            self._counter += 1
            self._index = 0
        value = self._buffer[self._index]
        self._index += 1
        return value

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self.random()

    def integer(self, low: int, high: int) -> int:
        """An int in [low, high], both included."""
        return low + int(self.random() * (high - low + 1))

    def chance(self, probability: float) -> bool:
        return self.random() < probability

    def pick(self, items: Sequence[T]) -> T:
        return items[int(self.random() * len(items))]

    def weighted_index(self, cumulative: Sequence[float]) -> int:
        """Index into items whose running weight totals are `cumulative`."""
        target = self.random() * cumulative[-1]
        for index, total in enumerate(cumulative):
            if target < total:
                return index
        return len(cumulative) - 1
