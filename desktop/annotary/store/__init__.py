"""SQLite storage through sqlite-utils: pragmas, named migrations, queries."""

import sys

# sqlite-utils imports pandas and numpy, when they are installed, only to insert their values,
# which Annotary never does (it gives SQLite plain Python values): pandas costs about 0.4 s and
# 100 MB at every start, numpy 0.1 s at the start of every command that opens a store.
_hidden = [name for name in ("pandas", "numpy") if name not in sys.modules]
for _name in _hidden:
    sys.modules[_name] = None  # makes `import pandas` (numpy) fail inside sqlite-utils
try:
    import sqlite_utils  # noqa: F401
finally:
    for _name in _hidden:
        del sys.modules[_name]

from annotary.store.db import Store, open_store  # noqa: E402

__all__ = ["Store", "open_store"]
