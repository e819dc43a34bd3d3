"""Use cases: the only write path."""

from annotary.store import Store, open_store

__all__ = ["Store", "open_store"]
