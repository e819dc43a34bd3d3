"""Per-person figures: each annotator against the others, the consensus and the gold answers;
each non-human rater against the humans; and the headline figures per round or guidelines version."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from annotary.analysis.agreement import band
from annotary.analysis.competence import CompetenceStats
from annotary.analysis.figures import (
    PairStat,
    VariableStats,
    mean,
    pair_stat,
    variable_stats,
    weighted_mean,
)
from annotary.analysis.questions import answer_score, build_from_table
from annotary.analysis.table import KINDS, ItemTable, LabelTable, first_of_groups
from annotary.analysis.variables import Options, Rating, Variable, rating_matrix, unsure
from annotary.analysis.verdicts import Units, with_consensus
from annotary.core.spec import Spec


@dataclass
class AnnotatorStats:
    annotator: str
    name: str
    source: str  # roster (signed results) or outside (imported human labels)
    assigned: int
    labeled: int  # items with a current label, any kind
    agreement_others: float | None  # mean pairwise kappa (quadratic on ordinal, tau on rankings)
    agreement_consensus: float | None  # share of ratings matching an agreed consensus
    band: str
    gold_items: int
    gold_accuracy: float | None
    calibration_items: int
    calibration_accuracy: float | None
    position_a_share: float | None  # pairwise: share of A/B picks that went to the left response
    position_picks: int
    median_seconds: float | None  # time on task per item (all revisions)
    hours: float | None
    items_per_hour: float | None
    revision_rate: float | None  # share of labeled items submitted more than once
    rate_per_hour: float | None
    cost: float | None
    competence: float | None  # mean Dawid-Skene reliability over categorical variables


@dataclass(frozen=True)
class People:
    """Who is who, and what the store knows of each person beyond their labels."""

    names: dict[str, str]
    roster: frozenset[str]  # signed results; others are outside (imported) raters
    rates: dict[str, float | None]  # per hour
    assigned: dict[str, int]  # items assigned, per person
    seconds: dict[str, Sequence[float]]  # time on task per item, per person


def annotator_stats(*, spec: Spec, items: ItemTable, truths: dict[str, dict[str, dict]],
                    table: LabelTable, mask: np.ndarray, people: list[str], known: People,
                    variables: list[Variable], stats: list[VariableStats], units: Units,
                    comp: list[CompetenceStats], opt: Options) -> list[AnnotatorStats]:
    """Figures per person from the masked labels of a LabelTable; `truths` holds the gold and
    calibration items' expert answers."""
    questions = {q.id: q for q in spec.questions}
    flags: dict[int, tuple[bool, bool]] = {}  # (answer, item shape) -> (an A/B pick, of the left response)
    out = []
    for who in people:
        code = table.code(table.raters, who)
        rows = np.flatnonzero(mask & (table.rater == code)) if code >= 0 else np.zeros(0, np.int64)
        item_of = table.item[rows]
        # items labeled, and revised: the newest revision of each
        order = np.argsort(item_of, kind="stable")
        starts = first_of_groups(item_of[order])
        newest = np.maximum.reduceat(table.revision[rows][order], starts) if len(starts) else np.zeros(0)
        n_labeled, n_revised = len(starts), int(np.count_nonzero(newest > 1))
        pair_values = [(p.value, p.n) for s in stats for p in s.pairs if who in (p.a, p.b)]
        scores: dict[str, list[float]] = {"gold": [], "calibration": []}
        gold_items: dict[str, set] = {"gold": set(), "calibration": set()}
        for r in rows[items.kind[item_of] != 0].tolist():  # gold and calibration labels: few
            iid, qid = items.ids[int(table.item[r])], table.questions[int(table.question[r])]
            truth = truths.get(iid, {}).get(qid)
            if truth is not None:
                kind = KINDS[int(items.kind[int(table.item[r])])]
                gold_items[kind].add(iid)
                score = answer_score(questions[qid], table.answers[int(table.answer[r])][0], truth)
                if score is not None:
                    scores[kind].append(score)
        n_picks = left = 0
        if who in known.roster and len(rows):
            n_picks, left = _positions(items, table, rows, flags)
        times = list(known.seconds.get(who, ())) if who in known.roster else []
        hours = sum(times) / 3600 if times else None
        rate = known.rates.get(who)
        agree = weighted_mean(pair_values)
        out.append(AnnotatorStats(
            annotator=who, name=known.names.get(who, who),
            source="roster" if who in known.roster else "outside",
            assigned=known.assigned.get(who, 0), labeled=n_labeled,
            agreement_others=agree, agreement_consensus=with_consensus(who, variables, units, opt),
            band=band(agree), gold_items=len(gold_items["gold"]), gold_accuracy=mean(scores["gold"]),
            calibration_items=len(gold_items["calibration"]),
            calibration_accuracy=mean(scores["calibration"]),
            position_a_share=left / n_picks if n_picks else None, position_picks=n_picks,
            median_seconds=statistics.median(times) if times else None, hours=hours,
            items_per_hour=len(times) / hours if hours else None,
            revision_rate=n_revised / n_labeled if n_labeled else None,
            rate_per_hour=rate, cost=hours * rate if hours is not None and rate is not None else None,
            competence=mean(c.reliability[who] for c in comp if who in c.reliability)))
    return out


def _positions(items: ItemTable, table: LabelTable, rows: np.ndarray,
               flags: dict[int, tuple[bool, bool]]) -> tuple[int, int]:
    """(A/B picks of pairwise answers shown in a known order, picks of the response shown on the
    left) among some labels, from each distinct (answer, item shape) once."""
    combo = table.answer[rows].astype(np.int64) * len(items.bases) + items.shape[table.item[rows]]
    kinds, counts = np.unique(combo, return_counts=True)
    picks = left = 0
    for c, n in zip(kinds.tolist(), counts.tolist(), strict=True):
        if c not in flags:
            a, first, _, _ = table.answers[c // len(items.bases)]
            flags[c] = (False, False)
            if a and a.get("mode") == "pairwise" and a.get("choice") in ("A", "B") and first:
                base = items.bases[c % len(items.bases)]
                picked = a.get("preferred") or base.responses[0 if a["choice"] == "A" else 1].id
                flags[c] = (True, picked == first)
        pick, on_left = flags[c]
        picks += n * pick
        left += n * on_left
    return picks, left


# --- non-human raters ---------------------------------------------------------------------------

@dataclass
class RaterStats:
    """A non-human rater against the humans; it never counts toward human consensus."""

    rater: str
    name: str
    labels: int
    items: int
    agreement_humans: float | None  # mean pairwise figure with each human, weighted by shared units
    agreement_consensus: float | None  # share of its ratings matching an agreed human consensus
    unsure: int  # labels with a confidence below the middle of the question's scale
    pairs: dict[str, list[PairStat]] = field(default_factory=dict)  # variable -> with each human


def rater_stats(spec: Spec, machines: list[str], humans: list[str], names: dict[str, str],
                ratings: list[Rating], variables: list[Variable], units: Units,
                opt: Options) -> list[RaterStats]:
    scales = {q.id: q.confidence_scale for q in spec.questions}
    out = []
    for m in machines:
        mine = [r for r in ratings if r.annotator == m]
        s = RaterStats(m, names.get(m, m), len(mine), len({r.item_id for r in mine}), None,
                       with_consensus(m, variables, units, opt), sum(unsure(r, scales) for r in mine))
        weighted = []
        for var in variables:
            if not var.rated_by(m) or not (var.scaled or var.level == "ranking"):
                continue
            cols = [*humans, m]
            if var.level == "ranking":
                pairs = [PairStat(m, p.a, p.n, tau=p.tau) for p in variable_stats(var, cols).pairs if p.b == m]
            else:
                _, x = rating_matrix(var, cols)
                pairs = [pair_stat(var, x, j, len(humans), m, h) for j, h in enumerate(humans)]
            s.pairs[var.key] = pairs
            weighted += [(p.value, p.n) for p in pairs]
        s.agreement_humans = weighted_mean(weighted)
        out.append(s)
    return out


# --- per round and per guidelines version -------------------------------------------------------

@dataclass
class GroupStats:
    by: str  # round or guidelines
    group: str
    question_id: str
    variable: str
    level: str
    annotators: int
    pairable: int
    percent_agreement: float | None
    alpha: float | None
    kendall_w: float | None
    band: str
    alpha_low: float | None = None  # 95 % bootstrap interval
    alpha_high: float | None = None


def group_stats(by: str, groups: dict[str, np.ndarray], spec: Spec, items: ItemTable, table: LabelTable,
                question: str | None, rank: np.ndarray | None = None) -> list[GroupStats]:
    """The headline figures per group of labels (masks of the table), side by side; none when
    every label is in one group."""
    if len(groups) < 2:
        return []
    out = []
    for group in sorted(groups, key=lambda g: (len(g), g)):  # round 10 after round 9
        mask = groups[group]
        who = sorted(table.raters[c] for c in np.unique(table.rater[mask]).tolist())
        for var in build_from_table(spec, items, table, mask, question, rank):
            s = variable_stats(var, who, pairs=False)
            out.append(GroupStats(by, group, var.question_id, var.name, var.level,
                                  sum(1 for a in who if var.rated_by(a)), s.pairable,
                                  s.percent_agreement, s.alpha, s.kendall_w, s.band,
                                  s.alpha_low, s.alpha_high))
    return out
