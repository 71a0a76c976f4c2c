"""Likeness descriptors computed in a helper process, beside the request's own work.

dlib's descriptor costs about 60 ms and holds the GIL, so a thread cannot
overlap it with anything. One persistent helper process (per server process,
started by its first avatar request) computes the input face's descriptor
while the pipeline segments, draws the background and styles, and the
output's while the checks look for its face and the avatar is encoded; the
checks collect both. Where the helper cannot be used, a descriptor is
computed here, as before, with the same numbers: a helper that dies is
replaced on the next request; where none can start (a process that may not
have children), this process stops trying.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from generation.imaging.state import Box

from .face import find_faces
from .likeness import _recogniser, chip_descriptor, face_chip

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_PARENT_CHECK_S = 1.0  # how often the helper looks whether its parent still runs
_cannot_start = False  # set once a helper failed to start: this process computes in line


def _forget_in_child() -> None:
    """A forked child does not inherit the helper's threads: it starts its own."""
    global _lock, _pool
    _lock, _pool = threading.Lock(), None


os.register_at_fork(after_in_child=_forget_in_child)


def start_helper() -> None:
    """Start the helper process (it loads dlib's models) if it is not running."""
    _helper()


def helper_usage() -> tuple[float, float]:
    """The helper process's CPU seconds so far and peak RSS in MB ((0, 0) with none
    running): what a benchmark adds to its own process's figures."""
    pool = _pool
    if pool is None:
        return 0.0, 0.0
    return pool.submit(_usage).result()


def _usage() -> tuple[float, float]:
    # Plain floats: an unpickled struct_rusage upsets CPython 3.11 at exit.
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def _helper() -> ProcessPoolExecutor | None:
    global _pool, _cannot_start
    with _lock:
        if _pool is None and not _cannot_start:
            try:
                _pool = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_serve,
                    initargs=(os.getpid(),),
                )
                _pool.submit(int).result()  # fails here, not mid-request, if it cannot start
            except Exception:  # noqa: BLE001 - any failure: compute in-process instead
                _pool, _cannot_start = None, True
        return _pool


def _serve(parent: int) -> None:
    """The helper's start: load dlib's recogniser, and leave when the parent process is
    gone (killed, or ended without shutting its pool down), instead of lingering."""
    _recogniser()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _drop(pool: ProcessPoolExecutor) -> None:
    """Forget a broken helper; the next pipeline request starts a new one."""
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


def input_reference(image: np.ndarray, fallback: Box) -> tuple[Box, PendingDescriptor]:
    """The unstyled face's box in ``image`` (MediaPipe's, or ``fallback`` where it finds
    none) and its descriptor, set going in the helper."""
    faces, _ = find_faces(image)
    box = faces[0] if faces else fallback
    return box, PendingDescriptor(image, box)


class PendingDescriptor:
    """The descriptor of the face in ``face``: its chip is cut here (about 1 ms), and
    the recogniser runs on it in the helper (a 150x150 chip travels, not the image)."""

    def __init__(self, image: np.ndarray, face: Box) -> None:
        self._chip = face_chip(image, face)
        self._pool = _helper()
        self._future: Future | None = None
        if self._pool is not None:
            try:
                self._future = self._pool.submit(chip_descriptor, self._chip)
            except Exception:  # noqa: BLE001 - the helper died: compute in-process
                _drop(self._pool)

    def result(self) -> np.ndarray:
        """The 128-d descriptor (waits for the helper; computes it here if it failed)."""
        if self._future is not None:
            try:
                return self._future.result()
            except BrokenProcessPool:  # the helper died mid-call
                _drop(self._pool)
            self._future = None
        return chip_descriptor(self._chip)
