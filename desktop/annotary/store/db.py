"""Opening a store: pragmas, migrations, transactions."""

from __future__ import annotations

import contextlib
import os
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

    def __init__(self, db: sqlite_utils.Database, path: Path | None, read_only: bool = False):
        self.db = db
        self.path = path
        self.read_only = read_only
        self._depth = 0

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    @contextlib.contextmanager
    def atomic(self):
        """One transaction, committed on leaving the outermost call. A nested call is a savepoint
        inside it: an error leaving the nested block undoes that block's writes only, so a caller
        that catches the error (a merge that refuses one bundle of many) keeps the rest."""
        if self._depth:
            name = f"nested_{self._depth}"
            self._depth += 1
            self.conn.execute(f"SAVEPOINT {name}")
            try:
                yield self
            except BaseException:
                self.conn.execute(f"ROLLBACK TO {name}")
                self.conn.execute(f"RELEASE {name}")
                raise
            else:
                self.conn.execute(f"RELEASE {name}")
            finally:
                self._depth -= 1
            return
        if self.read_only:
            raise AnnotaryError(f"{self.path} is open read-only: nothing can be changed in it")
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

    def tuples(self, sql: str, params=()) -> sqlite3.Cursor:
        """Rows as plain tuples, for reading many: a tuple is cheaper to make than an sqlite3.Row."""
        cursor = self.conn.cursor()
        cursor.row_factory = None
        return cursor.execute(sql, params)

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
    if not store.read_only:
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
    if store.read_only:
        missing = [name for name, _ in MIGRATIONS if name not in done]
        if missing:
            raise AnnotaryError(f"{store.path} is read-only and needs updating (migration {missing[0]}); "
                                "make it writable and open it again")
        return
    for name, step in MIGRATIONS:
        if name in done:
            continue
        with store.atomic():
            step(store.db)
            conn.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, now_iso()))


def writable(path: Path) -> bool:
    """False for a store the user may read but not change (a file or folder without write access)."""
    if path.exists():
        return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)  # WAL files go beside it
    return True


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot write, also to a WAL store in a folder it may not write."""
    uri = path.resolve().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, timeout=10)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        # a WAL store in a folder we cannot write: its -shm file cannot be made, so read the file
        # as it is (nobody can be writing it: we could not either)
        conn.close()
        conn = sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None,
                               check_same_thread=False)
    return conn


MIN_SQLITE = (3, 31, 0)
PAGE_SIZE = 16384  # generated columns (migration 0005)


def open_store(path: str | Path | None, read_only: bool | None = None) -> Store:
    """Open (creating if needed) a store; None opens an in-memory one for tests.

    read_only: True opens it for reading only (writes raise AnnotaryError); None (the default)
    does so when the file or its folder is not writable."""
    if sqlite3.sqlite_version_info < MIN_SQLITE:
        raise AnnotaryError(f"Annotary needs SQLite {'.'.join(map(str, MIN_SQLITE))} or newer; this Python "
                            f"has {sqlite3.sqlite_version} (the packaged app brings its own)")
    if path is None:
        read_only = False
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    else:
        path = Path(path)
        if read_only is None:
            read_only = not writable(path)
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.exists():
            raise AnnotaryError(f"{path}: no such store")
        conn = None
        try:
            if read_only:
                conn = connect_read_only(path)
            else:
                conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as err:
            if conn is not None:
                conn.close()
            raise AnnotaryError(f"{path}: not an Annotary store ({err})") from None
        if read_only and not names:
            conn.close()
            raise AnnotaryError(f"{path}: an empty file, not an Annotary store")
        if names and "_migrations" not in names:
            # another program's database: adding our tables to it would damage nothing of
            # ours but change a file that is not ours
            conn.close()
            raise AnnotaryError(f"{path}: an SQLite database of another program, not an Annotary store")
    conn.row_factory = sqlite3.Row
    # autocommit mode (isolation_level=None): transactions are explicit in Store.atomic
    if not read_only:
        if path is None or not names:
            # a new store: pages of 16 KiB hold several items of a few KiB each (4 KiB pages hold
            # one, half empty), so reading every item reads half as many bytes
            conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")  # a submitted label survives power loss too
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=10000")
    db = sqlite_utils.Database(conn)
    store = Store(db, path if path is None else Path(path), read_only=read_only)
    _migrate(store)
    return store
