"""Dataset exports: final answers, filtered, written whole as a folder with its data file, card and manifest."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import shutil
import sqlite3
import sys
import tempfile
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from annotary import __version__
from annotary.analysis.triage import same
from annotary.core.adjudication import PROVENANCE
from annotary.core.errors import AnnotaryError, Cancelled
from annotary.datasets.exports import (
    CHAT,
    DATASET_FORMAT,
    FORMATS,
    PREFERENCE_PATHS,
    ROWS,
    TIES,
    CardFacts,
    Shape,
    arrow_schema,
    class_names,
    columns,
    dataset_card,
    dataset_score,
    jsonl_bytes,
    label_row,
    partition_path,
    parts_item,
    preference_cuts,
    preference_frame,
    preference_plan,
    preference_rows,
    preference_tail,
)
from annotary.ops import paused_gc
from annotary.ops.final import Answers, FinalAnswer, export_columns, rank
from annotary.ops.project import SKELETON_CONVERSATIONS, project_info
from annotary.ops.quality import Options, QualityReport, load_raters
from annotary.ops.triage import load_holdings, resolve_rater
from annotary.store import Store
from annotary.store.db import connect_read_only

Progress = Callable[[int, int], None]
CancelCheck = Callable[[], bool]
CHUNK = 2000  # answers per progress step and per write
CARD, MANIFEST = "README.md", "manifest.json"
KTO_RULE = ("trl-kto labels: pairwise preferred True, other False, both bad both False; ranking best group "
            "True, worst group (or the unranked, top-k) False, the middle left out, all unacceptable all "
            "False; scoring: the first axis decides, above the middle of its scale True, below False, "
            "the middle point left out")


@dataclass
class ExportReport:
    out: str
    format: str
    question: str | None
    rows: int
    answers: int
    files: dict[str, dict]  # file name -> sha256, bytes
    by_provenance: dict[str, int]
    dropped: dict[str, int]
    summary: dict

    @property
    def message(self) -> str:
        prov = ", ".join(f"{n} {p}" for p, n in self.by_provenance.items()) or "none"
        left = f"; left out: {', '.join(f'{n} {why}' for why, n in self.dropped.items())}" if self.dropped else ""
        return (f"wrote {self.out}: {self.rows} {self.format} rows from {self.answers} final answers "
                f"({prov}){left}")

    def as_dict(self) -> dict:
        return asdict(self) | {"message": self.message}


def export_choices(store: Store) -> dict[str, list[str]]:
    """Format -> ids of the project's questions it can export (for the workspace's export dialog)."""
    spec = project_info(store).spec
    return {fmt: [q.id for q in spec.questions if q.mode in modes] for fmt, modes in FORMATS.items()}


def export_dataset(store: Store, *, out: str | Path, fmt: str, **choices) -> ExportReport:
    """Write the folder OUT (train.jsonl or train.parquet, README.md, manifest.json) whole, or
    nothing: it is built beside OUT and renamed into place. AnnotaryError (one line) for bad input;
    Cancelled when `cancelled()` says so between chunks. The cycle collector is paused meanwhile
    (an export of a large project makes hundreds of thousands of acyclic objects), and Python
    hands its lock between threads more often (SWITCH_S): the threads that read texts and write
    the file take it briefly between long stretches without it, and each wait for it would
    otherwise last up to 5 ms."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, SWITCH_S))
    try:
        with paused_gc():
            return _export(store, out=out, fmt=fmt, **choices)
    finally:
        sys.setswitchinterval(interval)


def _export(store: Store, *, out: str | Path, fmt: str, question: str | None = None,
            min_provenance: str | None = None, min_agreement: float | None = None,
            exclude_flagged: bool = False, ties: str = "drop", parquet: bool = False,
            force: bool = False, options: Options | None = None, chat: bool | None = None,
            progress: Progress | None = None, cancelled: CancelCheck | None = None) -> ExportReport:
    """`chat`: prompts (and responses) as chat messages; None: so when any item is a conversation."""
    out = Path(out)
    if fmt not in FORMATS:
        raise AnnotaryError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    if ties not in TIES:
        raise AnnotaryError(f"--ties {ties!r}: one of {', '.join(TIES)}")
    floor = None if min_provenance is None else rank(min_provenance)
    if min_agreement is not None and not 0 <= min_agreement <= 1:
        raise AnnotaryError(f"--min-agreement {min_agreement}: a share from 0 to 1")
    if chat is not None and fmt not in CHAT and fmt != "sft":
        raise AnnotaryError(f"--{'' if chat else 'no-'}chat does not apply to {fmt}"
                            + ("; sft and trl-prompt-completion write chat rows" if fmt == "alpaca" else ""))
    _check_out(out, force)
    if parquet:
        try:
            import pyarrow.parquet  # noqa: F401
        except ImportError:
            raise AnnotaryError("--parquet needs pyarrow: pip install 'annotary[parquet]'") from None
    info = project_info(store)
    q = _question(info.spec, fmt, question)
    qid = q.id if q is not None else None
    # trl-preference JSON Lines: the items' texts are read on a second connection and thread from
    # when the answers are read on; what else is needed is read first (two SQLite readers in one
    # process slow each other down)
    spliced = fmt == "trl-preference" and not parquet
    chats = _conversations(store, info.id) if fmt != "labels-long" else set()
    with (_Prefetch(store, _preference_chunks(info.id), PREFETCH_AHEAD) if spliced
          else contextlib.nullcontext()) as parts:
        report, finals = export_columns(store, question=qid, options=options,
                                        read=parts.start if parts is not None else None)
        if cancelled and cancelled():  # the figures of a large project take seconds: ask before going on
            raise Cancelled()
        routing = _routing(store, info.id)
        finals = _judged(store, info, finals, routing["triage"])
        flagged = _flagged(store, info.id) if exclude_flagged else set()
        kept, dropped = _select(finals, floor, min_provenance, min_agreement, flagged)
        filtered = floor is not None or min_agreement is not None or bool(flagged)
        if fmt != "labels-long" and not kept:
            raise AnnotaryError(f"nothing to export: {_why_empty(finals, dropped, report, qid)}")
        if fmt == "labels-long":
            rows_total, chunks, shape = _label_rows(store, info.id, qid, kept, filtered, flagged)
            if not rows_total:
                raise AnnotaryError(f"nothing to export: no labels{' pass the filters' if filtered else ''}")
        else:
            talks = _talks(kept, chats)
            if chat is False and talks and fmt != "sft":
                raise AnnotaryError(f"--no-chat: {talks} of the items exported are conversations, which only chat "
                                    "rows hold; leave --no-chat out")
            # classification texts are plain: a conversation is one text, its turns named
            shape = Shape(conversational=(bool(talks) if chat is None else chat) and fmt != "classification",
                          ties=ties,
                          margin=fmt == "trl-preference" and q.scale == "strength")
            rows_total = len(kept)
            chunks = (_preference_lines(parts, q, shape, kept, dropped) if parts is not None
                      else _answer_rows(store, info.id, fmt, q, shape, kept, dropped))
        cols = columns(fmt, shape, q)
        partition = "round" if parquet and fmt == "labels-long" else None
        data_name = PARTITIONED if partition else "train.parquet" if parquet else "train.jsonl"
        made = _make_parents(out)
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
        except OSError as err:
            _remove_made(made)
            raise AnnotaryError(f"{out.parent}: cannot write here ({err.strerror or err})") from None
        try:
            sink = (_Partitions(tmp, data_name, partition, arrow_schema(cols)) if partition else
                    _Sink(tmp / data_name, arrow_schema(cols) if parquet else None, data_name))
            summary, done = _Summary(fmt), 0
            with sink:
                for n, rows in chunks:
                    if cancelled and cancelled():
                        raise Cancelled()
                    sink.add(rows)
                    summary.add(rows)
                    done += n
                    if progress:
                        progress(done, rows_total)
            if not sink.rows:
                if fmt == "labels-long":
                    raise AnnotaryError("nothing to export: no labels pass the filters")
                raise AnnotaryError(f"nothing to export: every answer was left out ({_counts(dropped)})")
            summary = summary.figures()
            created = datetime.now(UTC).isoformat(timespec="seconds")
            opts = {"format": fmt, "question": qid, "min_provenance": min_provenance,
                    "min_agreement": min_agreement, "exclude_flagged": exclude_flagged, "ties": ties,
                    "parquet": parquet, "chat": chat}
            counted = np.bincount(kept.provenance, minlength=len(PROVENANCE)).tolist()
            by_prov = {p: counted[n] for n, p in enumerate(PROVENANCE) if counted[n]}
            judged = sorted({kept.ids[p] for p in kept.item[kept.provenance == PROVENANCE.index(JUDGED)].tolist()})
            facts = CardFacts(
                title=f"{info.name}: {fmt}{f' ({qid})' if qid else ''}", project_id=info.id,
                project_name=info.name, fmt=fmt, question=qid, mode=q.mode if q else None, data_file=data_name,
                sha256=sink.sha256 if not partition else "", rows=sink.rows, columns=cols, answers=len(kept),
                by_provenance=by_prov, partition=partition,
                dropped=dict(dropped), conflicts=len(report.conflicts), decided=len(report.decided),
                agreement=_agreement(report), coverage=report.design.describe(),
                spec_version=info.spec.version(), guidelines_version=info.guidelines_version,
                label_guidelines=_label_guidelines(store, report, qid), annotators=len(report.humans),
                raters=len(report.raters), options=opts, created_at=created, version=__version__,
                summary=summary, notes=_notes(fmt, shape, q, chat, partition),
                classes=class_names(q) if fmt == "classification" else [], judged_items=len(judged),
                triage_rounds=routing["triage"], competence_rounds=routing["competence"])
            card = dataset_card(facts).encode("utf-8")
            _write_file(tmp / CARD, card)
            files = {**sink.files, CARD: {"sha256": hashlib.sha256(card).hexdigest(), "bytes": len(card)}}
            manifest = {"format": DATASET_FORMAT, "annotary": __version__, "created_at": created,
                        "project": {"id": info.id, "name": info.name}, "spec_version": facts.spec_version,
                        "guidelines_version": info.guidelines_version, "export": opts,
                        "mode": facts.mode, "data_file": data_name, "rows": sink.rows, "answers": len(kept),
                        **({"partitioned_by": partition} if partition else {}),
                        "columns": cols, **({"classes": facts.classes} if facts.classes else {}),
                        "by_provenance": by_prov, "dropped": dict(dropped),
                        "conflicts": facts.conflicts, "summary": summary, "files": files}
            if routing["triage"]:
                manifest |= {"triage_rounds": routing["triage"], "single_judge_items": judged}
            if routing["competence"]:
                manifest["competence_rounds"] = routing["competence"]
            _write_file(tmp / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8"))
            _fsync_dir(tmp)
            _swap(tmp, out, force)
        except OSError as err:
            shutil.rmtree(tmp, ignore_errors=True)
            _remove_made(made)
            raise AnnotaryError(f"{out}: cannot write the export ({err.strerror or err}); nothing was written") from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            _remove_made(made)
            raise
        return ExportReport(str(out), fmt, qid, sink.rows, len(kept), files, by_prov, dict(dropped), summary)


# --- choosing -------------------------------------------------------------------------------------

def _question(spec, fmt: str, question: str | None):
    modes = FORMATS[fmt]
    if question is not None:
        try:
            q = spec.question(question)
        except KeyError:
            raise AnnotaryError(f"no question {question!r} in the spec "
                                f"(questions: {', '.join(x.id for x in spec.questions)})") from None
        if q.mode not in modes:
            raise AnnotaryError(f"format {fmt} does not fit question {q.id!r}: it is a {q.mode} question, "
                                f"and {fmt} is made from {' or '.join(modes)} questions")
        return q
    if fmt == "labels-long":
        return None
    fits = [q for q in spec.questions if q.mode in modes]
    if len(fits) == 1:
        return fits[0]
    if not fits:
        have = ", ".join(f"{x.id} ({x.mode})" for x in spec.questions)
        raise AnnotaryError(f"format {fmt} is made from {' or '.join(modes)} questions; this project has "
                            f"none (questions: {have})")
    raise AnnotaryError(f"format {fmt}: several questions fit ({', '.join(x.id for x in fits)}); "
                        f"choose one with --question")


def _select(finals: Answers, floor: int | None, min_provenance: str | None,
            min_agreement: float | None, flagged: set[str]) -> tuple[Answers, Counter]:
    """The answers that pass the filters, and how many each left out (each answer counted
    under the first filter it fails, the reasons in the order of the answers they first left out)."""
    out = np.zeros(len(finals), dtype=bool)
    reasons = []
    if flagged:
        hit = np.fromiter((iid in flagged for iid in finals.item_ids()), bool, len(finals))
        reasons.append(("flagged item", hit))
        out |= hit
    if floor is not None:
        hit = (finals.provenance > floor) & ~out  # provenance codes are ranks
        reasons.append((f"provenance weaker than {min_provenance}", hit))
        out |= hit
    if min_agreement is not None:
        # one rating (single) has no agreement to measure: it does not pass
        weak = np.isnan(finals.support) | (finals.support + 1e-9 < min_agreement)
        hit = (finals.provenance > rank("adjudicated")) & weak & ~out
        reasons.append((f"agreement below {min_agreement}", hit))
        out |= hit
    dropped = Counter()
    for why, hit in sorted((r for r in reasons if r[1].any()), key=lambda r: int(np.argmax(r[1]))):
        dropped[why] = int(hit.sum())
    return finals.take(~out), dropped


def _talks(kept: Answers, chats: set[str]) -> int:
    """How many of the items exported are conversations."""
    return sum(1 for p in np.unique(kept.item).tolist() if kept.ids[p] in chats) if chats else 0


JUDGED = "single+judge"


def _routing(store: Store, project_id: str) -> dict[str, list[dict]]:
    """The project's triage and competence-guided rounds, from the settings each round recorded."""
    out: dict[str, list[dict]] = {"triage": [], "competence": []}
    for rnd, settings in store.query("SELECT round, settings FROM rounds WHERE project_id=? ORDER BY round",
                                     (project_id,)):
        s = json.loads(settings or "{}")
        if s.get("triage"):
            t = s["triage"]
            out["triage"].append({"round": rnd, "rater": t["rater"], "min_rater_confidence": t.get(
                "min_rater_confidence"), "tolerance": t.get("tolerance", 0.0)})
        if s.get("competence"):
            out["competence"].append({"round": rnd, "min_posterior": s["competence"]["min_posterior"]})
    return out


def _judged(store: Store, info, finals: Answers, triage: list[dict]) -> Answers:
    """One person's answers that a triage round's judge gave too (not below the round's confidence,
    scores within its tolerance) become single+judge: one person decided, with the judge's agreement."""
    single = np.flatnonzero(finals.provenance == PROVENANCE.index("single")).tolist()
    if not triage or not single:
        return finals
    holdings = load_holdings(store, info)
    judges = {}
    for t in triage:  # the newest round's settings for each rater
        try:
            judges[resolve_rater(holdings, t["rater"])] = (t["min_rater_confidence"], t["tolerance"])
        except AnnotaryError:
            continue  # a rater's labels removed since: nothing to agree with

    def agrees(f: FinalAnswer) -> bool:
        mine = holdings.people.get(f.item_id, {}).get(f.rater or "", {}).get(f.question_id)
        if not mine:
            return False
        for rid, (confidence, tolerance) in judges.items():
            answers, unsure = holdings.rater_view(rid, f.item_id, confidence)
            theirs = answers.get(f.question_id)
            if theirs and f.question_id not in unsure and same(mine, theirs, tolerance):
                return True
        return False

    for k in single:
        if agrees(finals.row(k)):
            finals.provenance[k] = PROVENANCE.index(JUDGED)
    return finals


FLAGS = """
    SELECT item_id, max(revision), json_array_length(data, '$.flags')
    FROM labels WHERE project_id=? AND retracted=0 GROUP BY item_id, question_id, annotator
"""


def _flagged(store: Store, project_id: str) -> set[str]:
    """Items any current label flags (unsafe, needs expert, unclear …), whatever its question."""
    return {iid for iid, _, n in store.conn.execute(FLAGS, (project_id,)) if n}


def _label_guidelines(store: Store, report: QualityReport, qid: str | None) -> list[str]:
    """The guidelines versions the labels were made under (from the ratings the report read)."""
    if report.guidelines_versions:
        return report.guidelines_versions
    row = store.one("SELECT json_extract(data, '$.guidelines_version') FROM labels WHERE project_id=?"
                    " AND retracted=0 AND (?2 IS NULL OR question_id=?2) LIMIT 1", (report.project_id, qid))
    return [str(row[0])] if row and row[0] is not None else []


def _why_empty(finals, dropped: Counter, report: QualityReport, qid: str | None) -> str:
    what = f"question {qid!r}" if qid else "this project"
    if finals:
        return f"every final answer of {what} is left out by the filters ({_counts(dropped)})"
    return (f"{what} has no final answers yet ({len(report.conflicts)} conflicts undecided; merge labels "
            f"or decisions first)")


def _counts(c) -> str:
    return ", ".join(f"{n} {why}" for why, n in c.items()) or "no rows"


# --- rows -----------------------------------------------------------------------------------------

def _conversations(store: Store, project_id: str) -> set[str]:
    """Items whose prompt is a conversation: from the skeleton index, reading whole only the items
    without a skeleton."""
    found = {r[0] for r in store.conn.execute(SKELETON_CONVERSATIONS, (project_id,))}
    return found | {r[0] for r in store.conn.execute(
        "SELECT id FROM items WHERE project_id=? AND skeleton IS NULL AND json_type(data, '$.prompt')='array'",
        (project_id,))}


@dataclass
class _Lines:
    """Rows already encoded as JSON Lines (UTF-8)."""

    data: bytes
    count: int


# the parts a preference row takes (PREFERENCE_PATHS) of the next items from the one after seq ?
# on, as one row: their ids and parts joined by \x1e (JSON text and item ids hold no control
# character), their seqs and the parts' sizes in bytes joined by commas; so the reading thread
# hands Python one row per chunk of items (the items are matched to their answers by seq)
PREFERENCE_CHUNK = f"""
    SELECT group_concat(seq), group_concat(id, char(30)), CAST(group_concat(parts, char(30)) AS BLOB), max(seq),
           group_concat(length(CAST(parts AS BLOB)))
    FROM (SELECT seq, id, json_extract(data, {', '.join(repr(p) for p in PREFERENCE_PATHS)}) AS parts
          FROM items WHERE project_id=? AND seq > ? ORDER BY seq LIMIT ?)
"""
PREFETCH_ITEMS = 1000
# chunks of texts read ahead while the answers are worked out (about 1.3 MB each at 1.3 KiB an
# item): enough to keep both cores busy, few enough that a large project's texts are not all held
PREFETCH_AHEAD = 16
SWITCH_S = 0.0005  # Python's thread switch interval during an export (the default is 5 ms)
CHANGED = ("the project changed while it was exported (an item with a final answer was not read); "
           "nothing was written: export again")


def _preference_chunks(project_id: str) -> Callable[[sqlite3.Connection], Iterator[tuple]]:
    def read(conn: sqlite3.Connection) -> Iterator[tuple]:
        last = -(2**63)
        while True:
            seqs, ids, parts, last, sizes = conn.execute(PREFERENCE_CHUNK,
                                                         (project_id, last, PREFETCH_ITEMS)).fetchone()
            if seqs is None:
                return
            yield seqs, ids, parts, sizes
    return read


def _parts(chunk: tuple, by_seq: bool = False) -> tuple[bytes, list[tuple]]:
    """The joined parts of a PREFERENCE_CHUNK row, and (id, start, end) of each item's parts in
    them, in the items' order (the parts are not copied); (seq, start, end) when `by_seq`."""
    seqs, ids, joined, sizes = chunk
    size = np.fromstring(sizes, dtype=np.int64, sep=",")
    ends = np.cumsum(size + 1) - 1  # each part is followed by a separator
    order = np.fromstring(seqs, dtype=np.int64, sep=",")
    spans = list(zip(order.tolist() if by_seq else ids.split("\x1e"), (ends - size).tolist(), ends.tolist(),
                     strict=True))
    if (order[1:] < order[:-1]).any():  # group_concat keeps the order it is given
        spans = [spans[k] for k in np.argsort(order, kind="stable").tolist()]
    return joined, spans


class _Prefetch:
    """What `read` takes from the store, read on a connection and thread of its own from start()
    on, while the caller works on something else: SQLite reads without holding Python's lock, so
    both cores work (each value should be a large chunk: the thread takes Python's lock once per
    value). Start it when the caller is done with its own reading: two SQLite readers in one
    process slow each other down. At most `ahead` values wait in memory. A file store only (an
    in-memory one is read in line, on the store's connection). Iterate for the values (which
    starts the reader if need be); close() stops it."""

    def __init__(self, store: Store, read: Callable[[sqlite3.Connection], Iterator], ahead: int = 128):
        self.store, self.read = store, read
        self.queue: queue.Queue = queue.Queue(maxsize=ahead)
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        if self.thread is None and self.store.path is not None:
            self.thread = threading.Thread(target=self._run, name="export-read", daemon=True)
            self.thread.start()

    def _run(self) -> None:
        try:
            conn = connect_read_only(self.store.path)
            try:
                for value in self.read(conn):
                    if self.stopped.is_set():
                        return
                    self._put(value)
            finally:
                conn.close()
            self._put(_END)
        except BaseException as err:  # handed to the reading side
            self._put(err)

    def _put(self, value) -> None:
        while not self.stopped.is_set():
            try:
                self.queue.put(value, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self):
        self.start()
        if self.thread is None:
            yield from self.read(self.store.conn)
            return
        while (value := self.queue.get()) is not _END:
            if isinstance(value, BaseException):
                raise value
            yield value

    def close(self) -> None:
        self.stopped.set()
        if self.thread is not None:
            while self.thread.is_alive():
                try:
                    self.queue.get(timeout=0.1)
                except queue.Empty:
                    pass
            self.thread.join()

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()


_END = object()


def _preference_lines(parts: _Prefetch, q, shape: Shape, kept: Answers, dropped: Counter):
    """(answers, _Lines) chunks of trl-preference JSON Lines: rows spliced from the JSON text of
    the items' parts (preference_frame around memoryviews into the chunk read) where they can be,
    built from the decoded parts where not. Final answers come in the items' order: one pass over
    both, matched by seq (the answers' seqs taken a chunk of items at a time)."""
    done, pieces, count, k = 0, [], 0, 0
    frames: dict[tuple[int, bool], tuple] = {}  # answers are shared between items: one frame each
    cuts_of = preference_cuts
    seqs = kept.seqs[kept.item]  # ascending
    answers = list(map(kept.values.__getitem__, kept.value.tolist()))
    for chunk in parts:
        joined, spans = _parts(chunk, by_seq=True)
        view = memoryview(joined)
        top = int(np.searchsorted(seqs, spans[-1][0], side="right")) if spans else k
        wanted, mine, j = [*seqs[k:top].tolist(), None], answers[k:top], 0  # None: past the chunk's answers
        for seq, lo, hi in spans:
            while wanted[j] == seq:
                answer = mine[j]
                j += 1
                done += 1
                cuts = cuts_of(joined, lo, hi)
                conversation = cuts is not None and joined[cuts[0]] == 91  # the prompt is a list
                frame = frames.get((id(answer), conversation))
                if frame is None:
                    plan = preference_plan(answer, q, shape, dropped)  # counts what gives no row
                    if plan is None:
                        continue
                    frame = frames[(id(answer), conversation)] = (
                        plan[0], *preference_frame(shape, conversation, preference_tail(plan[2])))
                if cuts is None:
                    pieces.append(jsonl_bytes(preference_rows(parts_item(joined[lo:hi]), answer, q, shape,
                                                              Counter())))
                else:
                    start, first, second = cuts
                    one, two = view[first:second - 1], view[second:hi - 1]
                    best, a, b, c, d = frame
                    pieces += (a, view[start:first - 1], b, two, c, one, d) if best else \
                        (a, view[start:first - 1], b, one, c, two, d)
                count += 1
        if j < top - k:  # an answer whose item was not read
            raise AnnotaryError(CHANGED)
        k = top
        if done >= CHUNK:
            yield done, _Lines(b"".join(pieces), count)
            done, pieces, count = 0, [], 0
    if k < len(kept):
        raise AnnotaryError(CHANGED)
    if done:
        yield done, _Lines(b"".join(pieces), count)


def _answer_rows(store: Store, project_id: str, fmt: str, q, shape: Shape, kept: Answers, dropped: Counter):
    """(answers, rows) chunks. Final answers come in the items' order, so one pass over the items
    table reads each item once and keeps only a chunk's worth in memory."""
    build = ROWS[fmt]
    at = _Walk(kept)
    done, rows = 0, []
    for seq, data in store.tuples("SELECT seq, data FROM items WHERE project_id=? ORDER BY seq", (project_id,)):
        found = at.rows(seq)
        if not found:
            continue
        item = json.loads(data)
        for k in found:
            rows += build(item, kept.values[kept.value[k]], q, shape, dropped)
        done += len(found)
        if done >= CHUNK:
            yield done, rows
            done, rows = 0, []
    if done:
        yield done, rows


class _Walk:
    """The final answers of each item, asked for in the items' order (by seq): one pass, with
    the seqs as a Python list WINDOW rows at a time."""

    WINDOW = 65_536

    def __init__(self, kept: Answers):
        self.seqs = kept.seqs[kept.item]
        self.k, self.lo, self.window = 0, 0, []

    def _seq(self, k: int) -> int | None:
        if k - self.lo >= len(self.window):
            if k >= len(self.seqs):
                return None
            self.lo, self.window = k, self.seqs[k:k + self.WINDOW].tolist()
        return self.window[k - self.lo]

    def rows(self, seq: int) -> range:
        """The rows of the item with this seq (none for an item without final answers)."""
        k = self.k
        while (s := self._seq(k)) is not None and s < seq:
            k += 1
        first = k
        while self._seq(k) == seq:
            k += 1
        self.k = k
        return range(first, k)


# in the items' order, each item, question and rater's revisions oldest first (the items'
# seq index, then the labels' own unique index: no sort); the round is that of the rater's
# assignment of the item (0: none, as outside raters' labels)
LABELS = """
    SELECT l.item_id, l.question_id, l.annotator, l.revision, l.data, i.kind, coalesce(a.round, 0), i.seq
    FROM items i JOIN labels l ON l.project_id=i.project_id AND l.item_id=i.id
    LEFT JOIN assignments a ON a.project_id=l.project_id AND a.item_id=l.item_id AND a.annotator=l.annotator
    WHERE i.project_id=:p AND l.retracted=0 AND (:q IS NULL OR l.question_id=:q)
    ORDER BY i.seq, l.question_id, l.annotator, l.revision
"""
DECISIONS = """
    SELECT d.item_id, d.question_id, d.reviewer, d.revision, d.data, i.kind, 0, i.seq
    FROM items i JOIN decisions d ON d.project_id=i.project_id AND d.item_id=i.id
    WHERE i.project_id=:p AND (:q IS NULL OR d.question_id=:q)
    ORDER BY i.seq, d.question_id, d.reviewer, d.revision
"""
LABEL_COUNT = """
    SELECT (SELECT count(*) FROM labels WHERE project_id=:p AND retracted=0 AND (:q IS NULL OR question_id=:q))
         + (SELECT count(*) FROM decisions WHERE project_id=:p AND (:q IS NULL OR question_id=:q))
"""


def _label_rows(store: Store, project_id: str, qid: str | None, kept: Answers, filtered: bool,
                flagged: set[str]):
    """(labels and decisions, chunks, shape) of labels-long: every label revision, then every
    decision, read as they are written (a revision is current when the next row is not of the
    same item, question and rater), so memory holds one chunk; the final answers' provenance is
    taken item by item, in the same order."""
    raters = load_raters(store, project_id)
    p = {"p": project_id, "q": qid}

    def found():
        for kind, sql in (("label", LABELS), ("decision", DECISIONS)):
            last = None
            for row in store.tuples(sql, p):
                if last is not None:
                    yield kind, last, last[:3] != row[:3]
                last = row
            if last is not None:
                yield kind, last, True

    def chunks():
        rows, done = [], 0
        walk, seen, prov = None, None, {}
        for kind, (iid, q, who, rev, data, item_kind, round_, seq), current in found():
            if walk is None or walk[0] != kind:  # the decisions go through the items again
                walk, seen = (kind, _Walk(kept)), None
            if seq != seen:  # the item's final answers: question -> provenance (the first one's)
                seen, prov = seq, {}
                for k in walk[1].rows(seq):
                    prov.setdefault(kept.questions[kept.question[k]], PROVENANCE[kept.provenance[k]])
            done += 1
            if not ((filtered and q not in prov) or iid in flagged):
                rows.append(label_row(
                    item_id=iid, item_kind=item_kind, question_id=q, kind=kind, round=round_, rater=who,
                    rater_name=raters.names.get(who, who), human=who not in raters.machines, revision=rev,
                    current=current, data=json.loads(data), provenance=prov.get(q)))
            if done >= CHUNK:
                yield done, rows
                rows, done = [], 0
        if done:
            yield done, rows

    return store.one(LABEL_COUNT, p)[0], chunks(), Shape()


class _Summary:
    """The figures a format's card and manifest add: the rubric dataset score, KTO's balance, pairs."""

    def __init__(self, fmt: str):
        self.fmt, self.rows, self.scores, self.labels, self.items = fmt, 0, [], Counter(), set()

    def add(self, rows: list[dict] | _Lines) -> None:
        if isinstance(rows, _Lines):  # formats whose card needs no figure from the rows
            self.rows += rows.count
            return
        self.rows += len(rows)
        if self.fmt == "rubric":
            self.scores += [r["score"] for r in rows]
        elif self.fmt == "trl-kto":
            self.labels.update(r["label"] for r in rows)
        elif self.fmt == "ranking-pairs":
            self.items.update(r["item_id"] for r in rows)
        elif self.fmt == "classification":
            self.labels.update(n for r in rows for n in (r["labels"] if "labels" in r else [r["label"]]))

    def figures(self) -> dict:
        if self.fmt == "rubric":
            return {"dataset score (mean item score clipped to 0..1)": dataset_score(self.scores),
                    "items scored": sum(1 for s in self.scores if s is not None)}
        if self.fmt == "trl-kto":
            return {"desirable": self.labels[True], "undesirable": self.labels[False]}
        if self.fmt == "ranking-pairs":
            return {"items": len(self.items), "pairs": self.rows}
        if self.fmt == "classification":
            return {f"rows labelled {name}": n for name, n in self.labels.most_common()}
        return {}


def _notes(fmt: str, shape: Shape, q, chat: bool | None = None, partition: str | None = None) -> list[str]:
    notes = []
    if "prompt" in columns(fmt, shape, q):
        if chat:
            notes.append("chat rows (--chat): prompts are role/content messages, a plain instruction as one user "
                         "message, and responses are assistant messages; trainers apply the model's chat template")
        elif shape.conversational:
            notes.append("chat rows: prompts are role/content messages and responses assistant messages, the "
                         "default because some items are conversations (plain instructions are one user message)")
        else:
            notes.append("prompts are plain strings (no item is a conversation), joined to the responses without a "
                         "chat template; export with --chat for a chat model")
    if fmt == "trl-kto":
        notes.append(KTO_RULE)
    if fmt in ("trl-preference", "ranking-pairs", "trl-kto", "sft", "trl-prompt-completion", "alpaca"):
        notes.append("a tie never becomes chosen (--ties drop)" if shape.ties == "drop" else
                     "--ties keep: a tie is a row marked tie=true where responses are compared, and both "
                     "responses count as chosen where a format needs chosen ones (trl-kto: both desirable)")
    if shape.margin:
        notes.append(f"margin: steps from the middle of the {q.points}-point strength scale (1 = marginally "
                     f"better, {q.points // 2} = much better)")
    if fmt == "alpaca":
        notes.append("a conversation's earlier turns are in `input` (as 'Role: text'), before the context")
        notes.append("for LLaMA-Factory (dataset_info.json: formatting alpaca); TRL's SFTTrainer does not read "
                     "this layout (KeyError: 'text'): export sft or trl-prompt-completion for TRL")
    if fmt == "classification":
        notes.append("a class is a category's name as the spec writes it; 'Other' (where the question offers "
                     "it) has the annotator's own words in `other`" + (", an agreed one the placeholder "
                     "\"(the annotators' own words)\"" if q.other else ""))
        if q.multiple:
            notes.append("`labels` may be empty: none of the categories applies")
    if fmt == "labels-long":
        notes.append("`answer` is JSON text, in the item's own response order; `provenance` is that of the "
                     "item and question's final answer (empty while it is a conflict)")
        notes.append("`round`: the round the item was assigned to the rater in; 0 for labels outside any "
                     "round (outside raters' imported labels) and for reviewers' decisions"
                     + (" (the partition folder's name)" if partition else ""))
    return notes


def _agreement(report: QualityReport) -> list[dict]:
    return [{"variable": s.key, "level": s.level, "units": s.pairable, "percent": s.percent_agreement,
             "chance": s.expected_agreement, "fleiss": s.fleiss_kappa, "fleiss_se": s.fleiss_kappa_se,
             "fleiss_low": s.fleiss_kappa_low, "fleiss_high": s.fleiss_kappa_high, "alpha": s.alpha,
             "alpha_low": s.alpha_low, "alpha_high": s.alpha_high, "w": s.kendall_w, "tau": s.mean_tau,
             "band": s.band} for s in report.variables]


# --- writing --------------------------------------------------------------------------------------

def _put(f, data: bytes) -> None:
    """Every byte of an export goes through here (a test makes the disk full)."""
    f.write(data)


class _Sink:
    """The data file: rows in, bytes hashed and written on two threads of their own (both without
    Python's lock, so the next rows are built meanwhile), fsynced at the end. A write that fails
    there is raised here, at the next write or on leaving."""

    def __init__(self, path: Path, schema=None, name: str | None = None):
        self.name = name or path.name
        self.f = open(path, "wb")  # noqa: SIM115  (closed by __exit__)
        self.hash, self.size, self.rows = hashlib.sha256(), 0, 0
        self.schema, self.writer = schema, None
        self.closed = False  # read by pyarrow's file wrapper
        self.pending: queue.Queue = queue.Queue(maxsize=8)  # to write
        self.unhashed: queue.Queue = queue.Queue(maxsize=8)
        self.failed: BaseException | None = None
        self.threads = [threading.Thread(target=self._drain, name="export-write", daemon=True),
                        threading.Thread(target=self._hash, name="export-hash", daemon=True)]
        for thread in self.threads:
            thread.start()
        if schema is not None:
            import pyarrow as pa
            import pyarrow.parquet as pq

            self.pa = pa
            self.writer = pq.ParquetWriter(pa.PythonFile(self, mode="w"), schema)

    def _drain(self) -> None:
        while (data := self.pending.get()) is not None:
            if self.failed is None:
                try:
                    _put(self.f, data)
                except BaseException as err:  # raised on the exporting side
                    self.failed = err

    def _hash(self) -> None:
        while (data := self.unhashed.get()) is not None:
            self.hash.update(data)

    # the file interface pyarrow writes through
    def write(self, data) -> int:
        if self.failed is not None:
            raise self.failed
        data = bytes(data)
        self.size += len(data)
        self.pending.put(data)
        self.unhashed.put(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        pass  # written in order by the thread, flushed and fsynced on leaving

    def add(self, rows: list[dict] | _Lines) -> None:
        if isinstance(rows, _Lines):
            if rows.count:
                self.rows += rows.count
                self.write(rows.data)
            return
        if not rows:
            return
        self.rows += len(rows)
        if self.writer is not None:
            self.writer.write_table(self.pa.Table.from_pylist(rows, schema=self.schema))
        else:
            self.write(jsonl_bytes(rows))

    def add_table(self, table) -> None:
        """Arrow rows, written as row groups of ROW_GROUP rows."""
        self.rows += table.num_rows
        self.writer.write_table(table, row_group_size=ROW_GROUP)

    @property
    def sha256(self) -> str:
        return self.hash.hexdigest()

    @property
    def files(self) -> dict[str, dict]:
        return {self.name: {"sha256": self.sha256, "bytes": self.size}}

    def __enter__(self):
        return self

    def __exit__(self, kind, *_):
        try:
            try:
                if self.writer is not None and kind is None:
                    self.writer.close()
            finally:
                self.pending.put(None)
                self.unhashed.put(None)
                for thread in self.threads:
                    thread.join()
            if kind is None:
                if self.failed is not None:
                    raise self.failed
                self.f.flush()
                os.fsync(self.f.fileno())
        finally:
            self.f.close()


PARTITIONED = "data"  # the folder of a partitioned export's files
ROW_GROUP = 65_536  # rows per Parquet row group of a partitioned export


class _Partitions:
    """Parquet partitioned Hive-style, as distributed engines read it: the rows of each value of
    `column` in FOLDER/column=value/part-0.parquet, without the column (it is in the path). Rows
    come in any order of values: each value's are kept as Arrow tables until a row group's worth
    (ROW_GROUP) is there, then written, so memory holds at most a row group per value."""

    def __init__(self, root: Path, folder: str, column: str, schema):
        import pyarrow as pa

        self.pa, self.root, self.folder, self.column = pa, root, folder, column
        self.schema = schema.remove(schema.get_field_index(column))
        self.sinks: dict[object, _Sink] = {}
        self.waiting: dict[object, list] = {}  # value -> Arrow tables not written yet
        self.rows = 0

    def add(self, rows: list[dict]) -> None:
        by_value: dict[object, list[dict]] = {}
        for row in rows:
            by_value.setdefault(row.pop(self.column), []).append(row)
        for value, part in by_value.items():
            tables = self.waiting.setdefault(value, [])
            tables.append(self.pa.Table.from_pylist(part, schema=self.schema))
            self.rows += len(part)
            if sum(t.num_rows for t in tables) >= ROW_GROUP:
                self._write(value)

    def _write(self, value, last: bool = False) -> None:
        """Whole row groups of a value's rows waiting (all of them when `last`)."""
        table = self.pa.concat_tables(self.waiting.pop(value))
        whole = table.num_rows if last else table.num_rows - table.num_rows % ROW_GROUP
        if whole < table.num_rows:
            self.waiting[value] = [table.slice(whole)]
        if not whole:
            return
        sink = self.sinks.get(value)
        if sink is None:
            name = partition_path(self.folder, self.column, value)
            (self.root / name).parent.mkdir(parents=True)
            sink = self.sinks[value] = _Sink(self.root / name, self.schema, name)
        sink.add_table(table.slice(0, whole))

    @property
    def files(self) -> dict[str, dict]:
        return {name: f for value in sorted(self.sinks) for name, f in self.sinks[value].files.items()}

    def __enter__(self):
        return self

    def __exit__(self, kind, *exc):
        try:
            if kind is None:
                for value in list(self.waiting):
                    self._write(value, last=True)
        finally:
            failed = None
            for sink in self.sinks.values():
                try:
                    sink.__exit__(kind, *exc)
                except BaseException as err:  # every file is closed; the first failure is raised
                    failed = failed or err
            if failed is not None and kind is None:
                raise failed
        if kind is None:
            for value in self.sinks:
                _fsync_dir(self.root / self.folder / f"{self.column}={value}")
            _fsync_dir(self.root / self.folder)


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        _put(f, data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _is_export(path: Path) -> bool:
    try:
        return json.loads((path / MANIFEST).read_text(encoding="utf-8")).get("format") == DATASET_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def _make_parents(out: Path) -> list[Path]:
    """Create the missing folders above OUT; the ones made, deepest first (removed again if the export fails)."""
    missing = []
    for parent in out.absolute().parents:
        if parent.is_dir():
            break
        missing.append(parent)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        _remove_made(missing)
        raise AnnotaryError(f"{out.parent}: cannot create the folder ({err.strerror or err})") from None
    return missing


def _remove_made(made: list[Path]) -> None:
    for folder in made:
        with contextlib.suppress(OSError):
            folder.rmdir()


def _check_out(out: Path, force: bool) -> None:
    parent = next((p for p in out.absolute().parents if p.exists() or p.is_symlink()), None)
    if parent is not None and not parent.is_dir():
        raise AnnotaryError(f"{parent}: not a folder")
    if not (out.exists() or out.is_symlink()):
        return
    if not force:
        raise AnnotaryError(f"{out}: already exists (pass --force to replace it)")
    if out.is_dir() and not out.is_symlink() and not _is_export(out):
        # --force replaces an earlier export or a file, never a folder of other things
        raise AnnotaryError(f"{out}: a folder that is not an Annotary export; refusing to replace it")


def _swap(tmp: Path, out: Path, force: bool) -> None:
    """Rename the finished folder into place; an export it replaces is moved aside first and
    removed only once the new one is there."""
    old = None
    if out.exists() or out.is_symlink():
        if not force:  # another export got there while this one was written
            raise AnnotaryError(f"{out}: already exists (pass --force to replace it)")
        old = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.old")
        os.replace(out, old)
    try:
        os.replace(tmp, out)
    except OSError:
        if old is not None:
            os.replace(old, out)
        raise
    _fsync_dir(out.parent)
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)
