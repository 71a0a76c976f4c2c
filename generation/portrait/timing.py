"""Per-stage wall-clock timings."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


class StageTimer:
    """Accumulates milliseconds per stage name (a retried stage adds up);
    `on_start` hears each stage's name as it begins (live progress)."""

    def __init__(self, on_start: Callable[[str], None] | None = None) -> None:
        self.ms: dict[str, float] = {}
        self._start = time.perf_counter()
        self._on_start = on_start

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        if self._on_start is not None:
            self._on_start(stage)
        start = time.perf_counter()
        try:
            yield
        finally:
            self.record(stage, (time.perf_counter() - start) * 1000.0)

    def collect(self, stage: str, work: Future[T]) -> T:
        """The result of side work started under ``stage``, the time spent waiting for
        it added to that stage (without announcing the stage again)."""
        start = time.perf_counter()
        result = work.result()
        self.record(stage, (time.perf_counter() - start) * 1000.0)
        return result

    def record(self, stage: str, ms: float) -> None:
        self.ms[stage] = round(self.ms.get(stage, 0.0) + ms, 2)

    @property
    def total_ms(self) -> float:
        return round((time.perf_counter() - self._start) * 1000.0, 2)
