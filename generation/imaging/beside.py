"""Work that runs beside a request's main line, on a small shared thread pool.

The side work is NumPy, OpenCV and model inference, which release the GIL,
so on a machine with a free core it takes its time off the request's
latency (a backdrop drawn while the photo is analysed, the content check
beside face detection, the matte's colour limit beside its guided filter,
anime's palette beside its skin and hair, and its hair beside the skin).
Side work must never wait on other side work: the pool is shared and small.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="portrait-side")


def beside(work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Future[T]:
    """Start ``work(*args, **kwargs)`` on the side pool; ``.result()`` collects it."""
    return _POOL.submit(work, *args, **kwargs)
