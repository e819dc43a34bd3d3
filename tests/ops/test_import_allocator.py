"""The allocator's tuning the import asks for never undoes what the quality report asked for:
the lowest mmap threshold asked for in a process stays (ops.return_freed_arrays)."""

from __future__ import annotations

import annotary.ops as ops


class FakeLibc:
    def __init__(self):
        self.calls = []

    def mallopt(self, param, value):
        self.calls.append((param, value))
        return 1


def test_the_lowest_threshold_asked_for_stays(monkeypatch):
    libc = FakeLibc()
    monkeypatch.setattr(ops, "_glibc", lambda: libc)
    monkeypatch.setattr(ops, "_fixed_threshold", [])
    ops.return_freed_arrays(4 << 20)  # an import
    ops.return_freed_arrays()  # a quality report: 128 KiB
    ops.return_freed_arrays(4 << 20)  # another import: would raise it again
    ops.return_freed_arrays()
    assert libc.calls == [(ops.M_MMAP_THRESHOLD, 4 << 20), (ops.M_MMAP_THRESHOLD, 128 * 1024)]


def test_nothing_is_tuned_without_glibc(monkeypatch):
    monkeypatch.setattr(ops, "_glibc", lambda: None)
    monkeypatch.setattr(ops, "_fixed_threshold", [])
    ops.return_freed_arrays()
    ops.give_back()
    assert ops._fixed_threshold == []
