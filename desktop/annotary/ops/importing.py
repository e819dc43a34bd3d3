"""Importing task bundles into the local store: verify, check trust, write in one transaction."""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from annotary.bundles.bundle import OpenedBundle
from annotary.bundles.identity import fingerprint_of
from annotary.core.adjudication import Case
from annotary.core.changes import Change
from annotary.core.errors import Cancelled, TrustError
from annotary.core.spec import Spec
from annotary.ops import give_back, paused_gc, return_freed_arrays
from annotary.ops.bundling import (
    GUIDELINE_ASSETS,
    ItemRow,
    bundle_cases,
    bundle_guidelines,
    bundle_items,
    bundle_spec,
    check_spec_project,
    instance_problem,
    iter_bundle_items,
    logged_before,
    open_local,
)
from annotary.store import Store
from annotary.store.db import now_iso

_ROLE_OF = {"tasks": "labelled", "adjudication": "reviewed"}
Progress = Callable[[int, int], None]
CancelCheck = Callable[[], bool]
CHUNK = 2000


@dataclass(frozen=True)
class Preview:
    """What the user is asked to confirm before a bundle is imported."""

    path: Path
    kind: str
    project_id: str
    project_name: str
    signer_name: str
    signer_role: str
    signer_key_id: str
    fingerprint: str
    items: int
    pin: str  # "new" (first bundle of the project), "pinned" (same key), "mismatch"
    already_imported: bool
    refusal: str | None = None  # why the bundle would be refused (a pinned-key mismatch)


def _pin_state(store: Store, project_id: str, key_id: str) -> str:
    row = store.one("SELECT coordinator_key_id FROM projects WHERE id=?", (project_id,))
    if row is None:
        return "new"
    return "pinned" if row[0] == key_id else "mismatch"


def _mismatch(store: Store, manifest, path: Path) -> TrustError:
    row = store.one("SELECT coordinator_key_id, coordinator_name FROM projects WHERE id=?",
                    (manifest.project_id,))
    return TrustError(
        f"{path.name}: project {manifest.project_id!r} is pinned to coordinator key {row[0]} ({row[1]}); "
        f"this bundle is signed by key {manifest.producer.key_id} ({manifest.producer.name}): refused"
    )


def _instance_refusal(store: Store, manifest, path: Path) -> str | None:
    """Why a bundle of a project imported before belongs to another instance of it, or None.
    A project imported from bundles that named no instance learns it from the first that does."""
    row = store.one("SELECT instance_id, coordinator_key_id FROM projects WHERE id=?", (manifest.project_id,))
    if row is None or row[0] is None:
        return None
    problem = instance_problem(manifest, row[0], row[1])
    return f"{path.name}: {problem}: refused" if problem else None


@dataclass
class TaskBundle:
    """A task bundle read and checked: what the preview shows and the import writes. `rows` is
    None when the items were left to the import (load_tasks(items=False))."""

    path: Path
    bundle: OpenedBundle
    spec: Spec
    guidelines: str
    rows: list[ItemRow] | None
    cases: list[Case] = field(default_factory=list)  # adjudication bundles: what the reviewer decides
    sealed: bool = False  # it came encrypted: what is sent back is encrypted by default

    @property
    def manifest(self):
        return self.bundle.manifest

    @property
    def items(self) -> int:
        """How many items: counted, or as the signed manifest states (items left to the import)."""
        return len(self.rows) if self.rows is not None else self.manifest.counts.get("items.jsonl", 0)


def load_tasks(path: str | Path, *, items: bool = True) -> TaskBundle:
    """Every check that needs no store: limits, hashes, signature, spec, every item (and, for
    a reviewer's adjudication bundle, every case). Items are read line by line from the bundle;
    only their rows are kept.

    `items=False` checks everything but the items of a task bundle and keeps none: the import
    then reads, checks and writes them a chunk at a time in its transaction (rolled back if one
    is refused), so memory holds a chunk, not the bundle."""
    path = Path(path)
    with open_local(path, expect_kind=("tasks", "adjudication")) as b:
        m = b.manifest
        if m.coordinator_key_id is not None and m.coordinator_key_id != m.producer.key_id:
            raise TrustError(f"{path.name}: names coordinator key {m.coordinator_key_id} but is signed by "
                             f"key {m.producer.key_id} ({m.producer.name}): refused")
        spec = bundle_spec(b)
        check_spec_project(b, spec)
        guidelines = bundle_guidelines(b)
        later = not items and m.kind == "tasks"
        rows = None if later else bundle_items(b, spec)
        cases = bundle_cases(b, spec, {r.id for r in rows}) if b.manifest.kind == "adjudication" else []
        # every other member is checked too (a signed bundle is one unit), and the pictures kept
        kept = {}
        for name in b.names():
            if name.startswith(GUIDELINE_ASSETS):
                kept[name] = b.read(name)
            elif name not in ("items.jsonl", "cases.jsonl", "spec.json", "guidelines.md"):
                # (items.jsonl, when left to the import, is checked as the import reads it)
                for _ in b.chunks(name):
                    pass
        bundle = OpenedBundle(path, b.sha256, b.manifest, b.manifest_bytes, kept)
        sealed = b.sealed
    return TaskBundle(path, bundle, spec, guidelines, rows, cases, sealed=sealed)


def _loaded(source: str | Path | TaskBundle) -> TaskBundle:
    return source if isinstance(source, TaskBundle) else load_tasks(source)


def preview_tasks(store: Store, source: str | Path | TaskBundle) -> Preview:
    """Verify a task bundle completely and say who signed it, without writing anything."""
    tasks = _loaded(source)
    m, path = tasks.manifest, tasks.path
    pin = _pin_state(store, m.project_id, m.producer.key_id)
    return Preview(
        path=path, kind=m.kind, project_id=m.project_id, project_name=m.project_name,
        signer_name=m.producer.name, signer_role=m.producer.role, signer_key_id=m.producer.key_id,
        fingerprint=fingerprint_of(base64.b64decode(m.producer.public_key)), items=tasks.items,
        pin=pin,
        already_imported=logged_before(store, sha256=tasks.bundle.sha256, key=tasks.bundle.key),
        refusal=str(_mismatch(store, m, path)) if pin == "mismatch" else _instance_refusal(store, m, path),
    )


def import_tasks(
    store: Store,
    source: str | Path | TaskBundle,
    *,
    trust_new_key: bool = False,
    expect_key_id: str | None = None,
    progress: Progress | None = None,
    cancelled: CancelCheck | None = None,
) -> Change:
    """Import a signed task bundle (a path, or one load_tasks already checked). Nothing is
    written unless every check passes.

    `expect_key_id` is the signer the user was shown and agreed to trust: if the file was read
    again and changed in between, another key must not get pinned.

    Once done (written or refused), what the import freed goes back to the system: in the app,
    labeling goes on in the same process.
    """
    try:
        return _import_tasks(store, source, trust_new_key, expect_key_id, progress, cancelled)
    finally:
        give_back()


def _import_tasks(store: Store, source: str | Path | TaskBundle, trust_new_key: bool, expect_key_id: str | None,
                  progress: Progress | None, cancelled: CancelCheck | None) -> Change:
    tasks = _loaded(source)
    path, bundle, spec, guidelines = tasks.path, tasks.bundle, tasks.spec, tasks.guidelines
    m = bundle.manifest
    if expect_key_id is not None and m.producer.key_id != expect_key_id:
        raise TrustError(
            f"{path.name}: the file changed since it was checked: now signed by key "
            f"{m.producer.key_id} ({m.producer.name}), not {expect_key_id}: refused"
        )
    if logged_before(store, sha256=bundle.sha256, key=bundle.key):
        return Change(op="import", project_id=m.project_id, counts={"items": 0},
                      message=f"{path.name} was already imported; nothing changed")
    pin = _pin_state(store, m.project_id, m.producer.key_id)
    if pin == "mismatch":
        raise _mismatch(store, m, path)
    kind = "adjudication" if m.kind == "adjudication" else "tasks"
    row = store.one("SELECT kind FROM projects WHERE id=?", (m.project_id,))
    if row is not None and row[0] != kind:
        raise TrustError(f"{path.name}: project {m.project_id!r} is here to be {_ROLE_OF[row[0]]}; "
                         f"this bundle asks to have it {_ROLE_OF[kind]}: refused")
    refusal = _instance_refusal(store, m, path)
    if refusal:
        raise TrustError(refusal)
    if pin == "new" and not trust_new_key:
        fp = fingerprint_of(base64.b64decode(m.producer.public_key))
        raise TrustError(
            f"{path.name}: first bundle of project {m.project_id!r}, signed by {m.producer.name} "
            f"(fingerprint {fp}); confirm that fingerprint with them, then trust it (--trust)"
        )
    total = tasks.items
    added = updated = done = 0
    with store.atomic(), contextlib.ExitStack() as stack:
        conn = store.conn
        # a bundle of an older round than the one imported adds its new items but never turns
        # items back to their older text
        older = pin != "new" and conn.execute(
            "SELECT round FROM projects WHERE id=?", (m.project_id,)).fetchone()[0] > m.round
        if pin == "new":
            conn.execute(
                "INSERT INTO projects (id, name, spec, guidelines, guidelines_version,"
                " coordinator_key_id, coordinator_public_key, coordinator_name, round, created_at, kind,"
                " instance_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (m.project_id, spec.name, spec.model_dump_json(), guidelines, spec.guidelines_version,
                 m.producer.key_id, m.producer.public_key, m.producer.name, m.round, now_iso(), kind,
                 m.instance_id),
            )
        else:
            if m.instance_id is not None:  # the instance, learnt from the first bundle that names it
                conn.execute("UPDATE projects SET instance_id=? WHERE id=? AND instance_id IS NULL",
                             (m.instance_id, m.project_id))
            # a later round: newer spec and guidelines replace older ones, never the reverse
            conn.execute(
                "UPDATE projects SET name=?, spec=?, guidelines=?, guidelines_version=?, round=?"
                " WHERE id=? AND round<=?",
                (spec.name, spec.model_dump_json(), guidelines, spec.guidelines_version, m.round,
                 m.project_id, m.round),
            )
        existing = {r[0]: r[1] for r in conn.execute(  # as the bytes the bundle's rows are read as
            "SELECT id, CAST(data AS BLOB) FROM items WHERE project_id=?", (m.project_id,))} if pin != "new" else {}
        seq = conn.execute("SELECT coalesce(max(seq), 0) FROM items WHERE project_id=?",
                           (m.project_id,)).fetchone()[0]
        if tasks.rows is None:  # read, checked and written a chunk at a time
            # a fixed mmap threshold (no higher than the chunks' few MiB) keeps glibc from raising
            # its heaps' trim threshold as the chunks' buffers are freed: what the three threads
            # free goes back to the system; below it, the MiB chunks reuse the heap (mapping each
            # afresh would double the import's system time)
            return_freed_arrays(4 << 20)
            reader = stack.enter_context(open_local(path, expect_kind="tasks"))
            if reader.sha256 != bundle.sha256:
                raise TrustError(f"{path.name}: the file changed since it was checked: refused")
            rows: Iterator[ItemRow] = iter_bundle_items(reader, spec, raw=True)
        else:
            rows = (ItemRow(r.id, r.kind, r.data.encode("utf-8")) for r in tasks.rows)
        writer = stack.enter_context(_Writer(conn, m.project_id))
        stack.enter_context(paused_gc())
        while chunk := list(itertools.islice(rows, CHUNK)):
            if cancelled and cancelled():
                raise Cancelled()
            new_rows, changed = [], []
            for item in chunk:
                if item.id in existing:
                    if existing[item.id] != item.data and not older:
                        changed.append((item.data.decode("utf-8"), item.kind, m.project_id, item.id))
                    continue
                new_rows.append(item)
            writer.write(seq, new_rows, changed)  # while the next chunk is read and checked
            seq += len(new_rows)
            added += len(new_rows)
            updated += len(changed)
            done += len(chunk)
            if progress:
                progress(done, max(total, done))
        writer.finish()
        total = done
        if cancelled and cancelled():  # the last chance: nothing is committed yet
            raise Cancelled()
        # pictures the guidelines show; a later round's replace earlier ones of the same name
        conn.executemany(
            "INSERT INTO assets (project_id, name, data) VALUES (?,?,?) ON CONFLICT(project_id, name)"
            " DO UPDATE SET data=excluded.data",
            [(m.project_id, name, data) for name, data in bundle.members.items()
             if name.startswith(GUIDELINE_ASSETS)],
        )
        # a newer case of an item and question replaces the older one
        conn.executemany(
            "INSERT INTO cases (project_id, item_id, question_id, data) VALUES (?,?,?,?)"
            " ON CONFLICT(project_id, item_id, question_id) DO UPDATE SET data=excluded.data",
            [(m.project_id, c.item_id, c.question_id, c.model_dump_json()) for c in tasks.cases],
        )
        counts = {"items": total, "added": added, "updated": updated}
        if tasks.cases:
            counts["cases"] = len(tasks.cases)
        conn.execute(
            "INSERT INTO bundle_log (sha256, kind, bundle_id, project_id, signer_key_id, signer_name,"
            " file_name, imported_at, counts, details) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (bundle.sha256, m.kind, m.bundle_id, m.project_id, m.producer.key_id, m.producer.name,
             path.name, now_iso(), json.dumps(counts), json.dumps({"sealed": True} if tasks.sealed else {})),
        )
    return Change(op="import", project_id=m.project_id, counts=counts,
                  message=f"imported {path.name}: {added} new items, {updated} updated, project {spec.name!r}")


# A chunk of new items in one statement: SQLite cuts each item's text out of one blob of the
# chunk's lines (?4) at the spans of ?3, [[id, kind, start, length], ...], and numbers them from ?2.
# executemany would let the GIL go and take it back for every row, each time waiting for the
# thread that parses the next chunk to let it go; one statement lets it go once a chunk.
_INSERT_CHUNK = (
    "INSERT INTO items (project_id, id, seq, kind, data)"
    " SELECT ?1, json_extract(r.value, '$[0]'), ?2 + r.key, json_extract(r.value, '$[1]'),"
    " CAST(substr(?4, json_extract(r.value, '$[2]'), json_extract(r.value, '$[3]')) AS TEXT)"
    " FROM json_each(?3) AS r")


class _Writer:
    """Writes one chunk of items on a thread of its own while the next is read and checked:
    Python's sqlite3 lets other threads run while SQLite works, so both cores are busy. At most
    one chunk is in flight; the connection is used by nobody else meanwhile (finish() first)."""

    def __init__(self, conn, project_id: str):
        self.conn, self.project_id = conn, project_id
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="annotary-import")
        self.pending = None

    def _write(self, seq: int, new_rows: list[ItemRow], changed: list[tuple]) -> None:
        if new_rows:
            spans, start = [], 1
            for row in new_rows:  # row.data: the line's UTF-8 bytes, as the bundle carried them
                spans.append((row.id, row.kind, start, len(row.data)))
                start += len(row.data)
            self.conn.execute(_INSERT_CHUNK, (self.project_id, seq + 1, json.dumps(spans),
                                              b"".join(row.data for row in new_rows)))
        self.conn.executemany("UPDATE items SET data=?, kind=? WHERE project_id=? AND id=?", changed)

    def write(self, seq: int, new_rows: list[ItemRow], changed: list[tuple]) -> None:
        """Write new_rows, numbered from seq + 1, and the changed rows' new texts."""
        self.finish()
        self.pending = self.pool.submit(self._write, seq, new_rows, changed)

    def finish(self) -> None:
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.result()

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.pool.shutdown(wait=True)  # never leave the transaction while a write runs in it
