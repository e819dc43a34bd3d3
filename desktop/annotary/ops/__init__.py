"""Use cases: the only write path."""

import contextlib
import ctypes
import functools
import gc
import sys

from annotary.store import Store, open_store

__all__ = ["Store", "give_back", "open_store", "paused_gc", "return_freed_arrays"]


@contextlib.contextmanager
def paused_gc():
    """Python's cycle collector paused for work that makes hundreds of thousands of objects at
    once, none of them in a cycle (parsing bundles, working out an export's answers): each full
    pass would walk them all, a sixth of a merge and a quarter of an export's answers."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter


@functools.cache
def _glibc():
    """The C library when it is glibc (its malloc_trim and mallopt), else None: nothing to tune."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.malloc_trim, libc.mallopt  # noqa: B018 - both present, or not glibc
        return libc
    except (OSError, AttributeError):
        return None


def give_back() -> None:
    """Return the memory freed so far to the system: glibc keeps the freed blocks of its heap
    (tens of MB once a large project's label pages are done with), so the next step's peak
    would come on top of them."""
    if (libc := _glibc()) is not None:
        libc.malloc_trim(0)


_fixed_threshold: list[int] = []  # the mmap threshold set so far, if any


def return_freed_arrays(threshold: int = 128 * 1024) -> None:
    """Have the C allocator give every block of `threshold` bytes or more back to the system when
    it is freed. glibc raises its mmap threshold each time a large block is freed (to 32 MiB),
    and with it the heap's trim threshold, so a report's later arrays come from the heap and
    their memory stays with the process: a few hundred MiB at a million labels. A fixed
    threshold keeps the peak to what is held at once. The lowest threshold asked for stays (the
    setting is the process's), so a caller never raises another's."""
    if (libc := _glibc()) is not None and (not _fixed_threshold or threshold < _fixed_threshold[0]):
        libc.mallopt(M_MMAP_THRESHOLD, threshold)
        _fixed_threshold[:] = [threshold]
