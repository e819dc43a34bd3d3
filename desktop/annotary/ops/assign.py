"""Assigning a round: balanced overlap, hidden gold, calibration with feedback, one signed task bundle each."""

from __future__ import annotations

import json
import os
import random
import re
import tempfile
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

from annotary.analysis.triage import WAITING
from annotary.analysis.variables import Options
from annotary.bundles.bundle import write_bundle
from annotary.bundles.identity import Identity
from annotary.bundles.sealed import private_folder
from annotary.core.errors import AnnotaryError, BundleError, Cancelled, ItemError, TrustError
from annotary.core.items import Item
from annotary.ops import queries
from annotary.ops.bundling import instance_fields
from annotary.ops.project import ANSWER, insert_items, project_info, read_source_items
from annotary.ops.quality import disputed_items, quality_report
from annotary.ops.roster import members
from annotary.ops.sealing import (
    DEFAULT_CHOICE,
    Encryption,
    recipients,
    roster_recipient,
    seal_options,
)
from annotary.ops.triage import (
    DEFAULT_MIN_POSTERIOR,
    MIN_SHARED,
    competence_item_reason,
    competence_questions,
    fit_estimates,
    item_reason,
    load_holdings,
    resolve_rater,
)
from annotary.store import Store
from annotary.store.db import now_iso


@dataclass(frozen=True)
class TaskBundle:
    annotator: str
    name: str
    path: Path
    normal: int
    gold: int
    calibration: int


@dataclass(frozen=True)
class AssignReport:
    project_id: str
    round: int
    items: int  # normal items given out this round
    added: dict[str, int]  # gold and calibration items added to the project
    bundles: list[TaskBundle]
    notes: list[str]
    reasons: dict[str, int] = field(default_factory=dict)  # triage: items per reason, sent or held
    encrypted: bool = False  # each bundle encrypted to its annotator and the coordinator

    @property
    def message(self) -> str:
        per = ", ".join(f"{b.name} {b.normal}+{b.gold} gold+{b.calibration} calibration" for b in self.bundles)
        sealed = ", each bundle encrypted to its annotator and you" if self.encrypted else ""
        return f"round {self.round}: {self.items} items to {len(self.bundles)} annotators ({per}){sealed}"

    @property
    def reason_lines(self) -> list[str]:
        width = max((len(str(n)) for n in self.reasons.values()), default=1)
        return [f"{n:>{width}} {'item ' if n == 1 else 'items'}  {why}" for why, n in self.reasons.items()]


HIDDEN = ("metadata", "kind", "gold", "explanation")
_MARKS = tuple(f'"{key}":' for key in HIDDEN)


def task_view(kind: str, data: str) -> str:
    """An item (its stored JSON) as an annotator receives it: gold looks like any other item, and
    nothing of the source's metadata travels (datasets keep other people's labels and the answer there)."""
    metadata, kind_, gold, explanation = _MARKS  # four plain searches: no generator per item
    if (kind == "normal" and metadata not in data and kind_ not in data and gold not in data
            and explanation not in data):
        return data  # nothing to hide: most items, and re-encoding them is most of an assignment's time
    d = json.loads(data)
    d.pop("metadata", None)
    if kind != "calibration":  # calibration items show the expert answer after submitting
        for key in ("kind", "gold", "explanation"):
            d.pop(key, None)
    return json.dumps(d, ensure_ascii=False, separators=(",", ":"))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:32] or "annotator"


def assign_round(store: Store, *, identity: Identity, out_dir: str | Path, overlap: int | None = None,
                 round: int | None = None, gold_paths: Sequence[str | Path] = (),
                 gold_fraction: float | None = None, calibration_paths: Sequence[str | Path] = (),
                 adaptive: bool = False, fmt: str = "auto", feedback: bool = False,
                 triage: str | None = None, min_rater_confidence: float | None = None,
                 tolerance: float = 0.0, weak_support: float | None = None, competence: bool = False,
                 min_posterior: float | None = None, encryption: Encryption = DEFAULT_CHOICE,
                 progress: Callable[[int, int], None] | None = None,
                 cancelled: Callable[[], bool] | None = None) -> AssignReport:
    """Give each item to `overlap` distinct annotators (least loaded first) and write their bundles.

    Items keep the annotators of earlier rounds, so a later round with a higher overlap tops
    every item up. `adaptive` instead sends disputed items (see quality.disputed_items; an agreed
    item whose support is below `weak_support`, default 0.75, counts as disputed) to one more
    annotator each, up to `overlap` annotators when given, never to someone who had it before. Gold items: all of the project's
    to everyone, or about `gold_fraction` of each annotator's load. Calibration items: all, first.
    `feedback`: each annotator also gets, as calibration items, the items where a reviewer decided
    against their answer; after labelling one again they see the decision and its reason.
    `triage` (a non-human rater's name): an item with no one goes to one person; an item with one
    person's answer to a second only where the rater has no answer, is below `min_rater_confidence`
    or disagrees (scores within `tolerance` points agree); an item where people split to one more,
    up to `overlap` people (default 3). The report counts the items per reason.
    `competence`: as triage, but an item goes to one more person where people split, or where
    the Dawid–Skene posterior of the people's answer is below `min_posterior` (default 0.9), or
    where no one who answered has an estimate; the estimates route items, never decide answers.
    `encryption`: each bundle encrypted to its annotator and the coordinator (and the cards given);
    by default when the spec is confidential.
    `progress(bundles written, bundles)` after each bundle; `cancelled()` is asked before each: a
    round cancelled partway raises Cancelled and leaves nothing, neither bundles nor the round.
    """
    info = project_info(store)
    spec = info.spec
    if identity.key_id != info.coordinator_key_id:
        raise TrustError(f"this project is coordinated by key {info.coordinator_key_id} "
                         f"({info.coordinator_name}); your key {identity.key_id} cannot sign its tasks")
    people = {m.key_id: m.name for m in members(store, active_only=True, role="annotator")}
    extra = encryption.check()  # every card checked before anything is written
    if not people:
        raise AnnotaryError("no active annotators in the roster: add their cards with `annotary roster add`")
    if triage is not None and adaptive:
        raise AnnotaryError("choose --triage or --adaptive, not both")
    if competence and (triage is not None or adaptive):
        raise AnnotaryError("choose one of --competence, --triage and --adaptive")
    if min_posterior is not None and not competence:
        raise AnnotaryError("--min-posterior is for a competence round: add --competence")
    if min_posterior is not None and not 0 < min_posterior <= 1:
        raise AnnotaryError(f"minimum posterior {min_posterior} must be above 0 and at most 1")
    if min_rater_confidence is not None and triage is None:
        raise AnnotaryError("--min-rater-confidence is for a triage round: add --triage RATER")
    if min_rater_confidence is not None and not 0 <= min_rater_confidence <= 1:
        raise AnnotaryError(f"minimum rater confidence {min_rater_confidence} must be between 0 and 1")
    if tolerance < 0:
        raise AnnotaryError(f"tolerance {tolerance} must be 0 or more scale points")
    if weak_support is not None and not adaptive:
        raise AnnotaryError("--weak-consensus is for an adaptive round: add --adaptive")
    if weak_support is not None and not 0 <= weak_support <= 1:
        raise AnnotaryError(f"weak consensus {weak_support} must be a share between 0 and 1")
    if (triage is not None or competence) and overlap is None:
        overlap = min(3, len(people))
    if overlap is None and not adaptive:
        raise AnnotaryError("give the overlap: how many annotators label each item")
    if overlap is not None and overlap > len(people):
        many = "s" if len(people) != 1 else ""
        raise AnnotaryError(f"overlap {overlap} is larger than the roster ({len(people)} active annotator{many})")
    if overlap is not None and overlap < 1:
        raise AnnotaryError("overlap must be at least 1")
    if gold_fraction is not None and not 0 < gold_fraction < 1:
        raise AnnotaryError(f"gold fraction {gold_fraction} must be between 0 and 1")
    rounds = [r[0] for r in store.query("SELECT round FROM rounds WHERE project_id=?", (info.id,))]
    last = max(rounds, default=0)
    round = last + 1 if round is None else round
    if round <= last:
        raise AnnotaryError(f"round {round} is already assigned; the next round is {last + 1}")
    if adaptive and not last:
        raise AnnotaryError("an adaptive round needs the labels of an earlier round: assign round 1 first")

    added = _new_items(store, info.id, spec, gold_paths, calibration_paths, fmt)
    # gold and calibration items (few), and who had them; normal items are read in chunks as they are planned
    special = _special_items(store, info.id) + [(i.id, i.kind) for i in added]
    if gold_fraction is not None and not any(kind == "gold" for _, kind in special):
        raise AnnotaryError("no gold items: mark items kind \"gold\" (with their answers) or pass --gold FILE")
    had = _holders(store, info.id, [iid for iid, _ in special])

    notes: list[str] = []
    reasons: dict[str, int] = {}
    demands: list[tuple[str, int, frozenset[str]]] | None = None  # None: every item up to the overlap
    if triage is not None or competence or adaptive:
        # these read every label anyway (the rater's, the estimates, the quality report)
        given, labeled = _assigned(store, info.id, people, everyone=triage is not None)

        def covering(iid: str) -> int:  # a removed annotator's unlabeled items need someone else
            return sum(1 for a in given.get(iid, ()) if a in people or (iid, a) in labeled)

        if triage is not None:
            need, reasons = _triage_need(store, info, triage, given, labeled, people,
                                         min_rater_confidence=min_rater_confidence, tolerance=tolerance,
                                         cap=overlap)
        elif competence:
            min_posterior = DEFAULT_MIN_POSTERIOR if min_posterior is None else min_posterior
            need, reasons = _competence_need(store, info, given, labeled, people, min_posterior=min_posterior,
                                             tolerance=tolerance, cap=overlap)
        else:
            options = Options() if weak_support is None else Options(weak_support=weak_support)
            disputed = disputed_items(quality_report(store, options=options), store)
            below = [iid for iid, _ in disputed if overlap is None or covering(iid) < overlap]
            # only someone who has not had the item can be one more annotator
            need = {iid: 1 for iid in below if any(a not in given.get(iid, ()) for a in people)}
            if not disputed:
                idle = "no item is disputed"
            elif not below:
                idle = f"no disputed item has fewer than {overlap} annotators"
            else:
                idle = (f"every active annotator has already had the {len(below)} disputed item"
                        f"{'s' if len(below) != 1 else ''}; add annotators to the roster, or send them "
                        "to a reviewer (`annotary adjudication create`)")
            if not need and not feedback:
                raise AnnotaryError(f"nothing to send: {idle}")
        demands = [(iid, k, frozenset(given.get(iid, ()))) for iid, k in need.items()]
        del given, labeled
    lessons = _feedback_items(store, info, people) if feedback else {}
    if demands == [] and not any(lessons.values()):
        if adaptive:
            raise AnnotaryError(f"nothing to send: {idle}, and no decision went against anyone's answer")
        summary = "; ".join(f"{n} {why}" for why, n in reasons.items())
        what = "triage" if triage is not None else "competence routing"
        raise AnnotaryError(f"nothing to send under {what}: {summary or 'no items'}")

    settings = {"overlap": overlap, "adaptive": adaptive, "gold_fraction": gold_fraction,
                "gold_files": [Path(p).name for p in gold_paths],
                "calibration_files": [Path(p).name for p in calibration_paths]}
    if triage is not None:
        settings["triage"] = {"rater": triage, "min_rater_confidence": min_rater_confidence,
                              "tolerance": tolerance, "reasons": reasons}
    if competence:
        settings["competence"] = {"min_posterior": min_posterior, "tolerance": tolerance, "reasons": reasons}
    report = _write(store, identity=identity, info=info, round=round, overlap=overlap, demands=demands,
                    special=special, had=had, gold_fraction=gold_fraction, added=added, lessons=lessons,
                    people=people, out_dir=Path(out_dir), notes=notes, settings=settings,
                    seal=(encryption, extra), progress=progress, cancelled=cancelled)
    return replace(report, reasons=reasons)


# items read, planned and written at a time: memory is a chunk's, whatever the project's size
CHUNK = 2000
# normal items in order with who had each (NULL: no one): skeletons are NULL exactly for gold and
# calibration items, and their index holds the ids, so no item's text is read
_NORMAL_ITEMS = (
    "SELECT i.seq, i.id, (SELECT json_group_array(a.annotator) FROM assignments a"
    " WHERE a.project_id=i.project_id AND a.item_id=i.id HAVING count(*) > 0)"
    " FROM items i INDEXED BY items_skeleton WHERE i.project_id=?1 AND i.seq > ?2 AND i.skeleton IS NOT NULL"
    " ORDER BY i.seq LIMIT ?3")
_SPECIAL_ITEMS = (
    "SELECT id, kind FROM items WHERE project_id=?1 AND id IN"
    " (SELECT id FROM items INDEXED BY items_skeleton WHERE project_id=?1 AND skeleton IS NULL) ORDER BY seq")
_IN = "(SELECT value FROM json_each(?))"


def _special_items(store: Store, project_id: str) -> list[tuple[str, str]]:
    """(id, kind) of the project's gold and calibration items, in order."""
    return [(r[0], r[1]) for r in store.tuples(_SPECIAL_ITEMS, (project_id,))]


def _holders(store: Store, project_id: str, ids: list[str]) -> dict[str, set[str]]:
    """Who was given each of `ids` in earlier rounds."""
    out: dict[str, set[str]] = defaultdict(set)
    for start in range(0, len(ids), CHUNK):
        for iid, who in store.tuples("SELECT item_id, annotator FROM assignments WHERE project_id=?"
                                     f" AND item_id IN {_IN}", (project_id, json.dumps(ids[start:start + CHUNK]))):
            out[iid].add(who)
    return out


def _assigned(store: Store, project_id: str, people: dict[str, str], *, everyone: bool):
    """Who was given what, and who labeled what: triage asks it of everyone, the others only of
    annotators no longer active (their unlabeled items need someone else)."""
    given: dict[str, set[str]] = defaultdict(set)
    for iid, who in store.tuples("SELECT item_id, annotator FROM assignments WHERE project_id=?", (project_id,)):
        given[iid].add(who)
    wanted = None if everyone else sorted({a for who in given.values() for a in who} - set(people))
    labeled = {(r[0], r[1]) for r in store.tuples(
        "SELECT DISTINCT item_id, annotator FROM labels WHERE project_id=? AND (?2 IS NULL OR annotator IN"
        " (SELECT value FROM json_each(?2)))", (project_id, None if wanted is None else json.dumps(wanted)))}
    return given, labeled


def _overlap_demands(store: Store, project_id: str, people: dict[str, str], overlap: int):
    """(item, annotators it still needs, who had it) for every normal item below `overlap`, read in
    chunks in the project's order. An annotator no longer active counts for an item only if they
    labeled it; a plain round reads no label of the people at work."""
    seq = -(1 << 62)
    while rows := store.tuples(_NORMAL_ITEMS, (project_id, seq, CHUNK)).fetchall():
        seq = rows[-1][0]
        had = {iid: frozenset(json.loads(who)) for _, iid, who in rows if who is not None}
        away = {(iid, a) for iid, who in had.items() for a in who if a not in people}
        labeled = set()
        if away:
            labeled = {(r[0], r[1]) for r in store.tuples(
                f"SELECT DISTINCT item_id, annotator FROM labels WHERE project_id=? AND annotator IN {_IN}"
                f" AND item_id IN {_IN}", (project_id, json.dumps(sorted({a for _, a in away})),
                                           json.dumps(sorted({i for i, _ in away}))))}
        for _, iid, _ in rows:
            who = had.get(iid, frozenset())
            covering = sum(1 for a in who if a in people or (iid, a) in labeled)
            if covering < overlap:
                yield iid, overlap - covering, who


def _triage_need(store: Store, info, rater: str, given, labeled, people,
                 *, min_rater_confidence, tolerance, cap) -> tuple[dict[str, int], dict[str, int]]:
    """Items that go to one more person under triage with `rater`, and the items per reason
    (sent ones first, then the settled and held ones)."""
    holdings = load_holdings(store, info)
    rid = resolve_rater(holdings, rater)
    return _route(_normal_ids(store, info.id), holdings, given, labeled, people, lambda iid, answered: item_reason(
        holdings, iid, answered, rid, min_confidence=min_rater_confidence, tolerance=tolerance, cap=cap))


def _competence_need(store: Store, info, given, labeled, people, *, min_posterior,
                     tolerance, cap) -> tuple[dict[str, int], dict[str, int]]:
    """Items that go to one more person under competence-guided routing, and the items per reason."""
    holdings = load_holdings(store, info)
    questions = competence_questions(info)
    fits = fit_estimates(holdings, questions)
    if not fits:
        raise AnnotaryError(f"no Dawid–Skene estimates yet: competence routing needs two people or more who "
                            f"each share at least {MIN_SHARED} items with another on a pairwise, scoring or "
                            "rubric question (assign a round with --overlap 2 first)")
    def decide(iid: str, answered: list[str]):
        return competence_item_reason(fits, holdings, iid, answered, questions, min_posterior=min_posterior,
                                      tolerance=tolerance, cap=cap)

    return _route(_normal_ids(store, info.id), holdings, given, labeled, people, decide)


def _normal_ids(store: Store, project_id: str) -> list[str]:
    """The ids of the normal items, in order, from the skeletons' index (no item's text is read)."""
    return [r[0] for r in store.tuples("SELECT id FROM items INDEXED BY items_skeleton WHERE project_id=?"
                                       " AND skeleton IS NOT NULL ORDER BY seq", (project_id,))]


def _route(normal: list[str], holdings, given, labeled, people, decide) -> tuple[dict[str, int], dict[str, int]]:
    """One more person for each normal item `decide(item, people who answered)` sends; the items per
    reason, sent ones first, then the settled and held ones."""
    need: dict[str, int] = {}
    sent: dict[str, int] = defaultdict(int)
    held: dict[str, int] = defaultdict(int)
    for iid in normal:
        answered = list(holdings.people.get(iid, {}))
        if any(a in people and (iid, a) not in labeled for a in given.get(iid, ())):
            held[WAITING] += 1  # an answer still to come may settle it
            continue
        more, why = decide(iid, answered)
        if more:
            need[iid] = 1
            sent[why] += 1
        else:
            held[why] += 1
    return need, {**dict(sorted(sent.items(), key=lambda kv: -kv[1])),
                  **dict(sorted(held.items(), key=lambda kv: -kv[1]))}


def _feedback_items(store: Store, info, people: dict[str, str]) -> dict[str, list[Item]]:
    """Per annotator, the decided items where the reviewer's answer differs from theirs, as
    calibration items (a new id, the decision as the expert answer, the reasons as explanation)."""
    decisions: dict[str, dict[str, dict]] = defaultdict(dict)
    for iid, qid, data in store.conn.execute(
            "SELECT item_id, question_id, data FROM decisions WHERE project_id=?"
            " ORDER BY json_extract(data, '$.decided_at'), revision", (info.id,)):
        decisions[iid][qid] = json.loads(data)
    if not decisions:
        return {}
    out: dict[str, list[Item]] = defaultdict(list)
    made: dict[str, Item] = {}
    for a in people:
        mine = {(lab.item_id, lab.question_id): lab.answer for lab in queries.current_labels(store, info.id, a)}
        for iid, decided in decisions.items():
            against = [q for q, d in decided.items() if mine.get((iid, q)) is not None
                       and mine[(iid, q)] != ANSWER.validate_python(d["answer"])]
            if not against:
                continue
            if iid not in made:
                base = Item.model_validate_json(store.one(
                    "SELECT data FROM items WHERE project_id=? AND id=?", (info.id, iid))[0])
                reasons = [f"{q}: {d['reason']}" for q, d in decided.items() if d.get("reason")]
                made[iid] = base.model_copy(update={
                    "id": f"{iid}~decided", "kind": "calibration", "metadata": {"decided_item": iid},
                    "gold": {q: d["answer"] for q, d in decided.items()},
                    "explanation": "A reviewer decided this item" + (
                        ": " + "; ".join(reasons) if reasons else ".")})
            out[a].append(made[iid])
    return out


def _new_items(store: Store, project_id: str, spec, gold_paths, calibration_paths, fmt) -> list[Item]:
    """Gold and calibration items from files, checked; the ones the project holds already are skipped."""
    gold, _ = read_source_items(list(gold_paths), spec, fmt, kind="gold")
    calibration, _ = read_source_items(list(calibration_paths), spec, fmt, kind="calibration")
    out, seen = [], set()
    for item in gold + calibration:
        if item.id in seen:
            raise ItemError(f"item id {item.id!r} is both in the gold and the calibration files")
        seen.add(item.id)
        # looked up one by one: reading every item's text to compare a few would hold the project
        stored = store.one("SELECT data FROM items WHERE project_id=? AND id=?", (project_id, item.id))
        if stored is not None:
            if stored[0] != item.model_dump_json(exclude_defaults=True):
                raise ItemError(f"item id {item.id!r} is already in the project with other content")
            continue
        out.append(item)
    return out


def _gold_and_calibration(load: dict[str, int], special: list[tuple[str, str]], had, gold_fraction, rng,
                          notes) -> dict[str, dict[str, list[str]]]:
    """Each annotator with normal items this round: the gold items (all they have not had, or about
    `gold_fraction` of their load, least used first) and the calibration items they have not had."""
    pool = [i for i, kind in special if kind == "gold"]
    used = {i: len(had.get(i, ())) for i in pool}
    calibration = [i for i, kind in special if kind == "calibration"]
    out: dict[str, dict[str, list[str]]] = {a: {"gold": [], "calibration": []} for a in load}
    for a, n in load.items():
        if not n:
            continue
        fresh = [i for i in pool if a not in had.get(i, ())]
        if gold_fraction is not None:
            want = max(1, round(gold_fraction * n))
            fresh = sorted(fresh, key=lambda i: (used[i], rng.random()))[:want]
            if len(fresh) < want:
                notes.append(f"only {len(fresh)} unseen gold items for annotator {a}, not {want}")
        for i in fresh:
            used[i] += 1
        out[a] = {"gold": fresh, "calibration": [i for i in calibration if a not in had.get(i, ())]}
    return out


def _plan(store: Store, project_id: str, round: int, people: dict[str, str], demands, rng,
          notes: list[str]) -> tuple[dict[str, int], int, int]:
    """Give each demanded item to the annotators it needs who have not had it, least loaded first,
    and store these assignments as they are made. Returns each annotator's load, the items given
    out and the items demanded."""
    load = dict.fromkeys(people, 0)
    rnd = rng.random
    rows: list[tuple] = []
    given = demanded = 0
    insert = "INSERT INTO assignments (project_id, item_id, annotator, round, kind) VALUES (?,?,?,?,'normal')"
    for iid, k, had in demands:
        demanded += 1
        eligible = [a for a in people if a not in had] if had else list(people)
        # random tie-breaks vary who works with whom, so every pair of annotators shares items
        # (the position last: equal keys keep their order, as a stable sort would)
        chosen = [eligible[n] for _, _, n in sorted([(load[a], rnd(), n) for n, a in enumerate(eligible)])[:k]]
        if len(chosen) < k:
            notes.append(f"item {iid}: only {len(chosen)} of {k} more annotators have not had it")
        given += bool(chosen)
        for a in chosen:
            load[a] += 1
            rows.append((project_id, iid, a, round))
        if len(rows) >= CHUNK:
            store.conn.executemany(insert, rows)
            rows.clear()
    store.conn.executemany(insert, rows)
    return load, given, demanded


def _task_lines(store: Store, project_id: str, order: list[str], spool: BinaryIO):
    """items.jsonl of a task bundle, as annotators receive its items (task_view), in `order`, a
    chunk at a time. The items are read in the store's own order (by rowid: neighbouring pages,
    where `order`, shuffled, would cost a random read per item, a seek each once the project no
    longer fits in the disk cache), each line written to `spool` as it is made, then given back
    from there in `order`. Memory: a chunk of items, and two numbers per item of the bundle."""
    n = len(order)
    rowids = array("q", bytes(8 * n))
    by_id = sorted(range(n), key=order.__getitem__)
    for start in range(0, n, CHUNK):  # from the id index alone, in its order
        positions = by_id[start:start + CHUNK]
        found = dict(store.tuples(f"SELECT id, rowid FROM items WHERE project_id=? AND id IN {_IN}",
                                  (project_id, json.dumps([order[i] for i in positions]))))
        for i in positions:
            rowids[i] = found[order[i]]
    del by_id
    by_rowid = sorted(range(n), key=rowids.__getitem__)
    offsets, sizes, at = array("q", bytes(8 * n)), array("q", bytes(8 * n)), 0
    for start in range(0, n, CHUNK):
        positions = by_rowid[start:start + CHUNK]
        lines = {rowid: (task_view(kind, data) + "\n").encode("utf-8") for rowid, kind, data in store.tuples(
            f"SELECT rowid, kind, data FROM items WHERE rowid IN {_IN}", (json.dumps([rowids[i] for i in positions]),))}
        batch = [lines[rowids[i]] for i in positions]
        for i, line in zip(positions, batch, strict=True):
            offsets[i], sizes[i] = at, len(line)
            at += len(line)
        spool.write(b"".join(batch))
    del by_rowid, rowids
    spool.flush()
    fd = spool.fileno()
    for start in range(0, n, CHUNK):
        yield b"".join([_read_at(fd, sizes[i], offsets[i]) for i in range(start, min(n, start + CHUNK))])


def _read_at(fd: int, size: int, offset: int) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(fd, size, offset)
    os.lseek(fd, offset, os.SEEK_SET)  # Windows has no pread
    return os.read(fd, size)


@contextmanager
def _spool(out_dir: Path, path: Path, readers) -> Iterator[BinaryIO]:
    """An unnamed temporary file for a bundle's items: beside it, or, for an encrypted bundle, in a
    private folder (the items are plaintext)."""
    with ExitStack() as stack:
        folder = stack.enter_context(private_folder(seal_options(readers)["workdir"])) if readers else out_dir
        try:
            spool = stack.enter_context(tempfile.TemporaryFile(dir=folder, prefix=f".{path.name}.", suffix=".items"))
        except OSError as e:
            raise BundleError(f"{path.name}: cannot write ({e.strerror or e})") from None
        yield spool


def _write(store: Store, *, identity, info, round, overlap, demands, special, had, gold_fraction, added,
           lessons, people, out_dir, notes, settings, seal, progress=None, cancelled=None) -> AssignReport:
    """Plan the round, record it and write the bundles in one go: a failed bundle leaves neither
    behind. Assignments go to SQLite as they are planned and each bundle's items are read back
    from there a chunk at a time, so memory does not grow with the project."""
    spec = info.spec
    written: list[Path] = []
    bundles = []
    encrypted = False
    rng = random.Random(f"{info.id}\0{round}")
    try:
        with store.atomic():
            insert_items(store, info.id, added)
            if demands is None:
                demands = _overlap_demands(store, info.id, people, overlap)
            load, items, demanded = _plan(store, info.id, round, people, demands, rng, notes)
            extra = _gold_and_calibration(load, special, had, gold_fraction, rng, notes)
            known = {iid for iid, _ in special}
            for a, lesson in lessons.items():
                for item in lesson:
                    if item.id not in known:
                        added.append(item)
                        known.add(item.id)
                        insert_items(store, info.id, [item])
                    if a not in had.get(item.id, ()) and item.id not in extra[a]["calibration"]:
                        extra[a]["calibration"].append(item.id)
            if not demanded and not any(lessons.values()):
                raise AnnotaryError(f"nothing to assign: every item already has {overlap} annotators")
            store.conn.executemany(
                "INSERT INTO assignments (project_id, item_id, annotator, round, kind) VALUES (?,?,?,?,?)",
                ((info.id, iid, a, round, kind) for a, work in extra.items()
                 for kind, ids in work.items() for iid in ids))
            assigned = sum(load.values()) + sum(len(ids) for work in extra.values() for ids in work.values())
            out_dir.mkdir(parents=True, exist_ok=True)
            writing = [a for a, work in extra.items() if load[a] or work["calibration"]]
            for a in writing:
                if cancelled is not None and cancelled():
                    raise Cancelled(f"round {round} cancelled: no bundle written, nothing assigned")
                if progress is not None:
                    progress(len(bundles), len(writing))
                work = extra[a]
                # this round's normal items of `a` in the order they were planned, then the gold
                mixed = [r[0] for r in store.tuples(
                    "SELECT item_id FROM assignments WHERE project_id=? AND annotator=? AND round=?"
                    " AND kind='normal' ORDER BY rowid", (info.id, a, round))] + work["gold"]
                random.Random(f"{info.id}\0{round}\0{a}").shuffle(mixed)  # gold hides among the rest
                order = work["calibration"] + mixed
                del mixed
                path = out_dir / f"{info.id}-round{round}-{_slug(people[a])}-{a[:8]}.annotary"
                readers = recipients(seal[0], signer=identity, readers=[roster_recipient(store, info.id, a)],
                                     confidential=spec.confidential, what=path.name, extra=seal[1])
                encrypted = encrypted or bool(readers)
                with _spool(out_dir, path, readers) as spool:
                    write_bundle(path, kind="tasks", project_id=info.id, project_name=spec.name,
                                 identity=identity, round=round, **instance_fields(info),
                                 members={"spec.json": spec.model_dump_json(indent=2).encode(),
                                          "guidelines.md": info.guidelines.encode("utf-8"),
                                          "items.jsonl": _task_lines(store, info.id, order, spool)},
                                 counts={"items.jsonl": len(order)}, **seal_options(readers))
                written.append(path)
                bundles.append(TaskBundle(a, people[a], path, load[a], len(work["gold"]),
                                          len(work["calibration"])))
            if progress is not None:
                progress(len(bundles), len(writing))
            counts = {"items": items, "assignments": assigned, "bundles": len(bundles)}
            store.conn.execute(
                "INSERT INTO rounds (project_id, round, created_at, guidelines_version, settings, counts)"
                " VALUES (?,?,?,?,?,?)",
                (info.id, round, now_iso(), info.guidelines_version, json.dumps(settings), json.dumps(counts)))
            store.conn.execute("UPDATE projects SET round=? WHERE id=?", (round, info.id))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return AssignReport(info.id, round, counts["items"],
                        {k: sum(1 for i in added if i.kind == k) for k in ("gold", "calibration")},
                        bundles, notes, encrypted=encrypted)
