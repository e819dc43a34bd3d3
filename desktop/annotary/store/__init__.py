"""SQLite storage through sqlite-utils: pragmas, named migrations, queries."""

import sys

# sqlite-utils imports pandas, when it is installed, only to insert pandas values, which
# Annotary never does; the import costs about 0.4 s and 100 MB at every start.
_hide_pandas = "pandas" not in sys.modules
if _hide_pandas:
    sys.modules["pandas"] = None  # makes `import pandas` fail inside sqlite-utils
try:
    import sqlite_utils  # noqa: F401
finally:
    if _hide_pandas:
        del sys.modules["pandas"]

from annotary.store.db import Store, open_store  # noqa: E402

__all__ = ["Store", "open_store"]
