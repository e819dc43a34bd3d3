"""Opening a store: pragmas, migrations, transactions, and sharing its file with other processes."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import struct
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from annotary.core.errors import AnnotaryError
from annotary.store.migrations import MIGRATIONS

if TYPE_CHECKING:
    import sqlite_utils

try:
    import fcntl
except ImportError:  # Windows: its file locks belong to a handle, a close elsewhere drops none
    fcntl = None


def private_file(path: str | Path) -> None:
    """Make a file only its owner can read (created empty if missing): stores, backups and the
    crash log hold labels, rationales and patients' words. SQLite gives the -wal and -shm files
    the mode of their database. Other platforms keep their own access rules."""
    if os.name != "posix":
        return
    path = Path(path)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        if path.stat().st_mode & 0o077 and path.stat().st_uid == os.getuid():
            os.chmod(path, 0o600)
    except OSError:
        pass  # a file we may not change keeps its mode; opening it says what is wrong


def private_dir(path: str | Path) -> None:
    """A folder of our own that only its owner can enter (made if missing)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.name == "posix":
        try:
            if path.stat().st_mode & 0o077 and path.stat().st_uid == os.getuid():
                os.chmod(path, 0o700)
        except OSError:
            pass


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _sqlite_utils():
    """sqlite-utils, imported when first needed (it costs a command's start a tenth of a second).

    It imports pandas and numpy, when they are installed, only to insert their values, which
    Annotary never does (it gives SQLite plain Python values): pandas would cost about 0.4 s and
    100 MB, so both are hidden from it while it loads."""
    if "sqlite_utils" in sys.modules:
        return sys.modules["sqlite_utils"]
    hidden = [name for name in ("pandas", "numpy") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # makes `import pandas` (numpy) fail inside sqlite-utils
    try:
        import sqlite_utils
    finally:
        for name in hidden:
            del sys.modules[name]
    return sqlite_utils


class Store:
    """One SQLite database. Writes go through ops/, grouped with atomic()."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None, read_only: bool = False):
        self._conn = conn
        self._db: sqlite_utils.Database | None = None
        self.path = path
        self.read_only = read_only
        self._depth = 0
        self._guard: _Guard | None = None

    @property
    def db(self) -> sqlite_utils.Database:
        """The store through sqlite-utils (made when first asked for)."""
        if self._db is None:
            self._db = _sqlite_utils().Database(self._conn)
        return self._db

    @property
    def conn(self) -> sqlite3.Connection:
        return self._conn if self._db is None else self._db.conn

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
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) and "busy" not in str(err):
                raise
            name = self.path.name if self.path else "the store"
            raise AnnotaryError(f"{name} is in use: another Annotary is writing it (waited {BUSY_S} s); "
                                "try again when it is done") from None
        self._depth = 1
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
        guard, self._guard = self._guard, None
        _release(guard, self.conn.close)

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
    missing = [name for name, _ in MIGRATIONS if name not in done]
    if missing and done and store._guard is not None and store._guard.shared_elsewhere():
        # the other process goes on with the tables as they were: changing them under it is unsafe
        raise AnnotaryError(f"{store.path.name} is open in another Annotary (a workspace or a command) and "
                            f"needs updating (migration {missing[0]}); close it there and open it again")
    for name, step in MIGRATIONS:
        if name in done:
            continue
        with store.atomic():
            step(store.db)  # sqlite-utils runs a script inside the transaction (sqlite3 would commit first)
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
BUSY_S = 10  # how long a write waits for another process's write to finish
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
            private_file(path)
            for extra in ("-wal", "-shm"):
                if Path(f"{path}{extra}").exists():
                    private_file(f"{path}{extra}")
        elif not path.exists():
            raise AnnotaryError(f"{path}: no such store")
        conn = None
        try:
            if read_only:
                conn = connect_read_only(path)
            else:
                conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_S)
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
    conn.execute(f"PRAGMA busy_timeout={BUSY_S * 1000}")
    store = Store(conn, path if path is None else Path(path), read_only=read_only)
    try:
        if path is not None and not read_only:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the WAL index (-shm) exists now
            store._guard = _hold(Path(path))
        _migrate(store)
    except BaseException:
        store.close()
        raise
    return store


# -- sharing a store file with other processes ---------------------------------------------------
# SQLite's locks on Linux and macOS are POSIX record locks, which belong to a process, not to a
# connection: when the process closes *any* descriptor of the file, every lock it holds on it is
# gone. A file dialog does exactly that when it shows the project's folder (it reads the first
# bytes of project.db, -wal and -shm to tell their types, then closes them). From then on another
# process (a command on the same project) sees no one else using the file: closing its connection
# it checkpoints and deletes project.db-wal and project.db-shm, and the next one truncates the WAL
# index, all under the open workspace, whose connections go on with a WAL index nobody else uses
# any more: stale figures, then "disk I/O error" or "database disk image is malformed".
#
# _Guard holds read locks that a close elsewhere in the process cannot drop: Linux's
# open-file-description locks, on the byte range SQLite's shared lock takes in the database file
# and on the byte of the WAL index every process using it keeps locked. They conflict with the
# other processes' SQLite locks as the lost ones would have: no other process takes the file for
# itself, and the WAL files stay while anyone has the store open. One guard per file and process,
# held while a Store of this process has the file open; its descriptors are closed only after the
# last such Store's connection (closing them earlier would drop that connection's locks in turn).
_PENDING_BYTE = 0x40000000
_SHARED_FIRST, _SHARED_SIZE = _PENDING_BYTE + 2, 510  # SQLite's unix VFS (os_unix.c)
_SHM_DMS = (22 + 8) * 4 + 8  # UNIX_SHM_DMS: held (read) by every process that has the WAL index open
_OFD = getattr(fcntl, "F_OFD_SETLK", None)  # Linux; elsewhere (macOS) SQLite's own locks only
_guards: dict[tuple[int, int], _Guard] = {}
_guards_lock = threading.Lock()


def _range(kind: int, start: int, length: int) -> bytes:
    return struct.pack("hhqqi4x", kind, os.SEEK_SET, start, length, 0)


class _Guard:
    def __init__(self, key: tuple[int, int], path: Path):
        self.key, self.users, self.fds = key, 1, []
        for name, start, length in ((path, _SHARED_FIRST, _SHARED_SIZE), (Path(f"{path}-shm"), _SHM_DMS, 1)):
            try:
                fd = os.open(name, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            except OSError:
                continue
            self.fds.append((fd, start, length))
            self._set(fd, start, length)

    @staticmethod
    def _set(fd: int, start: int, length: int, kind: int | None = None) -> None:
        kind = fcntl.F_RDLCK if kind is None else kind
        for _ in range(50):  # another process may hold the range for a moment (its last close)
            try:
                fcntl.fcntl(fd, fcntl.F_OFD_SETLK, _range(kind, start, length))
                return
            except BlockingIOError:
                time.sleep(0.02)
            except OSError:  # a file system without these locks: SQLite's own locks are all there is
                return

    def unlock(self) -> None:
        for fd, start, length in self.fds:
            self._set(fd, start, length, fcntl.F_UNLCK)

    def close(self) -> None:
        for fd, _, _ in self.fds:
            os.close(fd)
        self.fds = []

    def shared_elsewhere(self) -> bool:
        """Does another process have the file open? (This process's own locks do not count.)"""
        with _guards_lock:
            self.unlock()
            try:
                return any(_locked(fd, start, length) for fd, start, length in self.fds)
            finally:
                for fd, start, length in self.fds:
                    self._set(fd, start, length)

    def __repr__(self) -> str:
        return f"_Guard({self.key}, users={self.users})"


def _locked(fd: int, start: int, length: int) -> bool:
    """Would a write lock on the range conflict with another process's lock (or a guard's)?"""
    got = fcntl.fcntl(fd, fcntl.F_GETLK, _range(fcntl.F_WRLCK, start, length))
    return struct.unpack("hhqqi4x", got)[0] != fcntl.F_UNLCK


def _hold(path: Path) -> _Guard | None:
    if _OFD is None:
        return None
    st = os.stat(path)
    key = (st.st_dev, st.st_ino)
    with _guards_lock:
        guard = _guards.get(key)
        if guard is not None:
            guard.users += 1
        else:
            guard = _guards[key] = _Guard(key, path)
        return guard


def _release(guard: _Guard | None, close) -> None:
    """Close a connection; the last one of the file in this process gives up the guard first (its
    own close then checkpoints and removes the WAL files, if no other process has the file open)."""
    if guard is None:
        close()
        return
    with _guards_lock:
        guard.users -= 1
        last = guard.users == 0
        if last:
            del _guards[guard.key]
            guard.unlock()
    try:
        close()
    finally:
        if last:
            guard.close()


def open_elsewhere(path: str | Path, *, here_too: bool = True) -> bool:
    """Is the store file open in another process? here_too: or in a Store of this one. False when
    the platform cannot tell (Windows refuses to replace an open file anyway)."""
    path = Path(path)
    if fcntl is None or not path.exists():
        return False
    st = os.stat(path)
    with _guards_lock:
        guard = _guards.get((st.st_dev, st.st_ino))
    if guard is not None:  # its descriptors tell, without opening (and closing) the file again
        return here_too or guard.shared_elsewhere()
    for name, start, length in ((path, _SHARED_FIRST, _SHARED_SIZE), (Path(f"{path}-shm"), _SHM_DMS, 1)):
        try:
            fd = os.open(name, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            continue
        try:
            if _locked(fd, start, length):
                return True
        finally:
            os.close(fd)
    return False
