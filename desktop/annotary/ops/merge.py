"""Merging signed result bundles: roster and assignment checks, revision-aware, idempotent, logged."""

from __future__ import annotations

import contextlib
import gc
import json
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from annotary.bundles.bundle import read_bundle
from annotary.core.errors import AnnotaryError, Cancelled, TrustError
from annotary.core.items import Item
from annotary.core.labels import Label, label_problem
from annotary.ops.project import item_skeletons, project_info
from annotary.ops.queries import ProjectInfo
from annotary.store import Store
from annotary.store.db import now_iso

MAX_REASONS = 50  # kept in the log per bundle; the counts hold the rest


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


class _Items:
    """The project's item skeletons, loaded when a first label is checked, then kept for the merge."""

    def __init__(self, store: Store, project_id: str):
        self.store, self.project_id, self.loaded = store, project_id, None

    def all(self) -> dict[str, Item]:
        if self.loaded is None:
            self.loaded = item_skeletons(self.store, self.project_id)
        return self.loaded


def _trusted_signer(store: Store, info: ProjectInfo, manifest, name: str) -> None:
    p = manifest.producer
    row = store.one("SELECT public_key, removed_at FROM roster WHERE project_id=? AND key_id=?",
                    (info.id, p.key_id))
    if row is None or row["public_key"] != p.public_key:
        raise TrustError(f"{name}: signed by key {p.key_id} ({p.name}), which is not in the roster of "
                         f"project {info.id!r}: refused")
    if row["removed_at"] is not None:
        raise TrustError(f"{name}: signed by key {p.key_id} ({p.name}), removed from the roster on "
                         f"{row['removed_at'][:10]}: refused")


def merge_bundle(store: Store, *, path: str | Path, items: _Items | None = None,
                 info: ProjectInfo | None = None) -> MergeReport:
    """Merge one result bundle in one transaction; AnnotaryError (nothing stored) if it is refused."""
    path = Path(path)
    info = info or project_info(store)
    bundle = read_bundle(path, expect_kind="results")
    m = bundle.manifest
    if m.project_id != info.id:
        raise TrustError(f"{path.name}: results for project {m.project_id!r}, not {info.id!r}: refused")
    report = MergeReport(str(path), bundle.sha256, m.producer.key_id, m.producer.name)
    if store.one("SELECT 1 FROM bundle_log WHERE sha256=? AND project_id=?", (bundle.sha256, info.id)):
        report.already_merged = True
        return report
    _trusted_signer(store, info, m, path.name)
    labels = bundle.records("results.jsonl", Label)
    report.labels = len(labels)
    signer = m.producer.key_id
    assigned = {r[0] for r in store.query("SELECT item_id FROM assignments WHERE project_id=? AND annotator=?",
                                          (info.id, signer))}
    for n, lab in enumerate(labels, 1):
        if lab.project_id != info.id or lab.annotator != signer:
            raise TrustError(f"{path.name}: results.jsonl line {n}: a label of project {lab.project_id!r} "
                             f"by {lab.annotator!r} in a bundle signed by {signer} for {info.id!r}: refused")
    stray = sorted({lab.item_id for lab in labels} - assigned)
    if stray:
        more = f" (and {len(stray) - 3} more)" if len(stray) > 3 else ""
        raise TrustError(f"{path.name}: labels for items not assigned to {m.producer.name} ({signer}): "
                         f"{', '.join(map(repr, stray[:3]))}{more}: refused")
    skeletons = (items or _Items(store, info.id)).all()
    # every stored revision of this annotator: (item, question) -> {revision: data}
    stored: dict[tuple[str, str], dict[int, str]] = {}
    for iid, qid, rev, data in store.tuples(
            "SELECT item_id, question_id, revision, data FROM labels WHERE project_id=? AND annotator=?",
            (info.id, signer)):
        stored.setdefault((iid, qid), {})[rev] = data
    rows = []
    spec, project_id = info.spec, info.id
    if any(lab.revision != 1 for lab in labels):
        labels.sort(key=lambda x: x.revision)  # oldest first: a bundle may hold several
    for lab in labels:
        key = (lab.item_id, lab.question_id)
        revs = stored.get(key)
        # stored as validated: a raw line could repeat a key that SQLite's JSON reads differently
        data = lab.model_dump_json()
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
        problem = label_problem(lab, spec, skeletons[lab.item_id])
        if problem is not None:
            _refuse(report, f"label of item {lab.item_id!r}, question {lab.question_id!r}: {problem}")
            continue
        if revs:
            report.replaced += 1
            revs[lab.revision] = data
        else:
            report.accepted += 1
            stored[key] = {lab.revision: data}
        rows.append((project_id, lab.item_id, lab.question_id, signer, lab.revision, data, _submitted_at(data)))
    counts = {k: getattr(report, k) for k in ("labels", "accepted", "replaced", "ignored", "refused")}
    with store.atomic():
        log = store.conn.execute(
            "INSERT INTO bundle_log (sha256, kind, bundle_id, project_id, signer_key_id, signer_name,"
            " file_name, imported_at, counts, details) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (bundle.sha256, m.kind, m.bundle_id, m.project_id, signer, m.producer.name, path.name,
             now_iso(), json.dumps(counts), json.dumps({"round": m.round, "reasons": report.reasons}))).lastrowid
        store.conn.executemany(
            "INSERT INTO labels (project_id, item_id, question_id, annotator, revision, data, submitted_at,"
            " source) VALUES (?,?,?,?,?,?,?,?)",
            # in index order: the b-tree pages each insert touches are then the last one's
            sorted((*row, f"bundle:{log}") for row in rows))
    return report


def _submitted_at(data: str) -> str:
    """The label's submitted_at as its JSON states it (ISO 8601). `data` is a Label as pydantic
    writes it: the key comes once, at the top level (a quote inside a string is escaped, so the
    pattern cannot start there), and cutting it out costs a tenth of formatting the datetime."""
    start = data.index('"submitted_at":"') + 16
    return data[start:data.index('"', start)]


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
    items = _Items(store, info.id)  # shared by the bundles
    out: list[MergeReport] = []
    stopped = False
    with _gc_paused(), store.atomic():
        for n, path in enumerate(paths, 1):
            if cancelled and cancelled():
                stopped = True
                break
            try:
                if _declared_kind(path) == "decisions":
                    from annotary.ops.adjudication import (
                        merge_decisions,  # it builds on this module
                    )

                    out.append(merge_decisions(store, path=path))
                else:
                    out.append(merge_bundle(store, path=path, items=items, info=info))
            except AnnotaryError as err:
                out.append(MergeReport(str(path), refusal=str(err).removeprefix(f"{Path(path).name}: ")))
            if progress:
                progress(n, len(paths))
    if stopped:
        merged = [Path(r.file).name for r in out if not (r.refusal or r.already_merged)]
        raise Cancelled(f"merge cancelled after {len(out)} of {len(paths)} bundles"
                        + (f"; merged: {', '.join(merged)}" if merged else ""))
    return out


def _declared_kind(path: str | Path) -> str | None:
    """The kind a bundle's manifest claims, to pick the merge; the merge itself verifies all."""
    try:
        with zipfile.ZipFile(path) as z:
            info = z.getinfo("manifest.json")
            if info.file_size > 1 << 20:
                return None
            return json.loads(z.read(info)).get("kind")
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, AttributeError):
        return None


@contextlib.contextmanager
def _gc_paused():
    """Parsing a bundle makes many objects at once, none of them cyclic garbage; the collector's
    passes over them cost a sixth of a merge."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
