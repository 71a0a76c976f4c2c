"""The input face's descriptor from the helper process: the same numbers as in-process,
and still an answer when the helper dies."""

from __future__ import annotations

import os
import signal
import time

import numpy as np

from generation.portrait import reference
from generation.portrait.face import detect_faces
from generation.portrait.likeness import embedding

from .conftest import photo_array


def test_the_helper_gives_the_in_process_descriptor():
    image = photo_array("obama2.jpg")
    face = detect_faces(image).dominant
    pending = reference.PendingDescriptor(image, face)
    assert reference.helper_usage()[1] > 0  # a helper runs
    np.testing.assert_array_equal(pending.result(), embedding(image, face))


def test_a_dead_helper_is_replaced_and_the_descriptor_computed_here_meanwhile():
    image = photo_array("biden2.jpg")
    face = detect_faces(image).dominant
    expected = embedding(image, face)
    reference.start_helper()
    pool = reference._pool
    assert pool is not None
    for pid in list(pool._processes):
        os.kill(pid, signal.SIGKILL)
    pending = reference.PendingDescriptor(image, face)
    np.testing.assert_array_equal(pending.result(), expected)
    again = reference.PendingDescriptor(image, face)
    np.testing.assert_array_equal(again.result(), expected)
    assert reference._pool is not None and reference._pool is not pool


def test_where_no_helper_can_start_the_descriptor_is_computed_in_line(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("no children here")

    monkeypatch.setattr(reference, "_pool", None)
    monkeypatch.setattr(reference, "_cannot_start", False)
    monkeypatch.setattr(reference, "ProcessPoolExecutor", refuse)
    image = photo_array("obama2.jpg")
    face = detect_faces(image).dominant
    np.testing.assert_array_equal(
        reference.PendingDescriptor(image, face).result(), embedding(image, face)
    )
    assert reference._cannot_start and reference.helper_usage() == (0.0, 0.0)


def test_a_forked_child_starts_its_own_helper_which_leaves_when_the_child_dies():
    image = photo_array("obama2.jpg")
    face = detect_faces(image).dominant
    expected = embedding(image, face)
    reference.start_helper()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's helper is not its own
        same = reference._pool is None and np.array_equal(
            reference.PendingDescriptor(image, face).result(), expected
        )
        helper = next(iter(reference._pool._processes)) if reference._pool else 0
        os.write(write, f"{int(same)} {helper}".encode())
        os._exit(0)  # gone without shutting its helper down, as if killed
    os.close(write)
    same, helper = os.read(read, 64).decode().split()
    os.waitpid(pid, 0)
    assert same == "1" and int(helper) > 0
    deadline = time.monotonic() + 10
    while _running(int(helper)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _running(int(helper))


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False
