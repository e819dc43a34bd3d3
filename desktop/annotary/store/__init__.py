"""SQLite storage through sqlite-utils: pragmas, named migrations, queries."""

from annotary.store.db import Store, open_store

__all__ = ["Store", "open_store"]
