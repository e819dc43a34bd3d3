"""Keeping a person's data safe: store backups and restore, the store lock, integrity, crash log."""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import sqlite3
import traceback
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from annotary import __version__
from annotary.bundles.identity import INFO_FILE, KEY_FILE
from annotary.core.errors import AnnotaryError
from annotary.paths import data_dir, resources_dir, store_path
from annotary.store.db import connect_read_only, open_elsewhere, private_dir, private_file

KEEP = 7
CRASH_LOG = "crash.log"
CRASH_LOG_LIMIT = 1024 * 1024  # a log that grows without end would fill a disk in a crash loop
_STAMP = "%Y%m%d-%H%M%S"


class BackupError(AnnotaryError):
    """A backup could not be written; the older ones are untouched."""


@dataclass(frozen=True)
class Backup:
    path: Path
    made: datetime
    kind: str  # auto, before-restore, damaged

    @property
    def name(self) -> str:
        return self.path.name

    def as_dict(self) -> dict:
        return {"name": self.name, "path": str(self.path), "made": self.made.isoformat(timespec="seconds"),
                "kind": self.kind, "bytes": self.path.stat().st_size}


def store_key(store_file: str | Path) -> str:
    """A short name for one store file, the same for every process that opens it."""
    return hashlib.sha256(str(Path(store_file).resolve()).encode()).hexdigest()[:16]


def backups_dir(store_file: str | Path) -> Path:
    return Path(store_file).parent / "backups"


def list_backups(store_file: str | Path) -> list[Backup]:
    """This store's backups, newest first."""
    stem = Path(store_file).stem
    pattern = re.compile(re.escape(stem) + r"-(\d{8}-\d{6})-([a-z-]+)\.db")
    found = []
    folder = backups_dir(store_file)
    for path in folder.iterdir() if folder.is_dir() else ():
        m = pattern.fullmatch(path.name)
        if m:
            found.append(Backup(path, datetime.strptime(m[1], _STAMP), m[2]))
    return sorted(found, key=lambda b: (b.made, b.name), reverse=True)


def check_store(path: str | Path) -> str | None:
    """None if the file passes SQLite's quick_check (or does not exist yet); else what is wrong."""
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return None
    try:
        conn = connect_read_only(path)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as err:
        return str(err)
    problems = [line for r in rows if r[0] != "ok" for line in str(r[0]).splitlines()
                if line.strip() and not line.startswith("*** in database")]
    if not problems:
        return None
    more = f" (and {len(problems) - 2} more)" if len(problems) > 2 else ""
    return "; ".join(problems[:2]) + more


def newest_good_backup(store_file: str | Path) -> Backup | None:
    return next((b for b in list_backups(store_file) if b.kind != "damaged" and check_store(b.path) is None),
                None)


def _copy(source: sqlite3.Connection, target: sqlite3.Connection) -> None:
    # SQLite's online backup: a consistent copy even while the app writes (WAL included)
    source.backup(target)


def make_backup(store_file: str | Path, *, conn: sqlite3.Connection | None = None, kind: str = "auto",
                now: datetime | None = None) -> Backup:
    """Copy the store into its backups folder; BackupError (older backups kept) if that fails."""
    store_file = Path(store_file)
    made = (now or datetime.now()).replace(microsecond=0)
    folder = backups_dir(store_file)
    final = folder / f"{store_file.stem}-{made.strftime(_STAMP)}-{kind}.db"
    part = folder / f".{final.name}.part"
    source = conn
    try:
        private_dir(folder)
        if source is None:
            source = connect_read_only(store_file)
        private_file(part)
        target = sqlite3.connect(part)
        try:
            _copy(source, target)
            ok = target.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            target.close()
        if ok != "ok":
            raise sqlite3.DatabaseError(f"the copy fails SQLite's check ({ok})")
        os.replace(part, final)  # a finished copy or none: never a half-written backup
    except (OSError, sqlite3.Error) as err:
        part.unlink(missing_ok=True)
        kept = len(list_backups(store_file))
        raise BackupError(f"backup of {store_file.name} failed ({err}); the {kept} older "
                          f"backup{'s' if kept != 1 else ''} in {folder} are kept") from None
    finally:
        if conn is None and source is not None:
            source.close()
    prune(store_file)
    return Backup(final, made, kind)


def prune(store_file: str | Path, keep: int = KEEP) -> list[Path]:
    gone = [b.path for b in list_backups(store_file)[keep:]]
    for path in gone:
        path.unlink(missing_ok=True)
        Path(f"{path}-wal").unlink(missing_ok=True)  # beside a kept damaged file
    return gone


def auto_backup(store_file: str | Path, *, conn: sqlite3.Connection | None = None,
                at_exit: bool = False) -> Backup | None:
    """The automatic backup: at start only if today has none, at exit always, one kept per day.

    The exit backup replaces the same day's earlier automatic one, so the seven kept span a
    week of work rather than an afternoon of restarts."""
    today = datetime.now().date()
    earlier = [b for b in list_backups(store_file) if b.kind == "auto" and b.made.date() == today]
    if earlier and not at_exit:
        return None
    made = make_backup(store_file, conn=conn)
    for b in earlier:
        if b.path != made.path:
            b.path.unlink(missing_ok=True)
    return made


def changed_since_backup(store_file: str | Path) -> bool:
    """Was the store (or its write-ahead log) written after its newest backup was made?"""
    store_file = Path(store_file)
    backups = list_backups(store_file)
    if not backups:
        return True
    wal = Path(f"{store_file}-wal")
    written = max(p.stat().st_mtime for p in (store_file, wal) if p.exists())
    return written > backups[0].path.stat().st_mtime


def periodic_backup(store_file: str | Path) -> Backup | None:
    """The backup made now and then while Annotary stays open (over a long day of labeling): when
    the store changed since its newest backup, a fresh copy replaces today's automatic one. It
    reads the store through a connection of its own, so it can run off the GUI thread."""
    if not changed_since_backup(store_file):
        return None
    return auto_backup(store_file, at_exit=True)


def _keep_as_is(store_file: Path, kind: str) -> Backup:
    """A byte copy of a store the backup API cannot read (a damaged one)."""
    made = datetime.now().replace(microsecond=0)
    final = backups_dir(store_file) / f"{store_file.stem}-{made.strftime(_STAMP)}-{kind}.db"
    private_dir(final.parent)
    private_file(final)
    shutil.copyfile(store_file, final)
    wal = Path(f"{store_file}-wal")
    if wal.exists():
        private_file(f"{final}-wal")
        shutil.copyfile(wal, f"{final}-wal")
    return Backup(final, made, kind)


def restore(store_file: str | Path, backup: str | Path, *, lock: StoreLock | None = None) -> Backup | None:
    """Put a backup in place of the store, keeping the current file as a backup first.

    Refused while an Annotary holds the store (unless `lock` is that Annotary's own lock)."""
    store_file, backup = Path(store_file), Path(backup)
    own = lock is None
    if own:
        lock = StoreLock(store_file)
        if not lock.acquire():
            raise AnnotaryError(f"Annotary is running on {store_file}; quit it before restoring a backup")
    try:
        if open_elsewhere(store_file, here_too=False):  # a workspace or a command would lose it
            raise AnnotaryError(f"{store_file.name} is in use (open in a workspace or a running command); "
                                "close it before restoring a backup")
        problem = check_store(backup) if backup.exists() else "no such file"
        if problem:
            raise AnnotaryError(f"{backup.name} cannot be restored: {problem}")
        conn = connect_read_only(backup)
        try:
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE name='_migrations'").fetchone():
                raise AnnotaryError(f"{backup.name} is not an Annotary store")
        finally:
            conn.close()
        kept = None
        if store_file.exists():
            if check_store(store_file) is None:
                kept = make_backup(store_file, kind="before-restore")
            else:
                kept = _keep_as_is(store_file, "damaged")
        part = store_file.with_name(f".{store_file.name}.restoring")
        private_file(part)
        shutil.copyfile(backup, part)
        with open(part, "rb+") as f:
            os.fsync(f.fileno())
        for suffix in ("-wal", "-shm"):  # they belong to the file being replaced
            Path(f"{store_file}{suffix}").unlink(missing_ok=True)
        os.replace(part, store_file)
        return kept
    finally:
        if own:
            lock.release()


class StoreLock:
    """Held by the one Annotary that writes a store. The OS drops it when that process ends, so
    a crash never leaves a stale lock behind."""

    def __init__(self, store_file: str | Path):
        self.store_file = Path(store_file)
        self.path = data_dir() / "locks" / f"{store_key(store_file)}.lock"
        self._file = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+b")  # noqa: SIM115 - held open for as long as the lock
        try:
            if os.name == "nt":
                import msvcrt

                f.seek(0)
                msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            return False
        self._file = f
        return True

    @property
    def held(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        if self._file is None:
            return
        if os.name == "nt":
            import msvcrt

            self._file.seek(0)
            msvcrt.locking(self._file.fileno(), msvcrt.LK_UNLCK, 1)
        self._file.close()
        self._file = None


def store_in_use(store_file: str | Path) -> bool:
    lock = StoreLock(store_file)
    if lock.acquire():
        lock.release()
        return False
    return True


# -- crash log: written on this computer only; nothing is ever sent ---------------------------
def crash_log_path() -> Path:
    return data_dir() / CRASH_LOG


def write_crash_report(exc_type, exc, tb, *, where: str = "") -> Path:
    path = crash_log_path()
    head = (f"--- {datetime.now().isoformat(timespec='seconds')} Annotary {__version__}, Python "
            f"{platform.python_version()}, {platform.platform()}{', ' + where if where else ''}\n")
    text = head + "".join(traceback.format_exception(exc_type, exc, tb)) + "\n"
    if path.exists() and path.stat().st_size > CRASH_LOG_LIMIT:
        tail = path.read_bytes()[-CRASH_LOG_LIMIT // 2:]
        path.write_bytes(b"[older reports removed]\n" + tail[tail.find(b"\n") + 1:])
    private_file(path)
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)
    return path


def locations(store_file: str | Path | None = None) -> dict[str, str]:
    """Where this person's data lives (for `annotary paths` and the About dialog)."""
    store_file = Path(store_file) if store_file else store_path()
    home = data_dir()
    return {"data_dir": str(home), "store": str(store_file), "identity_key": str(home / KEY_FILE),
            "identity_card": str(home / INFO_FILE), "backups": str(backups_dir(store_file)),
            "crash_log": str(home / CRASH_LOG), "resources": str(resources_dir())}
