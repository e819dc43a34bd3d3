"""How good a project's labels are: agreement, consensus, competence, gold, position bias, time, cost, progress.

Everything returns plain dataclasses (figures as floats, None where the data cannot define
them) for the CLI, the dashboard and the CSV export. Only human labels count toward agreement
and consensus; non-human raters (LLM judges, reward models) are compared with the humans apart.
Agreement and consensus are computed on normal items: gold items measure accuracy, calibration
items are training.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace

from annotary.analysis.agreement import band
from annotary.analysis.competence import CompetenceStats, competence
from annotary.analysis.consensus import EPS
from annotary.analysis.figures import VariableStats, variable_stats
from annotary.analysis.people import (
    AnnotatorStats,
    GroupStats,
    People,
    RaterStats,
    annotator_stats,
    group_stats,
    rater_stats,
)
from annotary.analysis.questions import build_variables, differs
from annotary.analysis.variables import Options, Rating, unsure
from annotary.analysis.verdicts import ItemConsensus, consensus, mark_decided, unit_consensus
from annotary.core.errors import AnnotaryError
from annotary.core.items import Item
from annotary.ops.project import ANSWER, item_skeletons, project_info
from annotary.store import Store

__all__ = ["AnnotatorStats", "CompetenceStats", "GroupStats", "ItemConsensus", "Options", "Rating",
           "RaterStats", "VariableStats", "band"]  # the report's parts, for its readers


# --- loading ------------------------------------------------------------------------------------

# max() makes SQLite take the bare columns from the row of the newest revision; the verdict
# ([answer, guidelines version]), the facts ([shown first, confidence]) and the grouping come
# from the index, in its order (migration 0006)
CURRENT_ALL = """
    SELECT annotator, item_id, question_id, max(revision), verdict, facts FROM labels INDEXED BY labels_current
    WHERE project_id=? AND retracted=0 GROUP BY annotator, item_id, question_id
"""


# where no label has a second revision, every label is current: no grouping (which takes
# SQLite longer than the scan)
FIRST_ALL = """
    SELECT annotator, item_id, question_id, revision, verdict, facts FROM labels INDEXED BY labels_current
    WHERE project_id=? AND retracted=0
"""
REVISED = "SELECT 1 FROM labels WHERE project_id=? AND retracted=0 AND revision > 1 LIMIT 1"


def load_ratings(store: Store, project_id: str, items: dict[str, Item] | None = None) -> list[Rating]:
    """The current labels, one Rating each. SQLite hands out a new string for every id of every
    row; the ratings keep one string per annotator and question, and per item the id the item
    skeletons already hold (`items`), so a million labels do not hold three million strings."""
    parsed: dict[tuple, tuple] = {}  # few distinct (answer, version, shown first, confidence): parse each once
    names: dict[str, str] = {}  # annotators and questions: a handful each
    name = names.setdefault
    item = (items or {}).get
    out = []
    make = Rating._make
    current = CURRENT_ALL if store.one(REVISED, (project_id,)) else FIRST_ALL
    for who, iid, qid, revision, verdict, facts in store.tuples(current, (project_id,)):
        found = parsed.get((verdict, facts))
        if found is None:
            (answer, version), (first, confidence) = json.loads(verdict), json.loads(facts)
            found = parsed[(verdict, facts)] = (answer, first, confidence, version or "")
        known = item(iid)
        out.append(make((name(who, who), iid if known is None else known.id, name(qid, qid), revision, *found)))
    return out


@dataclass(frozen=True)
class Raters:
    """Who is who: roster people, outside humans (imported labels) and non-human raters."""

    names: dict[str, str]
    machines: frozenset[str]
    roster: frozenset[str]
    rates: dict[str, float | None]


def load_raters(store: Store, project_id: str) -> Raters:
    names, rates = {}, {}
    for r in store.query("SELECT key_id, name, rate_per_hour FROM roster WHERE project_id=?"
                         " ORDER BY rowid", (project_id,)):
        names[r[0]], rates[r[0]] = r[1], r[2]
    machines = set()
    for r in store.query("SELECT id, name, human FROM raters WHERE project_id=? ORDER BY rowid",
                         (project_id,)):
        names[r[0]] = r[1]
        if not r[2]:
            machines.add(r[0])
    return Raters(names, frozenset(machines), frozenset(rates), rates)


@dataclass(frozen=True)
class Design:
    """Which labels the agreement figures cover. An adaptive round sends only disputed items to
    one more annotator, so its labels would weigh the hard items and the later annotators' pairs:
    the figures (per question, per pair, per annotator) cover the full-overlap rounds, and labels
    not from a round (imported human raters); consensus uses every label."""

    rounds: list[int]  # the full-overlap rounds the figures cover (all rounds when none is adaptive)
    adaptive: list[int]  # adaptive rounds, left out of the figures
    left_out: int  # human labels of normal items left out of the figures (from adaptive rounds)

    def describe(self) -> str:
        """One line for people, or "" when every round counts."""
        if not self.adaptive:
            return ""
        def listed(rounds):
            return ", ".join(str(r) for r in rounds) or "none"
        return (f"agreement figures cover the full-overlap round{'s' if len(self.rounds) != 1 else ''} "
                f"{listed(self.rounds)}; adaptive round{'s' if len(self.adaptive) != 1 else ''} "
                f"{listed(self.adaptive)} ({self.left_out} labels on disputed items only) count toward "
                "consensus, not the figures")


def adaptive_rounds(store: Store, project_id: str) -> list[int]:
    """The rounds assigned with --adaptive."""
    return [r[0] for r in store.query(
        "SELECT round FROM rounds WHERE project_id=? AND json_extract(settings, '$.adaptive')"
        " ORDER BY round", (project_id,))]


def _design(store: Store, project_id: str, normal: list[Rating], round_of: dict, machines) -> Design:
    adaptive = adaptive_rounds(store, project_id)
    rounds = [r[0] for r in store.query("SELECT round FROM rounds WHERE project_id=? ORDER BY round",
                                        (project_id,)) if r[0] not in adaptive]
    if not adaptive:
        return Design(rounds, [], 0)
    skipped = set(adaptive)
    left_out = sum(1 for r in normal if r.annotator not in machines
                   and round_of.get((r.item_id, r.annotator)) in skipped)
    return Design(rounds, adaptive, left_out)


def _rounds_of(store: Store, project_id: str, items: dict[str, Item], who: set[str]) -> dict[tuple[str, str], int]:
    """(item, annotator) -> the round it was assigned in, keyed by the ids the item skeletons and
    the ratings already hold (SQLite hands out new strings for every row)."""
    item, person = items.get, {a: a for a in who}.get
    out = {}
    for iid, whom, n in store.tuples("SELECT item_id, annotator, round FROM assignments WHERE project_id=?",
                                     (project_id,)):
        known = item(iid)
        out[(iid if known is None else known.id, person(whom, whom))] = n
    return out


def decided_pairs(store: Store, project_id: str) -> set[tuple[str, str]]:
    """The (item, question) pairs a reviewer's merged decision settles."""
    return {(r[0], r[1]) for r in store.query(
        "SELECT DISTINCT item_id, question_id FROM decisions WHERE project_id=?", (project_id,))}


def _durations(store: Store, project_id: str, items: dict[str, Item]) -> dict[str, dict[str, float]]:
    """Seconds on task per annotator and item, summed over the revisions merged (keyed by the
    ids the item skeletons hold, not a new string per row)."""
    rows = store.conn.execute(
        "SELECT annotator, item_id, max(json_extract(data, '$.duration_ms')) FROM labels"
        " WHERE project_id=? AND retracted=0 GROUP BY annotator, item_id, revision", (project_id,))
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    item = items.get
    for who, iid, ms in rows:
        known = item(iid)
        out[who][iid if known is None else known.id] += (ms or 0) / 1000
    return out


def _people(store: Store, project_id: str, raters: Raters, items: dict[str, Item]) -> People:
    assigned = dict(store.query("SELECT annotator, count(*) FROM assignments WHERE project_id=?"
                                " GROUP BY annotator", (project_id,)))
    return People(raters.names, raters.roster, raters.rates, assigned, _durations(store, project_id, items))


def _truths(items: dict[str, Item]) -> dict[str, dict[str, dict]]:
    """The expert answers of gold and calibration items in the shape of a label's answer
    (checked when the items were added)."""
    return {iid: {qid: ANSWER.validate_python(raw).model_dump(mode="json") for qid, raw in (it.gold or {}).items()}
            for iid, it in items.items() if it.kind in ("gold", "calibration")}


# --- the report ---------------------------------------------------------------------------------

def _plain(obj):
    """JSON-ready: nan becomes None, tuples lists."""
    if isinstance(obj, float):
        return None if math.isnan(obj) else obj
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if is_dataclass(obj):
        return _plain(asdict(obj))
    return obj


@dataclass
class QualityReport:
    project_id: str
    project_name: str
    question: str | None
    humans: list[str]  # the columns of every agreement matrix
    names: dict[str, str]
    items: dict[str, int]  # per kind
    variables: list[VariableStats]
    consensus: list[ItemConsensus]
    annotators: list[AnnotatorStats]
    raters: list[RaterStats]
    competence: list[CompetenceStats]
    by_round: list[GroupStats]
    by_guidelines: list[GroupStats]
    options: Options
    guidelines_versions: list[str] = field(default_factory=list)  # the labels were made under
    design: Design = field(default_factory=lambda: Design([], [], 0))  # what the agreement figures cover

    # what the report was computed from, for final answers to reuse (not part of the report)
    loaded: tuple | None = field(default=None, repr=False, compare=False)

    @property
    def conflicts(self) -> list[ItemConsensus]:
        """Conflicts nobody has decided yet."""
        return [c for c in self.consensus if c.status == "conflict"]

    @property
    def decided(self) -> list[ItemConsensus]:
        """Conflicts a reviewer decided."""
        return [c for c in self.consensus if c.status == "decided"]

    def as_dict(self) -> dict:
        out = _plain(replace(self, loaded=None))
        out.pop("loaded", None)
        return out


def quality_report(store: Store, *, question: str | None = None, options: Options | None = None,
                   light: bool = False) -> QualityReport:
    """Every agreement, consensus and per-annotator figure the project's labels support.

    `light` computes only what a dataset export needs (agreement per question and consensus):
    no annotator-pair, per-annotator, competence, outside-rater or per-round figures."""
    opt = options or Options()
    info = project_info(store)
    spec = info.spec
    if question is not None and question not in {q.id for q in spec.questions}:
        raise AnnotaryError(f"no question {question!r} in the spec "
                            f"(questions: {', '.join(q.id for q in spec.questions)})")
    items = item_skeletons(store, info.id)
    raters = load_raters(store, info.id)
    all_ratings = load_ratings(store, info.id, items)
    ratings = [r for r in all_ratings if r.item_id in items
               and (question is None or r.question_id == question)]
    ordered = [*raters.names, *sorted({r.annotator for r in ratings} - set(raters.names))]
    labeled = {r.annotator for r in ratings}
    humans = [a for a in ordered if a in labeled and a not in raters.machines]
    machines = [a for a in ordered if a in labeled and a in raters.machines]
    normal = [r for r in ratings if items[r.item_id].kind == "normal"]
    variables = build_variables(spec, items, normal, question)
    matrix_humans = [a for a in humans if any(var.values.get(a) for var in variables)]
    round_of = _rounds_of(store, info.id, items, labeled)
    design = _design(store, info.id, normal, round_of, raters.machines)
    if design.adaptive:  # headline figures on the full-overlap rounds only
        kept = [r for r in normal if round_of.get((r.item_id, r.annotator)) not in design.adaptive]
        headline = build_variables(spec, items, kept, question)
    else:
        headline = variables
    stats = [variable_stats(v, matrix_humans, pairs=not light) for v in headline]
    comp = competence(variables, matrix_humans) if not light or opt.weighted else []
    weights = {f"{c.question_id}.{c.variable}": c.reliability for c in comp} if opt.weighted else None
    units = unit_consensus(variables, matrix_humans, opt, weights)
    annotating = store.query("SELECT key_id FROM roster WHERE project_id=? AND role='annotator'"
                             " AND removed_at IS NULL", (info.id,))
    people = humans + [r[0] for r in annotating if r[0] not in humans]
    by_round: dict[str, list[Rating]] = defaultdict(list)
    by_guidelines: dict[str, list[Rating]] = defaultdict(list)
    for r in normal:
        if r.annotator in raters.machines:
            continue
        if (r.item_id, r.annotator) in round_of:
            by_round[str(round_of[(r.item_id, r.annotator)])].append(r)
        by_guidelines[r.guidelines_version].append(r)
    return QualityReport(
        project_id=info.id, project_name=info.name, question=question, humans=matrix_humans,
        names={a: raters.names.get(a, a) for a in ordered},
        items={k: sum(1 for i in items.values() if i.kind == k) for k in ("normal", "gold", "calibration")},
        variables=stats, consensus=mark_decided(consensus(spec, items, variables, units),
                                                decided_pairs(store, info.id)),
        annotators=[] if light else annotator_stats(
            spec=spec, items=items, truths=_truths(items), ratings=ratings, people=people,
            known=_people(store, info.id, raters, items), variables=variables, stats=stats, units=units,
            comp=comp, opt=opt),
        raters=rater_stats(spec, machines, matrix_humans, raters.names, normal, variables, units, opt),
        competence=comp,
        by_round=[] if light else group_stats("round", by_round, spec, items, question),
        by_guidelines=[] if light else group_stats("guidelines", by_guidelines, spec, items, question),
        options=opt, guidelines_versions=sorted(by_guidelines), design=design,
        loaded=(items, all_ratings, raters))


def heatmap(report: QualityReport, variable: str) -> tuple[list[str], list[list[float | None]]]:
    """Annotator x annotator matrix of a variable's headline pairwise figure (1 on the diagonal)."""
    found = [s for s in report.variables if s.key == variable]
    if not found:
        raise AnnotaryError(f"no variable {variable!r}; one of {', '.join(s.key for s in report.variables)}")
    ids = report.humans
    at = {a: i for i, a in enumerate(ids)}
    grid: list[list[float | None]] = [[1.0 if i == j else None for j in range(len(ids))] for i in range(len(ids))]
    for p in found[0].pairs:
        grid[at[p.a]][at[p.b]] = grid[at[p.b]][at[p.a]] = p.value
    return ids, grid


def disputed_items(report: QualityReport, store: Store) -> list[tuple[str, str]]:
    """Items an adaptive round sends to one more annotator, most disputed first, with why.

    Conflicts, then weak consensus (support below options.weak_support), then items where a
    non-human rater disagrees with an agreed human consensus or is unsure."""
    why: dict[str, tuple[int, float, str]] = {}

    def note(iid, rank, support, reason):
        if iid not in why or (rank, support) < why[iid][:2]:
            why[iid] = (rank, support, reason)

    for c in report.consensus:
        if c.decided:  # a reviewer's decision settles it
            continue
        if c.status == "conflict":
            note(c.item_id, 0, c.support or 0.0, f"{c.question_id}: no consensus")
        elif c.status == "agreed" and (c.support or 0.0) < report.options.weak_support - EPS:
            note(c.item_id, 1, c.support, f"{c.question_id}: weak consensus ({c.support:.2f})")
    if report.raters:
        agreed = {(c.item_id, c.question_id): c.value for c in report.consensus if c.status == "agreed"}
        spec = project_info(store).spec
        scales = {q.id: q.confidence_scale for q in spec.questions}
        for r in load_ratings(store, report.project_id):
            if r.annotator not in {s.rater for s in report.raters}:
                continue
            human = agreed.get((r.item_id, r.question_id))
            if human is not None and r.answer is not None and differs(human, r.answer, report.options):
                note(r.item_id, 2, 0.0, f"{r.question_id}: {report.names.get(r.annotator)} disagrees")
            elif unsure(r, scales):
                note(r.item_id, 3, 0.0, f"{r.question_id}: {report.names.get(r.annotator)} is unsure")
    return [(iid, w[2]) for iid, w in sorted(why.items(), key=lambda kv: kv[1][:2])]


# --- progress -----------------------------------------------------------------------------------

@dataclass
class StatusReport:
    project_id: str
    project_name: str
    round: int
    guidelines_version: str
    items: dict[str, int]
    labels: int  # current labels, everyone
    bundles: int  # result bundles merged
    rounds: list[dict]  # round, created_at, guidelines_version, annotators, assigned, labeled
    progress: list[dict]  # per annotator and round: assigned, labeled, remaining
    people: list[dict]  # roster: key, name, role, active, assigned, labeled, remaining
    raters: list[dict]  # outside raters: id, name, human, labels

    def as_dict(self) -> dict:
        return _plain(self)


PROGRESS = """
    SELECT a.annotator, a.round, count(*) AS assigned, count(l.item_id) AS labeled
    FROM assignments a LEFT JOIN (SELECT DISTINCT item_id, annotator FROM labels
                                  WHERE project_id=:p AND retracted=0) l
      ON l.item_id=a.item_id AND l.annotator=a.annotator
    WHERE a.project_id=:p GROUP BY a.annotator, a.round
"""


def project_status(store: Store) -> StatusReport:
    """Progress per annotator and round, from the store alone (fast: no figures computed)."""
    info = project_info(store)
    p = {"p": info.id}
    kinds = dict(store.query("SELECT kind, count(*) FROM items WHERE project_id=? GROUP BY kind", (info.id,)))
    names = dict(store.query("SELECT key_id, name FROM roster WHERE project_id=? ORDER BY rowid", (info.id,)))
    order = {k: n for n, k in enumerate(names)}
    progress = sorted(({"annotator": r[0], "name": names.get(r[0], r[0]), "round": r[1], "assigned": r[2],
                        "labeled": r[3], "remaining": r[2] - r[3]} for r in store.query(PROGRESS, p)),
                      key=lambda x: (x["round"], order.get(x["annotator"], len(order))))
    rounds = []
    for r in store.query("SELECT round, created_at, guidelines_version FROM rounds WHERE project_id=?"
                         " ORDER BY round", (info.id,)):
        rows = [x for x in progress if x["round"] == r[0]]
        rounds.append({"round": r[0], "created_at": r[1], "guidelines_version": r[2],
                       "annotators": len(rows), "assigned": sum(x["assigned"] for x in rows),
                       "labeled": sum(x["labeled"] for x in rows)})
    people = []
    for r in store.query("SELECT key_id, name, role, removed_at FROM roster WHERE project_id=?"
                         " ORDER BY rowid", (info.id,)):
        rows = [x for x in progress if x["annotator"] == r[0]]
        assigned, labeled = sum(x["assigned"] for x in rows), sum(x["labeled"] for x in rows)
        people.append({"annotator": r[0], "name": r[1], "role": r[2], "active": r[3] is None,
                       "assigned": assigned, "labeled": labeled, "remaining": assigned - labeled})
    raters = [{"id": r[0], "name": r[1], "human": bool(r[2]), "labels": r[3]} for r in store.query(
        "SELECT r.id, r.name, r.human, (SELECT count(DISTINCT item_id || char(0) || question_id)"
        " FROM labels l WHERE l.project_id=r.project_id AND l.annotator=r.id) FROM raters r"
        " WHERE r.project_id=? ORDER BY r.rowid", (info.id,))]
    labels = store.one("SELECT count(*) FROM (SELECT DISTINCT item_id, question_id, annotator FROM labels"
                       " WHERE project_id=? AND retracted=0)", (info.id,))[0]
    bundles = store.one("SELECT count(*) FROM bundle_log WHERE project_id=? AND kind='results'",
                        (info.id,))[0]
    return StatusReport(info.id, info.name, info.round, info.guidelines_version,
                        {k: kinds.get(k, 0) for k in ("normal", "gold", "calibration")}, labels, bundles,
                        rounds, progress, people, raters)


# --- CSV ----------------------------------------------------------------------------------------

def to_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    if rows:
        w = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        for row in rows:
            w.writerow({k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in row.items()})
    return out.getvalue()


def _row(obj, drop=()) -> dict:
    return {f.name: _plain(getattr(obj, f.name)) for f in fields(obj) if f.name not in drop}


def csv_tables(report: QualityReport) -> dict[str, str]:
    """Every table of the report as CSV text, by file name."""
    names = report.names
    pairs = [{"question_id": s.question_id, "variable": s.variable, "a": p.a, "a_name": names.get(p.a),
              "b": p.b, "b_name": names.get(p.b), **_row(p, ("a", "b"))}
             for s in report.variables for p in s.pairs]
    rater_pairs = [{"rater": r.rater, "variable": key, "human": p.b, "human_name": names.get(p.b),
                    **_row(p, ("a", "b"))} for r in report.raters for key, ps in r.pairs.items() for p in ps]
    dist = [{"question_id": s.question_id, "variable": s.variable, "category": c, "count": n}
            for s in report.variables for c, n in s.distribution.items()]
    comp = [{"question_id": c.question_id, "variable": c.variable, "annotator": a, "name": names.get(a),
             "reliability": v} for c in report.competence for a, v in c.reliability.items()]
    return {
        "agreement.csv": to_csv([_row(s, ("pairs", "distribution")) for s in report.variables]),
        "pairs.csv": to_csv(pairs),
        "distribution.csv": to_csv(dist),
        "annotators.csv": to_csv([_row(a) for a in report.annotators]),
        "raters.csv": to_csv([_row(r, ("pairs",)) for r in report.raters]),
        "rater_pairs.csv": to_csv(rater_pairs),
        "competence.csv": to_csv(comp),
        "consensus.csv": to_csv([_row(c) for c in report.consensus]),
        "by_round.csv": to_csv([_row(g) for g in report.by_round + report.by_guidelines]),
    }


def status_csv(status: StatusReport) -> dict[str, str]:
    return {"progress.csv": to_csv(status.progress), "rounds.csv": to_csv(status.rounds),
            "people.csv": to_csv(status.people)}
