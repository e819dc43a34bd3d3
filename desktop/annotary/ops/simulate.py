"""Replaying a project's labels under other assignment plans: how many human labels, how close to fixed-3."""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass, field

from annotary.analysis.triage import majority_parts, matches, triage_reason
from annotary.core.errors import AnnotaryError
from annotary.ops.project import project_info
from annotary.ops.quality import load_raters
from annotary.ops.triage import (
    COMPETENCE_MODES,
    DEFAULT_MIN_POSTERIOR,
    Holdings,
    competence_item_reason,
    fit_estimates,
    load_holdings,
    resolve_rater,
)
from annotary.store import Store

REFERENCE = 3  # the fixed-3 majority is the reference every plan is measured against


@dataclass
class PlanResult:
    plan: str
    human_labels: int  # one person labelling one item
    share: float  # of the fixed-3 human labels
    agreement: float | None  # share of items whose outcome is the fixed-3 majority
    agreed: int
    compared: int  # items with a fixed-3 majority
    cost: float | None  # from the roster's rates and the recorded times
    hours: float | None  # recorded time on task of the labels the plan uses
    one_person: int = 0  # items the plan settles on one person's answer
    description: str = ""


@dataclass
class Simulation:
    project_id: str
    project_name: str
    seed: int
    items: int  # replayed: normal items with at least three people's labels
    left_out: int  # normal items with fewer
    no_majority: int  # replayed items where the fixed-3 labels have no majority
    plans: list[PlanResult]
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _orders(store: Store, project_id: str, holdings: Holdings, seed: int) -> dict[str, list[str]]:
    """Per item, the people who labelled it in the order a plan asks them: by the round they were
    assigned it (outside people, never assigned, last), ties in a seeded random order."""
    rounds = {(r[0], r[1]): r[2] for r in store.query(
        "SELECT item_id, annotator, min(round) FROM assignments WHERE project_id=? GROUP BY item_id, annotator",
        (project_id,))}
    out = {}
    for iid, people in holdings.people.items():
        if holdings.kinds.get(iid) != "normal":
            continue
        rng = random.Random(f"{seed}\0{project_id}\0{iid}")
        keyed = {p: (rounds.get((iid, p), 1 << 30), rng.random()) for p in sorted(people)}
        out[iid] = sorted(people, key=keyed.__getitem__)
    return out


def _times(store: Store, project_id: str) -> dict[tuple[str, str], float]:
    """Seconds on task per (person, item), summed over the revisions merged; 0 = not recorded."""
    rows = store.conn.execute(
        "SELECT annotator, item_id, max(json_extract(data, '$.duration_ms')) FROM labels"
        " WHERE project_id=? AND retracted=0 GROUP BY annotator, item_id, revision", (project_id,))
    out: dict[tuple[str, str], float] = defaultdict(float)
    for who, iid, ms in rows:
        out[(who, iid)] += (ms or 0) / 1000
    return out


def simulate(store: Store, *, judge: str | None = None, seed: int = 0, min_rater_confidence: float | None = None,
             tolerance: float = 0.0, min_posterior: float = DEFAULT_MIN_POSTERIOR) -> Simulation:
    """Replay the people's and raters' labels under each plan, measured against the fixed-3 majority.

    Plans: fixed-1, fixed-2, fixed-3 (the first k people of each item); adaptive (two people, a
    third where they split); triage with each non-human rater, or `judge` only (one person, a
    second where the rater disagrees, has no answer or is below `min_rater_confidence`, a third
    where two split); competence-guided (one person, one more while people split or the
    Dawid–Skene posterior of their answer is below `min_posterior`; the items are split in two
    seeded halves and each half is routed by the estimates fitted on the other half's labels, so
    no item's own labels estimate the people who answer it). Only items with at least three people's labels are replayed; a plan's
    outcome on an item is the majority of the answers it used, compared question by question
    (scores within `tolerance` points)."""
    if min_rater_confidence is not None and not 0 <= min_rater_confidence <= 1:
        raise AnnotaryError(f"minimum rater confidence {min_rater_confidence} must be between 0 and 1")
    if tolerance < 0:
        raise AnnotaryError(f"tolerance {tolerance} must be 0 or more scale points")
    if not 0 < min_posterior <= 1:
        raise AnnotaryError(f"minimum posterior {min_posterior} must be above 0 and at most 1")
    info = project_info(store)
    holdings = load_holdings(store, info)
    raters = [resolve_rater(holdings, judge)] if judge is not None else list(holdings.machines)
    orders = _orders(store, info.id, holdings, seed)
    normal = [iid for iid, kind in holdings.kinds.items() if kind == "normal"]
    replayed = [iid for iid in normal if len(orders.get(iid, ())) >= REFERENCE]
    if not replayed:
        raise AnnotaryError("nothing to replay: no item has three people's labels (the fixed-3 reference)")
    qs = holdings.questions

    def outcome(iid: str, people: list[str]) -> dict[str, dict]:
        given = holdings.people[iid]
        return {q: majority_parts([given[p][q] for p in people if given[p].get(q)], tolerance) for q in qs}

    kinds = {}
    for iid in replayed:
        for p in orders[iid][:REFERENCE]:
            for q in qs:
                for key, (kind, _) in (holdings.people[iid][p].get(q) or {}).items():
                    kinds[(q, key)] = kind
    reference = {iid: outcome(iid, orders[iid][:REFERENCE]) for iid in replayed}

    def agrees(iid: str, people: list[str]) -> bool | None:
        got = outcome(iid, people)
        found = [matches(got[q], reference[iid][q], {k: kinds.get((q, k)) for k in reference[iid][q]},
                         tolerance) for q in qs]
        decided = [f for f in found if f is not None]
        return all(decided) if decided else None

    # the plans, as people asked per item
    plans: list[tuple[str, str, dict[str, list[str]]]] = []
    for k in (1, 2, 3):
        plans.append((f"fixed-{k}", f"{k} {'person' if k == 1 else 'people'} per item",
                      {iid: orders[iid][:k] for iid in replayed}))

    def grow(iid: str, start: int, rater: str | None) -> list[str]:
        people = orders[iid][:REFERENCE]
        k = start
        while k < REFERENCE:
            if rater is None:
                answers, unsure = {}, set()
            else:
                answers, unsure = holdings.rater_view(rater, iid, min_rater_confidence)
            more, _ = triage_reason([holdings.people[iid][p] for p in people[:k]], answers, unsure,
                                    questions=qs, min_confidence=min_rater_confidence, tolerance=tolerance,
                                    cap=REFERENCE)
            if not more:
                break
            k += 1
        return people[:k]

    plans.append(("adaptive", "2 people, a third where they split",
                  {iid: grow(iid, 2, None) for iid in replayed}))
    for rid in raters:
        name = holdings.names.get(rid, rid)
        plans.append((f"triage:{name}", f"1 person and {name}, a second where they differ, a third where two split",
                      {iid: grow(iid, 1, rid) for iid in replayed}))

    weighed = [q for q in qs if info.spec.question(q).mode in COMPETENCE_MODES]
    if weighed:
        halves = _halves(replayed, f"{seed}\0{info.id}")
        plans.append(("competence", f"1 person; one more while people split or the Dawid–Skene posterior of "
                                    f"their answer is below {min_posterior:g}",
                      _competence_plan(holdings, orders, halves, weighed, min_posterior, tolerance)))

    times = _times(store, info.id)
    rates = load_raters(store, info.id).rates
    recorded: dict[str, list[float]] = defaultdict(list)
    for (who, iid), s in times.items():
        if s > 0 and iid in reference:
            recorded[who].append(s)
    everyone = [s for v in recorded.values() for s in v]
    median_all = statistics.median(everyone) if everyone else None
    median_of = {who: statistics.median(v) for who, v in recorded.items()}
    estimated: set[tuple[str, str]] = set()

    def seconds(who: str, iid: str) -> float | None:
        s = times.get((who, iid), 0.0)
        if s > 0:
            return s
        guess = median_of.get(who, median_all)
        if guess is not None:
            estimated.add((who, iid))
        return guess

    results = []
    fixed3 = REFERENCE * len(replayed)
    no_rate: set[str] = set()
    for plan, description, asked in plans:
        labels = sum(len(v) for v in asked.values())
        verdicts = [agrees(iid, people) for iid, people in asked.items()]
        compared = [v for v in verdicts if v is not None]
        secs = [seconds(p, iid) for iid, people in asked.items() for p in people]
        hours = None if median_all is None else sum(secs) / 3600
        cost = None
        if hours is not None:
            missing = {p for people in asked.values() for p in people if rates.get(p) is None}
            no_rate |= missing
            if not missing:
                cost = sum(seconds(p, iid) / 3600 * rates[p] for iid, people in asked.items() for p in people)
        results.append(PlanResult(plan, labels, labels / fixed3,
                                  sum(compared) / len(compared) if compared else None, sum(compared),
                                  len(compared), cost, hours, sum(len(v) == 1 for v in asked.values()),
                                  description))
    notes = []
    left_out = len(normal) - len(replayed)
    if left_out:
        notes.append(f"{left_out} items with fewer than three people's labels are left out "
                     "(the fixed-3 majority is the reference)")
    if median_all is None:
        notes.append("no recorded times (imported labels carry none): no hours, no cost")
    elif estimated:
        notes.append(f"{len(estimated)} labels without a recorded time count at the person's median time")
    if no_rate and median_all is not None:
        names = load_raters(store, info.id).names
        notes.append("no rate for " + ", ".join(sorted(names.get(p, p) for p in no_rate)) +
                     ": no cost (add one with `roster add --rate`)")
    if not weighed:
        notes.append("no pairwise, scoring or rubric question: no competence-guided plan")
    if not raters:
        notes.append("no non-human rater: import one with `annotary labels import --rater` for a triage plan")
    no_majority = sum(1 for iid in replayed if all(v is None for q in qs for v in reference[iid][q].values()))
    return Simulation(info.id, info.name, seed, len(replayed), left_out, no_majority, results, notes)


def _halves(items: list[str], seed: str) -> tuple[list[str], list[str]]:
    """The items in two seeded halves."""
    shuffled = sorted(items)
    random.Random(seed).shuffle(shuffled)
    mid = len(shuffled) // 2
    return shuffled[:mid], shuffled[mid:]


def _competence_plan(holdings: Holdings, orders: dict[str, list[str]], halves: tuple[list[str], list[str]],
                     questions: list[str], min_posterior: float, tolerance: float) -> dict[str, list[str]]:
    """People asked per item under competence-guided routing, each half routed by the other's estimates."""
    asked = {}
    for mine, other in (halves, halves[::-1]):
        fits = fit_estimates(holdings, questions, other)
        for iid in mine:
            people = orders[iid][:REFERENCE]
            k = 1
            while k < REFERENCE and competence_item_reason(
                    fits, holdings, iid, people[:k], questions, min_posterior=min_posterior, tolerance=tolerance,
                    cap=REFERENCE)[0]:
                k += 1
            asked[iid] = people[:k]
    return asked
