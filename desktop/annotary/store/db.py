"""Opening a store: pragmas, migrations, transactions."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from annotary.core.errors import AnnotaryError
from annotary.store.migrations import MIGRATIONS


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Store:
    """One SQLite database. Writes go through ops/, grouped with atomic()."""

    def __init__(self, db: sqlite_utils.Database, path: Path | None):
        self.db = db
        self.path = path
        self._depth = 0

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    @contextlib.contextmanager
    def atomic(self):
        """One transaction; nested calls join the outer one. Committed on leaving the outermost."""
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self._depth = 1
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")
        finally:
            self._depth = 0

    def query(self, sql: str, params=()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def one(self, sql: str, params=()):
        return self.conn.execute(sql, params).fetchone()

    def close(self) -> None:
        self.conn.close()

    def integrity_ok(self) -> bool:
        return self.one("PRAGMA integrity_check")[0] == "ok"

    def applied_migrations(self) -> list[str]:
        return [r[0] for r in self.query("SELECT name FROM _migrations ORDER BY id")]


def _migrate(store: Store) -> None:
    conn = store.conn
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,"
        " applied_at TEXT NOT NULL)"
    )
    done = set(store.applied_migrations())
    known = {name for name, _ in MIGRATIONS}
    unknown = done - known
    if unknown:
        raise AnnotaryError(
            f"this store was written by a newer Annotary (migration {sorted(unknown)[-1]}); update Annotary"
        )
    for name, step in MIGRATIONS:
        if name in done:
            continue
        with store.atomic():
            step(store.db)
            conn.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, now_iso()))


def open_store(path: str | Path | None) -> Store:
    """Open (creating if needed) a store; None opens an in-memory one for tests."""
    if path is None:
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    else:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = None
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as err:
            if conn is not None:
                conn.close()
            raise AnnotaryError(f"{path}: not an Annotary store ({err})") from None
        if names and "_migrations" not in names:
            # another program's database: adding our tables to it would damage nothing of
            # ours but change a file that is not ours
            conn.close()
            raise AnnotaryError(f"{path}: an SQLite database of another program, not an Annotary store")
    conn.row_factory = sqlite3.Row
    # autocommit mode (isolation_level=None): transactions are explicit in Store.atomic
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")  # a submitted label survives power loss too
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=10000")
    db = sqlite_utils.Database(conn)
    store = Store(db, path if path is None else Path(path))
    _migrate(store)
    return store
