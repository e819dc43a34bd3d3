"""Merging signed result bundles: roster and assignment checks, revision-aware, idempotent, logged."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import NamedTuple

from annotary.bundles.records import iter_canonical_heads
from annotary.core.errors import AnnotaryError, BundleError, Cancelled, TrustError
from annotary.core.formats import Manifest
from annotary.core.labels import Label, label_problem
from annotary.ops import paused_gc
from annotary.ops.bundling import check_instance, logged_before, open_local, plain_local
from annotary.ops.project import AssignedSkeletons, project_info
from annotary.ops.queries import ProjectInfo
from annotary.store import Store, open_store
from annotary.store.db import now_iso

MAX_REASONS = 50  # kept in the log per bundle; the counts hold the rest
WRITE_CHUNK = 10_000  # labels a statement writes


@dataclass
class MergeReport:
    file: str
    sha256: str = ""
    signer: str = ""
    signer_name: str = ""
    labels: int = 0
    accepted: int = 0  # new labels (first of their item, question and annotator)
    replaced: int = 0  # newer revisions, now current
    ignored: int = 0  # already merged, or older than the revision merged
    refused: int = 0  # did not fit the spec, or a revision number merged with other content
    reasons: list[str] = field(default_factory=list)
    already_merged: bool = False
    refusal: str | None = None  # why the whole bundle was refused (then nothing was stored)

    @property
    def message(self) -> str:
        name = Path(self.file).name
        if self.refusal:
            return f"{name}: refused: {self.refusal}"
        if self.already_merged:
            return f"{name}: already merged, nothing changed"
        tail = f"; first refusal: {self.reasons[0]}" if self.reasons else ""
        return (f"{name}: {self.signer_name} ({self.signer}): {self.accepted} accepted, {self.replaced} "
                f"replaced, {self.ignored} ignored, {self.refused} refused of {self.labels} labels{tail}")

    def as_dict(self) -> dict:
        return asdict(self) | {"message": self.message}


class _Trust:
    """What a bundle is checked against before it is read: the roster and the bundles merged
    before, loaded once per merge (the database is busy with the previous bundle's write).

    The items assigned to each signer (their shapes), which a merge never changes, are read on a
    connection of their own (`reader`), so a bundle's labels are checked against them while the
    previous bundle is written; without one (a store in memory) after that write."""

    def __init__(self, store: Store, info: ProjectInfo):
        self.info = info
        self.roster = {r[0]: (r[1], r[2]) for r in store.tuples(
            "SELECT key_id, public_key, removed_at FROM roster WHERE project_id=?", (info.id,))}
        logged = store.tuples("SELECT sha256, bundle_id, signer_key_id FROM bundle_log WHERE project_id=?",
                              (info.id,))
        self.merged = {r[0] for r in logged}
        # a bundle is the same bundle by its signed id and signer, however it was re-zipped
        self.merged_keys = {(r[1], r[2]) for r in logged}
        self._skeletons: AssignedSkeletons | None = None
        self.reader = None if store.path is None else open_store(store.path, read_only=True)

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
            self.reader = None

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()

    def skeletons(self, store: Store, annotator: str) -> dict:
        """The skeletons of the items assigned to `annotator` (the items' shapes read at the first)."""
        if self._skeletons is None:
            self._skeletons = AssignedSkeletons(store, self.info.id)
        return self._skeletons(store, annotator)

    def check_signer(self, manifest, name: str) -> None:
        p = manifest.producer
        public_key, removed_at = self.roster.get(p.key_id, (None, None))
        if public_key != p.public_key:
            raise TrustError(f"{name}: signed by key {p.key_id} ({p.name}), which is not in the roster of "
                             f"project {self.info.id!r}: refused")
        if removed_at is not None:
            raise TrustError(f"{name}: signed by key {p.key_id} ({p.name}), removed from the roster on "
                             f"{removed_at[:10]}: refused")


class _Fit(NamedTuple):
    """A label read, kept instead of its model (a tenth of its memory, for bundles of a hundred
    thousand labels): its key columns, its canonical JSON and its line. Checking it against its
    item reads its JSON again, once per distinct kind of label (see _problems)."""

    item_id: str
    question_id: str
    revision: int
    data: bytes  # the label's canonical JSON (UTF-8), as it will be stored
    line: int  # in results.jsonl


@dataclass
class _Read:
    """A result bundle read and verified, its labels validated and written out as stored."""

    path: Path
    report: MergeReport
    manifest: Manifest | None = None
    labels: list[_Fit] = field(default_factory=list)
    key: tuple[str, str] = ("", "")  # the signed bundle id and signer


def _read(path: Path, trust: _Trust) -> _Read:
    """Everything of a merge that needs no database: the signature, the project, the signer, the
    labels (parsed, checked to be the signer's, serialised). AnnotaryError if refused.

    The signer is checked against the roster before any record is inflated; the records are
    read line by line from the bundle's stream."""
    info = trust.info
    with open_local(path, expect_kind="results") as bundle:
        m = bundle.manifest
        if m.project_id != info.id:
            raise TrustError(f"{path.name}: results for project {m.project_id!r}, not {info.id!r}: refused")
        check_instance(path.name, m, info)  # results of another coordinator's project of the same id
        read = _Read(path, MergeReport(str(path), bundle.sha256, m.producer.key_id, m.producer.name), m,
                     key=bundle.key)
        if bundle.sha256 in trust.merged or bundle.key in trust.merged_keys:
            read.report.already_merged = True
            return read
        trust.check_signer(m, path.name)
        if not bundle.has("results.jsonl"):
            raise BundleError(f"{path.name}: bundle has no results.jsonl")
        signer, pid = m.producer.key_id, info.id
        add = read.labels.append
        limits = bundle.limits
        try:
            # stored as validated (canonical): a raw line could repeat a key that SQLite's JSON reads
            # differently, or say a number or a time otherwise than the next bundle that holds it
            for n, lab, canonical in iter_canonical_heads(bundle.chunks("results.jsonl"), Label, "results.jsonl",
                                                          split="shown_order", max_line=limits.max_line_bytes,
                                                          max_depth=limits.max_json_depth):
                if lab.project_id != pid or lab.annotator != signer:
                    raise TrustError(f"results.jsonl line {n}: a label of project {lab.project_id!r} by "
                                     f"{lab.annotator!r} in a bundle signed by {signer} for {info.id!r}: refused")
                add(_new(_Fit, (lab.item_id, lab.question_id, lab.revision, canonical, n)))
        except AnnotaryError as e:
            raise _named(e, path.name) from None
        for name in bundle.names():  # a signed bundle is one unit: every member checked
            if name != "results.jsonl":
                for _ in bundle.chunks(name):
                    pass
    read.report.labels = len(read.labels)
    if max(map(_REVISION, read.labels), default=1) != 1:
        read.labels.sort(key=_REVISION)  # oldest first: a bundle may hold several
    if trust.reader is not None:
        _fits(trust.reader, read, trust)
    return read


_REVISION, _ITEM, _KEY = attrgetter("revision"), attrgetter("item_id"), attrgetter("item_id", "question_id")
_new = tuple.__new__  # a _Fit from its fields, without the Python call of _Fit(...) per label


def _named(err: AnnotaryError, name: str) -> AnnotaryError:
    """The error with the bundle's file name in front, once."""
    prefix = f"{name}: "
    return err if err.message.startswith(prefix) else type(err)(prefix + err.message)


_RATIONALE, _CONFIDENCE = b',"rationale":', b',"confidence":'


def _checked_parts(data: bytes) -> tuple[bytes, bool, bytes]:
    """What label_problem reads of a canonical label besides its question: the part of its JSON
    from "shown_order" to "rationale" (the order shown, the answer), whether a rationale is
    written, and the part from "confidence" to "skip_reason" (confidence, flags).

    In canonical JSON a string's quotes are escaped, so no string holds a key's `,"name":`; only
    scalars come before "shown_order", and only the answer (its keys: criteria, responses) can
    hold `,"rationale":` or `,"skip_reason":` before the label's own, which are therefore the last."""
    rationale = data.rfind(_RATIONALE)
    confidence = data.find(_CONFIDENCE, rationale)
    text = data[rationale + len(_RATIONALE):confidence]
    written = text != b"null" and bool(json.loads(text).strip())
    return data[data.find(b',"shown_order":'):rationale], written, data[confidence:data.rfind(b',"skip_reason":')]


def _problems(labels: list[_Fit], spec, skeletons: dict, name: str) -> None:
    """BundleError at the first label that does not fit its question or item.

    What label_problem reads of a label (_checked_parts) and of its item (the skeleton, one object
    per shape) repeats across a bundle: each combination is checked once, from the label's model
    read again from its JSON."""
    seen: dict[tuple, str | None] = {}
    for lab in labels:
        skeleton = skeletons[lab.item_id]
        key = (lab.question_id, id(skeleton), *_checked_parts(lab.data))
        problem = seen.get(key, False)
        if problem is False:
            problem = seen[key] = label_problem(Label.model_validate_json(lab.data), spec, skeleton)
        if problem is not None:
            raise BundleError(f"{name}: results.jsonl line {lab.line}: label of item {lab.item_id!r}, "
                              f"question {lab.question_id!r}: {problem}")


def _fits(store: Store, read: _Read, trust: _Trust) -> None:
    """AnnotaryError unless every label is of an item assigned to its signer and fits its item
    and question. The items are the signer's assigned ones (their skeletons), so memory follows
    the bundle, not the project."""
    m, labels = read.manifest, read.labels
    signer = m.producer.key_id
    skeletons = trust.skeletons(store, signer)
    stray = sorted(set(map(_ITEM, labels)) - skeletons.keys())
    if stray:
        more = f" (and {len(stray) - 3} more)" if len(stray) > 3 else ""
        raise TrustError(f"{read.path.name}: labels for items not assigned to {m.producer.name} ({signer}): "
                         f"{', '.join(map(repr, stray[:3]))}{more}: refused")
    _problems(labels, trust.info.spec, skeletons, read.path.name)


def _check(store: Store, read: _Read, trust: _Trust) -> list[_Fit]:
    """The labels to store (in index order), counting what is accepted, replaced, ignored and
    refused in the report; AnnotaryError if the whole bundle is refused: a signed bundle is one
    unit, and a label that does not fit the spec refuses all of it (_fits: _read checked that
    already where the trust has a connection of its own); the labels are let go once checked
    (the rows to write are kept)."""
    report, m, labels, info = read.report, read.manifest, read.labels, trust.info
    signer = m.producer.key_id
    if trust.reader is None:
        _fits(store, read, trust)
    # every stored revision of this annotator: (item, question) -> {revision: data}
    stored: dict[tuple[str, str], dict[int, bytes]] = {}
    for iid, qid, rev, data in store.tuples(
            "SELECT item_id, question_id, revision, CAST(data AS BLOB) FROM labels"
            " WHERE project_id=? AND annotator=?", (info.id, signer)):
        stored.setdefault((iid, qid), {})[rev] = data
    read.labels = []
    if not stored and len(set(map(_KEY, labels))) == len(labels):
        report.accepted = len(labels)  # the first labels of this annotator, one revision each
        # in index order: the b-tree pages each insert touches are then the last one's
        labels.sort()
        return labels
    rows = []
    for lab in labels:
        data = lab.data
        key = (lab.item_id, lab.question_id)
        revs = stored.get(key)
        if revs:
            where = f"item {lab.item_id!r}, question {lab.question_id!r}, revision {lab.revision}"
            if lab.revision in revs:
                if revs[lab.revision] == data:
                    report.ignored += 1
                else:
                    _refuse(report, f"{where}: merged before with other content")
                continue
            if lab.revision < max(revs):
                report.ignored += 1
                _note(report, f"{where}: older than revision {max(revs)} merged before")
                continue
        if revs:
            report.replaced += 1
            revs[lab.revision] = data
        else:
            report.accepted += 1
            stored[key] = {lab.revision: data}
        rows.append(lab)
    rows.sort()  # in index order (see above)
    return rows


# One statement for a bundle's labels: SQLite runs it in one step, during which Python's sqlite3
# lets other threads run (see _Writer). The label's own JSON gives the columns (its project and
# annotator were checked to be the bundle's): the more of the write SQLite does, the less waits
# for the thread that reads the next bundle.
INSERT_LABELS = """
    INSERT INTO labels (project_id, item_id, question_id, annotator, revision, data, submitted_at, source)
    SELECT :project, json_extract(value, '$.item_id'), json_extract(value, '$.question_id'), :annotator,
           json_extract(value, '$.revision'), value, json_extract(value, '$.submitted_at'), :source
    FROM json_each(:labels)
"""


def _write(store: Store, read: _Read, rows: list[_Fit]) -> None:
    """Log the bundle and store its labels, in a savepoint of the merge's transaction."""
    report, m = read.report, read.manifest
    counts = {k: getattr(report, k) for k in ("labels", "accepted", "replaced", "ignored", "refused")}
    with store.atomic():
        log = store.conn.execute(
            "INSERT INTO bundle_log (sha256, kind, bundle_id, project_id, signer_key_id, signer_name,"
            " file_name, imported_at, counts, details) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (report.sha256, m.kind, m.bundle_id, m.project_id, m.producer.key_id, m.producer.name,
             read.path.name, now_iso(), json.dumps(counts),
             json.dumps({"round": m.round, "reasons": report.reasons}))).lastrowid
        # a statement per WRITE_CHUNK labels: what SQLite holds of one is bounded, whatever the bundle's size
        for at in range(0, len(rows), WRITE_CHUNK):
            labels = b"[" + b",".join([r.data for r in rows[at:at + WRITE_CHUNK]]) + b"]"
            store.conn.execute(INSERT_LABELS, {"labels": labels.decode("utf-8"), "source": f"bundle:{log}",
                                               "project": m.project_id, "annotator": m.producer.key_id})


def _merge_read(store: Store, read: _Read, trust: _Trust) -> list[_Fit] | None:
    """The labels to write for a bundle read, or None when it was merged before."""
    if read.report.already_merged or logged_before(store, sha256=read.report.sha256, key=read.key,
                                                   project_id=trust.info.id):
        read.report.already_merged = True
        return None
    return _check(store, read, trust)


def merge_bundle(store: Store, *, path: str | Path, info: ProjectInfo | None = None) -> MergeReport:
    """Merge one result bundle in one transaction; AnnotaryError (nothing stored) if it is refused."""
    with _Trust(store, info or project_info(store)) as trust:
        read = _read(Path(path), trust)
        data = _merge_read(store, read, trust)
        if data is not None:
            _write(store, read, data)
    return read.report


class _Writer:
    """Writes one bundle while the next is read, on a second thread.

    The write is one SQL statement per table (INSERT_LABELS), and Python's sqlite3 releases the
    GIL while SQLite runs a statement: the write and the next bundle's parsing use both cores. The
    main thread uses the database only when no write is in flight (finish() first)."""

    def __init__(self, store: Store):
        self.store = store
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="annotary-merge")
        self.pending: tuple[int, Future] | None = None

    def submit(self, at: int, read: _Read, data: list[_Fit]) -> None:
        self.pending = (at, self.pool.submit(_write, self.store, read, data))

    def finish(self, out: list[MergeReport]) -> None:
        """Wait for the write in flight; if it was refused, its report (out[at]) becomes a refusal."""
        if self.pending is None:
            return
        (at, future), self.pending = self.pending, None
        try:
            future.result()
        except AnnotaryError as err:
            out[at] = MergeReport(out[at].file, refusal=str(err).removeprefix(f"{Path(out[at].file).name}: "))
        except (sqlite3.IntegrityError, sqlite3.DataError) as err:
            # its savepoint was rolled back: this bundle alone is refused, the batch goes on
            out[at] = MergeReport(out[at].file, refusal=f"cannot be stored ({str(err).splitlines()[0][:120]})")

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.pool.shutdown(wait=True)  # never leave the transaction while a write runs in it


def _note(report: MergeReport, reason: str) -> None:
    if len(report.reasons) < MAX_REASONS:
        report.reasons.append(reason)


def _refuse(report: MergeReport, reason: str) -> None:
    report.refused += 1
    _note(report, reason)


def merge_results(store: Store, *, paths: list[str | Path],
                  progress: Callable[[int, int], None] | None = None,
                  cancelled: Callable[[], bool] | None = None) -> list[MergeReport]:
    """Merge bundles one by one; a refused bundle is reported (refusal set) and the rest go on.

    One transaction holds them all (each bundle in its own savepoint): committing, with its
    flush to disk, once rather than per bundle is a sixth of merging twenty large bundles.
    `cancelled()` is asked before each bundle: a cancel keeps (commits) the bundles merged before
    it, then raises Cancelled naming them."""
    info = project_info(store)
    out: list[MergeReport] = []
    stopped = False
    # the trust's own connection is closed before the commit, whose checkpoint it could hold back
    with paused_gc(), store.atomic(), _Trust(store, info) as trust, _Writer(store) as writer:
        for n, path in enumerate(paths, 1):
            if cancelled and cancelled():
                stopped = True
                break
            path = Path(path)
            try:
                # an encrypted bundle is decrypted once, for the look at its kind and the merge
                with plain_local(path) as plain:
                    if _declared_kind(plain) == "decisions":
                        from annotary.ops.adjudication import (
                            merge_decisions,  # it builds on this module
                        )

                        writer.finish(out)
                        out.append(merge_decisions(store, path=plain))
                    else:
                        read = _read(plain, trust)  # while the previous bundle is written
                        writer.finish(out)
                        data = _merge_read(store, read, trust)
                        out.append(read.report)
                        if data is not None:
                            writer.submit(len(out) - 1, read, data)
                    out[-1].file = str(path)  # the file given, not its decryption
            except AnnotaryError as err:
                out.append(MergeReport(str(path), refusal=str(err).removeprefix(f"{path.name}: ")))
            if progress:
                progress(n, len(paths))
        writer.finish(out)
    if stopped:
        merged = [Path(r.file).name for r in out if not (r.refusal or r.already_merged)]
        raise Cancelled(f"merge cancelled after {len(out)} of {len(paths)} bundles"
                        + (f"; merged: {', '.join(merged)}" if merged else ""))
    return out


def _declared_kind(path: str | Path) -> str | None:
    """The kind a bundle's signed manifest states, to pick the merge (None if it cannot be
    read: the merge then refuses it with the reason)."""
    try:
        with open_local(path) as bundle:
            return bundle.manifest.kind
    except AnnotaryError:
        return None
