"""Fixtures for the desktop tests: a store with the demo project, closed and ready to damage."""

from __future__ import annotations

import os

import pytest

from tests.ui.conftest import asker, window  # noqa: F401 - the UI tests' window, dialogs answered


@pytest.fixture
def closed_demo_store(demo_store):
    """The path of a store holding the demo project, with no connection left open."""
    from annotary.paths import store_path

    demo_store.close()
    return store_path()


def damage(path) -> None:
    """Scramble the page headers after the first page: the file still opens (its schema is on
    page 1), but SQLite's quick_check fails, as after a disk error."""
    data = bytearray(path.read_bytes())
    size = int.from_bytes(data[16:18], "big") or 65536
    for at in range(size, len(data), size):
        data[at:at + 12] = os.urandom(12)
    path.write_bytes(bytes(data))
