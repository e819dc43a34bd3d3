"""Assigning a round: balanced overlap, hidden gold, calibration with feedback, one signed task bundle each."""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from annotary.analysis.triage import WAITING
from annotary.analysis.variables import Options
from annotary.bundles.bundle import write_bundle
from annotary.bundles.identity import Identity
from annotary.core.errors import AnnotaryError, ItemError, TrustError
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


def task_view(kind: str, data: str) -> str:
    """An item (its stored JSON) as an annotator receives it: gold looks like any other item, and
    nothing of the source's metadata travels (datasets keep other people's labels and the answer there)."""
    if kind == "normal" and not any(f'"{key}":' in data for key in HIDDEN):
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
                 min_posterior: float | None = None, encryption: Encryption = DEFAULT_CHOICE) -> AssignReport:
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
    kinds = dict(store.query("SELECT id, kind FROM items WHERE project_id=? ORDER BY seq", (info.id,)))
    kinds |= {i.id: i.kind for i in added}
    given: dict[str, set[str]] = defaultdict(set)
    for iid, who in store.query("SELECT item_id, annotator FROM assignments WHERE project_id=?", (info.id,)):
        given[iid].add(who)
    # who labeled what: triage asks it of everyone, the overlap only of annotators no longer active
    # (their unlabeled items need someone else), so a plain round reads no label of the people
    # at work (a million labels would be a few hundred MB of pairs)
    wanted = None if triage is not None else sorted({a for who in given.values() for a in who} - set(people))
    labeled = {(r[0], r[1]) for r in store.query(
        "SELECT DISTINCT item_id, annotator FROM labels WHERE project_id=? AND (?2 IS NULL OR annotator IN"
        " (SELECT value FROM json_each(?2)))", (info.id, None if wanted is None else json.dumps(wanted)))}

    def covering(iid: str) -> int:  # a removed annotator's unlabeled items need someone else
        return sum(1 for a in given[iid] if a in people or (iid, a) in labeled)

    notes: list[str] = []
    reasons: dict[str, int] = {}
    if triage is not None:
        need, reasons = _triage_need(store, info, triage, kinds, given, labeled, people,
                                     min_rater_confidence=min_rater_confidence, tolerance=tolerance, cap=overlap)
    elif competence:
        min_posterior = DEFAULT_MIN_POSTERIOR if min_posterior is None else min_posterior
        need, reasons = _competence_need(store, info, kinds, given, labeled, people, min_posterior=min_posterior,
                                         tolerance=tolerance, cap=overlap)
    elif adaptive:
        options = Options() if weak_support is None else Options(weak_support=weak_support)
        disputed = disputed_items(quality_report(store, options=options), store)
        below = [iid for iid, _ in disputed if overlap is None or covering(iid) < overlap]
        # only someone who has not had the item can be one more annotator
        need = {iid: 1 for iid in below if any(a not in given[iid] for a in people)}
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
    else:
        need = {iid: overlap - covering(iid) for iid, kind in kinds.items()
                if kind == "normal" and covering(iid) < overlap}
    lessons = _feedback_items(store, info, people) if feedback else {}
    if not need and not any(lessons.values()) and (triage is not None or competence):
        summary = "; ".join(f"{n} {why}" for why, n in reasons.items())
        what = "triage" if triage is not None else "competence routing"
        raise AnnotaryError(f"nothing to send under {what}: {summary or 'no items'}")
    if not need and not any(lessons.values()) and adaptive:
        raise AnnotaryError(f"nothing to send: {idle}, and no decision went against anyone's answer")
    if not need and not any(lessons.values()):
        raise AnnotaryError(f"nothing to assign: every item already has {overlap} annotators")

    rng = random.Random(f"{info.id}\0{round}")
    load = dict.fromkeys(people, 0)
    plan: dict[str, dict[str, list[str]]] = {a: defaultdict(list) for a in people}
    for iid, k in need.items():
        eligible = [a for a in people if a not in given[iid]]
        # random tie-breaks vary who works with whom, so every pair of annotators shares items
        chosen = sorted(eligible, key=lambda a: (load[a], rng.random()))[:k]
        if len(chosen) < k:
            notes.append(f"item {iid}: only {len(chosen)} of {k} more annotators have not had it")
        for a in chosen:
            load[a] += 1
            plan[a]["normal"].append(iid)
    _add_gold_and_calibration(plan, kinds, given, gold_fraction, rng, notes)
    for a, items in lessons.items():
        for item in items:
            if item.id not in kinds:
                added.append(item)
                kinds[item.id] = item.kind
            if item.id not in given or a not in given[item.id]:
                plan[a]["calibration"].append(item.id)
    settings = {"overlap": overlap, "adaptive": adaptive, "gold_fraction": gold_fraction,
                "gold_files": [Path(p).name for p in gold_paths],
                "calibration_files": [Path(p).name for p in calibration_paths]}
    if triage is not None:
        settings["triage"] = {"rater": triage, "min_rater_confidence": min_rater_confidence,
                              "tolerance": tolerance, "reasons": reasons}
    if competence:
        settings["competence"] = {"min_posterior": min_posterior, "tolerance": tolerance, "reasons": reasons}
    report = _write(store, identity=identity, info=info, round=round, plan=plan, kinds=kinds,
                    added=added, people=people, out_dir=Path(out_dir), notes=notes, settings=settings,
                    seal=(encryption, extra))
    return replace(report, reasons=reasons)


def _triage_need(store: Store, info, rater: str, kinds: dict[str, str], given, labeled, people,
                 *, min_rater_confidence, tolerance, cap) -> tuple[dict[str, int], dict[str, int]]:
    """Items that go to one more person under triage with `rater`, and the items per reason
    (sent ones first, then the settled and held ones)."""
    holdings = load_holdings(store, info)
    rid = resolve_rater(holdings, rater)
    return _route(holdings, kinds, given, labeled, people, lambda iid, answered: item_reason(
        holdings, iid, answered, rid, min_confidence=min_rater_confidence, tolerance=tolerance, cap=cap))


def _competence_need(store: Store, info, kinds: dict[str, str], given, labeled, people, *, min_posterior,
                     tolerance, cap) -> tuple[dict[str, int], dict[str, int]]:
    """Items that go to one more person under competence-guided routing, and the items per reason."""
    holdings = load_holdings(store, info)
    questions = competence_questions(info)
    fits = fit_estimates(holdings, questions)
    if not fits:
        raise AnnotaryError(f"no Dawid–Skene estimates yet: competence routing needs two people or more who "
                            f"each share at least {MIN_SHARED} items with another on a pairwise, scoring or "
                            "rubric question (assign a round with --overlap 2 first)")
    return _route(holdings, kinds, given, labeled, people, lambda iid, answered: competence_item_reason(
        fits, holdings, iid, answered, questions, min_posterior=min_posterior, tolerance=tolerance, cap=cap))


def _route(holdings, kinds: dict[str, str], given, labeled, people, decide) -> tuple[dict[str, int], dict[str, int]]:
    """One more person for each normal item `decide(item, people who answered)` sends; the items per
    reason, sent ones first, then the settled and held ones."""
    need: dict[str, int] = {}
    sent: dict[str, int] = defaultdict(int)
    held: dict[str, int] = defaultdict(int)
    for iid, kind in kinds.items():
        if kind != "normal":
            continue
        answered = list(holdings.people.get(iid, {}))
        if any(a in people and (iid, a) not in labeled for a in given[iid]):
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


def _add_gold_and_calibration(plan, kinds: dict[str, str], given, gold_fraction, rng, notes) -> None:
    pool = [i for i, kind in kinds.items() if kind == "gold"]
    if gold_fraction is not None and not pool:
        raise AnnotaryError("no gold items: mark items kind \"gold\" (with their answers) or pass --gold FILE")
    used = {i: len(given[i]) for i in pool}
    calibration = [i for i, kind in kinds.items() if kind == "calibration"]
    for a, work in plan.items():
        if not work["normal"]:
            continue
        fresh = [i for i in pool if a not in given[i]]
        if gold_fraction is not None:
            want = max(1, round(gold_fraction * len(work["normal"])))
            fresh = sorted(fresh, key=lambda i: (used[i], rng.random()))[:want]
            if len(fresh) < want:
                notes.append(f"only {len(fresh)} unseen gold items for annotator {a}, not {want}")
        for i in fresh:
            used[i] += 1
        work["gold"] = fresh
        work["calibration"] = [i for i in calibration if a not in given[i]]


def _write(store: Store, *, identity, info, round, plan, kinds, added, people, out_dir, notes,
           settings, seal) -> AssignReport:
    """Record the round and write the bundles in one go: a failed bundle leaves neither behind."""
    spec = info.spec
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    bundles = []
    encrypted = False
    try:
        with store.atomic():
            insert_items(store, info.id, added)
            # streamed to SQLite: a list of a million assignments' rows held a hundred MB
            assigned = sum(len(ids) for work in plan.values() for ids in work.values())
            store.conn.executemany(
                "INSERT INTO assignments (project_id, item_id, annotator, round, kind) VALUES (?,?,?,?,?)",
                ((info.id, iid, a, round, kind) for a, work in plan.items()
                 for kind, ids in work.items() for iid in ids))
            for a, work in plan.items():
                if not work["normal"] and not work["calibration"]:
                    continue
                mixed = work["normal"] + work["gold"]
                random.Random(f"{info.id}\0{round}\0{a}").shuffle(mixed)  # gold hides among the rest
                data = dict(store.query(
                    "SELECT i.id, i.data FROM assignments a JOIN items i ON i.project_id=a.project_id"
                    " AND i.id=a.item_id WHERE a.project_id=? AND a.annotator=? AND a.round=?",
                    (info.id, a, round)))
                order = work["calibration"] + mixed
                # each item's text let go as its line is made: the bundle's bytes, not three copies
                lines = b"".join((task_view(kinds[i], data.pop(i)) + "\n").encode("utf-8") for i in order)
                del data
                path = out_dir / f"{info.id}-round{round}-{_slug(people[a])}-{a[:8]}.annotary"
                readers = recipients(seal[0], signer=identity, readers=[roster_recipient(store, info.id, a)],
                                     confidential=spec.confidential, what=path.name, extra=seal[1])
                encrypted = encrypted or bool(readers)
                write_bundle(path, kind="tasks", project_id=info.id, project_name=spec.name,
                             identity=identity, round=round, **instance_fields(info),
                             members={"spec.json": spec.model_dump_json(indent=2).encode(),
                                      "guidelines.md": info.guidelines.encode("utf-8"),
                                      "items.jsonl": lines},
                             counts={"items.jsonl": len(order)}, **seal_options(readers))
                written.append(path)
                bundles.append(TaskBundle(a, people[a], path, len(work["normal"]), len(work["gold"]),
                                          len(work["calibration"])))
            counts = {"items": len({i for w in plan.values() for i in w["normal"]}),
                      "assignments": assigned, "bundles": len(bundles)}
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
