"""Per-person figures: each annotator against the others, the consensus and the gold answers;
each non-human rater against the humans; and the headline figures per round or guidelines version."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field

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
from annotary.analysis.questions import answer_score, build_variables
from annotary.analysis.variables import Options, Rating, Variable, rating_matrix, unsure
from annotary.analysis.verdicts import Units, with_consensus
from annotary.core.items import Item
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
    seconds: dict[str, dict[str, float]]  # time on task per person and item


def annotator_stats(*, spec: Spec, items: dict[str, Item], truths: dict[str, dict[str, dict]],
                    ratings: list[Rating], people: list[str], known: People,
                    variables: list[Variable], stats: list[VariableStats], units: Units,
                    comp: list[CompetenceStats], opt: Options) -> list[AnnotatorStats]:
    """Figures per person; `truths` holds the gold and calibration items' expert answers."""
    questions = {q.id: q for q in spec.questions}
    by_who: dict[str, list[Rating]] = defaultdict(list)
    for r in ratings:
        by_who[r.annotator].append(r)
    out = []
    for who in people:
        mine = by_who.get(who, [])
        pair_values = [(p.value, p.n) for s in stats for p in s.pairs if who in (p.a, p.b)]
        scores: dict[str, list[float]] = {"gold": [], "calibration": []}
        gold_items: dict[str, set] = {"gold": set(), "calibration": set()}
        picks = left = 0
        latest: dict[str, int] = {}
        for r in mine:
            item = items.get(r.item_id)
            if item is None:
                continue
            latest[r.item_id] = max(latest.get(r.item_id, 0), r.revision)
            truth = truths.get(r.item_id, {}).get(r.question_id)
            if truth is not None:
                gold_items[item.kind].add(r.item_id)
                score = answer_score(questions[r.question_id], r.answer, truth)
                if score is not None:
                    scores[item.kind].append(score)
            a = r.answer
            if (who in known.roster and a and a.get("mode") == "pairwise" and a.get("choice") in ("A", "B")
                    and r.shown_first):
                picked = a.get("preferred") or item.responses[0 if a["choice"] == "A" else 1].id
                picks += 1
                left += picked == r.shown_first
        times = list(known.seconds.get(who, {}).values()) if who in known.roster else []
        hours = sum(times) / 3600 if times else None
        rate = known.rates.get(who)
        agree = weighted_mean(pair_values)
        out.append(AnnotatorStats(
            annotator=who, name=known.names.get(who, who),
            source="roster" if who in known.roster else "outside",
            assigned=known.assigned.get(who, 0), labeled=len(latest),
            agreement_others=agree, agreement_consensus=with_consensus(who, variables, units, opt),
            band=band(agree), gold_items=len(gold_items["gold"]), gold_accuracy=mean(scores["gold"]),
            calibration_items=len(gold_items["calibration"]),
            calibration_accuracy=mean(scores["calibration"]),
            position_a_share=left / picks if picks else None, position_picks=picks,
            median_seconds=statistics.median(times) if times else None, hours=hours,
            items_per_hour=len(times) / hours if hours else None,
            revision_rate=sum(v > 1 for v in latest.values()) / len(latest) if latest else None,
            rate_per_hour=rate, cost=hours * rate if hours is not None and rate is not None else None,
            competence=mean(c.reliability[who] for c in comp if who in c.reliability)))
    return out


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
            if not var.values.get(m) or var.numeric:
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


def group_stats(by: str, groups: dict[str, list[Rating]], spec: Spec, items: dict[str, Item],
                question: str | None) -> list[GroupStats]:
    """The headline figures per group, side by side; none when every label is in one group."""
    if len(groups) < 2:
        return []
    out = []
    for group in sorted(groups, key=lambda g: (len(g), g)):  # round 10 after round 9
        rs = groups[group]
        who = sorted({r.annotator for r in rs})
        for var in build_variables(spec, items, rs, question):
            s = variable_stats(var, who, pairs=False)
            out.append(GroupStats(by, group, var.question_id, var.name, var.level,
                                  sum(1 for a in who if var.values.get(a)), s.pairable,
                                  s.percent_agreement, s.alpha, s.kendall_w, s.band))
    return out
