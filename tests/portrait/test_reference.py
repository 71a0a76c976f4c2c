"""The input face's descriptor from the helper process: the same numbers as in-process,
and still an answer when the helper dies."""

from __future__ import annotations

import os
import signal

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
