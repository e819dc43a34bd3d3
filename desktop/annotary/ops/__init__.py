"""Use cases: the only write path."""

import contextlib
import gc

from annotary.store import Store, open_store

__all__ = ["Store", "open_store", "paused_gc"]


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
