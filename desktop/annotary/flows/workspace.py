"""The coordinator workspace without Qt: figures computed once, each tab's rows as text, its CSV."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotary.core.changes import Change
from annotary.core.errors import AnnotaryError, Cancelled
from annotary.flows.modes import describe, parse_answer
from annotary.ops import Store
from annotary.ops.adjudication import create_adjudication
from annotary.ops.assign import AssignReport, assign_round
from annotary.ops.export import CHAT, export_choices
from annotary.ops.merge import MergeReport, merge_results
from annotary.ops.project import project_info
from annotary.ops.quality import (
    Options,
    QualityReport,
    StatusReport,
    band,
    csv_tables,
    heatmap,
    project_status,
    quality_report,
    status_csv,
    to_csv,
)
from annotary.ops.roster import add_members, members, parse_rate
from annotary.ops.sealing import DEFAULT_CHOICE, Encryption
from annotary.ops.simulate import Simulation, simulate

BAND_RULE = "κ/α ≥ 0.70 good · 0.40–0.70 watch · below 0.40 flagged"
STATUS_TEXT = {"agreed": "agreed", "conflict": "conflict", "decided": "decided by a reviewer",
               "single": "one rating"}


@dataclass
class Snapshot:
    """Everything the workspace shows, computed in one go (off the GUI thread)."""

    report: QualityReport
    status: StatusReport
    questions: dict[str, str] = field(default_factory=dict)  # question id -> its words

    def tables(self) -> dict[str, str]:
        """Every CSV the workspace can write, by file name."""
        out = csv_tables(self.report) | status_csv(self.status)
        out["gold.csv"] = to_csv(gold_rows(self.report))
        for s in self.report.variables:
            if s.pairs:
                out[f"heatmap-{s.key}.csv"] = heatmap_csv(self.report, s.key)
        return out


def compute(store: Store, options: Options | None = None) -> Snapshot:
    return Snapshot(quality_report(store, options=options), project_status(store), question_words(store))


def question_cell(qid: str, words: dict[str, str] | None) -> Cell:
    """The question in its own words (the spec's id in the tooltip and the CSV)."""
    text = (words or {}).get(qid)
    if not text:
        return Cell(qid)
    short = text if len(text) <= 60 else text[:59] + "…"
    return Cell(short, qid, tip=f"{text} (question {qid})")


QUESTION_TIP = "The question asked; hover a cell for all of it"
LEGEND = ("κ kappa: agreement beyond chance (Fleiss: all annotators; Cohen: a pair) · α Krippendorff's alpha: "
          "the same with missing ratings allowed · τ and W Kendall's tau and W: rankings · Dawid–Skene: each "
          "annotator's reliability estimated from the pattern of answers · hover a column header for more.")


def merge_bundles(store: Store, paths: list[str | Path], *, progress: Callable[[int, int], None] | None = None,
                  cancelled: Callable[[], bool] | None = None) -> list[MergeReport]:
    """Merge bundles one by one; a cancel stops before the next bundle and keeps those merged."""
    return merge_results(store, paths=paths, progress=progress, cancelled=cancelled)


def merge_lines(reports: list[MergeReport]) -> list[tuple[str, str]]:
    """(kind, one line) per bundle; kind is merged, unchanged or refused."""
    return [("refused" if r.refusal else "unchanged" if r.already_merged or not (r.accepted or r.replaced)
             else "merged", r.message) for r in reports]


# --- formatting -----------------------------------------------------------------------------------

def num(v: float | None, digits: int = 2) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def pct(v: float | None) -> str:
    return "–" if v is None or math.isnan(v) else f"{100 * v:.0f}%"


def secs(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:.0f} s" if v < 120 else f"{v / 60:.1f} min"


@dataclass
class Cell:
    text: str
    sort: float | str | None = None  # None sorts as the text
    band: str | None = None  # good, watch, flagged, n/a: the cell is coloured (its text says it too)
    tip: str = ""
    number: bool = False  # right-aligned


@dataclass
class Table:
    """A table of a tab: its headers, rows of cells and the CSV file it exports as."""

    csv: str
    title: str
    headers: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    tips: list[str] = field(default_factory=list)  # per header
    empty: str = ""  # shown instead of the table when it has no rows


def _n(v: float | None) -> Cell:
    return Cell(num(v), v if v is not None else -math.inf, number=True)


def _p(v: float | None) -> Cell:
    return Cell(pct(v), v if v is not None else -math.inf, number=True)


def _i(v: int) -> Cell:
    return Cell(str(v), v, number=True)


def _of(text: str, v: float | None) -> Cell:
    return Cell(text, v if v is not None else -math.inf, number=True)


def _band(b: str) -> Cell:
    return Cell(b, ["n/a", "flagged", "watch", "good"].index(b) if b in ("n/a", "flagged", "watch", "good") else -1,
                band=b)


def headline(r: QualityReport, s: StatusReport) -> str:
    people = len(r.humans)
    return (f"{s.project_id} · round {s.round} · guidelines v{s.guidelines_version or '–'} · "
            f"items {s.items['normal']} normal, {s.items['gold']} gold, {s.items['calibration']} calibration · "
            f"{people} annotator{'s' if people != 1 else ''} with labels · {s.labels} labels from "
            f"{s.bundles} result bundle{'s' if s.bundles != 1 else ''}"
            + (f" · {r.design.describe()}" if r.design.adaptive else ""))


def consensus_counts(r: QualityReport) -> dict[str, int]:
    return r.counts()


def consensus_line(r: QualityReport) -> str:
    c = consensus_counts(r)
    weighted = " (weighted by competence)" if r.options.weighted else ""
    decided = f" · {c['decided']} decided by a reviewer" if c["decided"] else ""
    return (f"Consensus{weighted}: {c['agreed']} agreed · {c['conflict']} conflicts{decided} · "
            f"{c['single']} with one rating so far · majority share {r.options.min_share:.2f}")


def interval(low: float | None, high: float | None) -> str:
    """A 95 % interval as text ("0.71–0.81"), or a dash."""
    return "–" if low is None or high is None else f"{num(low)}–{num(high)}"


def variable_words(key: str, words: dict[str, str] | None = None) -> str:
    """A question variable ("helpful.choice", "quality.correctness") in the question's words."""
    qid, _, variable = key.partition(".")
    text = (words or {}).get(qid)
    if not text:
        return key
    text = text if len(text) <= 70 else text[:69] + "…"
    return text if variable in ("", "choice") else f"{text} · {variable}"


def attention(r: QualityReport, words: dict[str, str] | None = None) -> str:
    """What needs a look first: questions and annotators below the good band."""
    parts = []
    for b in ("flagged", "watch"):
        found = [f"“{variable_words(s.key, words)}” (α {num(s.alpha)}{_within(s)})" if words
                 else f"{s.key} (α {num(s.alpha)}{_within(s)})" for s in r.variables if s.band == b and s.ratings]
        if found:
            parts.append(f"{b.capitalize()}: {', '.join(found)}.")
    low = [f"{a.name} ({num(a.agreement_others)})" for a in r.annotators if a.band == "flagged"]
    if low:
        parts.append(f"Annotators in the flagged band against the others: {', '.join(low)}.")
    if r.variables and any(s.ratings for s in r.variables) and not parts:
        parts.append("Every question with figures is in the good band.")
    return " ".join(parts)


def _within(s) -> str:
    """", 95% a–b" after an alpha, where it has an interval."""
    return "" if s.alpha_low is None else f", 95% {interval(s.alpha_low, s.alpha_high)}"


def agreement_table(r: QualityReport, words: dict[str, str] | None = None) -> Table:
    t = Table("agreement.csv", "Agreement per question",
              ["Question", "Variable", "Level", "Units rated twice", "Ratings", "Percent agreement",
               "Chance agreement", "Fleiss κ", "Fleiss κ 95%", "Krippendorff α", "α 95%", "Kendall W",
               "Mean τ", "Band"],
              tips=[QUESTION_TIP, "What is rated: the choice, a scoring axis, a rubric criterion …",
                    "nominal, ordinal, interval, ratio or ranking: α uses the fitting distance",
                    "Units at least two annotators rated: only these measure agreement",
                    "Ratings given by everyone, on every unit",
                    "Share of annotator pairs giving the same answer",
                    "Agreement expected by chance from how often each answer is given (Fleiss' kappa "
                    "corrects for it)",
                    "Fleiss' kappa: agreement of all annotators beyond chance (nominal)",
                    "95% interval of Fleiss' kappa, resampling the units; its standard error (no "
                    "agreement beyond chance, Fleiss–Nee–Landis) is in the CSV",
                    "Krippendorff's alpha, missing ratings allowed: the band is read from it",
                    "95% bootstrap interval of alpha (Hayes & Krippendorff 2007): with few units it is "
                    "wide, and the band may be unsure",
                    "Kendall's W (rankings)", "Mean Kendall τ between pairs (rankings)", BAND_RULE],
              empty="No labels merged yet. Drop the annotators' result bundles (.annotary) on this "
                    "window to merge them.")
    if not any(s.ratings for s in r.variables):
        return t
    for s in r.variables:
        alpha = _n(s.alpha)
        alpha.band = s.band
        t.rows.append([question_cell(s.question_id, words), Cell(s.variable), Cell(s.level), _i(s.pairable),
                       _i(s.ratings), _p(s.percent_agreement), _p(s.expected_agreement), _n(s.fleiss_kappa),
                       _of(interval(s.fleiss_kappa_low, s.fleiss_kappa_high), s.fleiss_kappa_low), alpha,
                       _of(interval(s.alpha_low, s.alpha_high), s.alpha_low),
                       _n(s.kendall_w), _n(s.mean_tau), _band(s.band)])
    return t


def annotators_table(r: QualityReport) -> Table:
    t = Table("annotators.csv", "Per annotator",
              ["Name", "Key id", "Source", "Assigned", "Labeled", "Agreement with others", "Band",
               "Matches consensus", "Gold accuracy", "Calibration accuracy", "Picks for A (left)",
               "Median time", "Items per hour", "Revised", "Cost", "Competence (Dawid–Skene)"],
              tips=["The annotator's name, from their card", "Key id of the signer",
                    "roster: signed result bundles; outside: imported labels",
                    "Items given to them in every round so far",
                    "Items with a current label", "Mean pairwise κ with the others, weighted by shared items "
                    "(quadratic κ on ordinal scales, τ on rankings)", BAND_RULE,
                    "Share of their ratings that match an agreed consensus of at least two people",
                    "Share of gold items answered as the expert did", "Share of calibration items right",
                    "Share of A/B picks that went to the response shown on the left (50% = no position bias)",
                    "Median time on task per item", "Items labeled per hour on task",
                    "Share of items submitted more than once", "Hours on task × the rate per hour of the roster",
                    "Dawid–Skene estimate of reliability from the pattern of answers (mean over categorical "
                    "variables; 1 = always right)"],
              empty="No annotators in the roster yet (annotary roster add).")
    for a in r.annotators:
        agree = _n(a.agreement_others)
        agree.band = a.band
        t.rows.append([
            Cell(a.name), Cell(a.annotator[:16], tip=a.annotator), Cell(a.source),
            _i(a.assigned), _i(a.labeled), agree, _band(a.band), _p(a.agreement_consensus),
            _of(f"{pct(a.gold_accuracy)} of {a.gold_items}" if a.gold_items else "–", a.gold_accuracy),
            _of(f"{pct(a.calibration_accuracy)} of {a.calibration_items}" if a.calibration_items else "–",
                a.calibration_accuracy),
            _of(f"{pct(a.position_a_share)} of {a.position_picks}" if a.position_picks else "–",
                a.position_a_share),
            _of(secs(a.median_seconds), a.median_seconds), _of(num(a.items_per_hour, 0), a.items_per_hour),
            _p(a.revision_rate), _n(a.cost), _n(a.competence)])
    return t


def competence_table(r: QualityReport, words: dict[str, str] | None = None) -> Table:
    names = [r.names.get(a, a) for a in r.humans]
    t = Table("competence.csv", "Competence per variable (Dawid–Skene reliability)",
              ["Question", "Variable", *names, "Converged"],
              tips=[QUESTION_TIP, "What is rated: the choice, a scoring axis …",
                    *[f"{n}'s estimated reliability on this variable (1 = always right)" for n in names],
                    "Whether the Dawid–Skene estimate settled within its iterations"],
              empty="Competence needs a categorical question that two annotators rated.")
    for c in r.competence:
        t.rows.append([question_cell(c.question_id, words), Cell(c.variable),
                       *[_n(c.reliability.get(a)) for a in r.humans],
                       Cell("yes" if c.converged else f"no ({c.iterations} iterations)")])
    return t


def raters_table(r: QualityReport) -> Table:
    t = Table("raters.csv", "Non-human raters (LLM judges, reward models): never counted in consensus",
              ["Rater", "Labels", "Items", "Agreement with humans", "With human consensus", "Unsure"],
              tips=["The rater's name given at import", "Labels imported", "Items it labeled",
                    "Mean pairwise figure with each human, weighted by shared items",
                    "Share of its ratings matching an agreed human consensus",
                    "Labels with a confidence below the middle of the scale"],
              empty="No non-human raters. Add an LLM judge's labels with "
                    "`annotary labels import PROJECT.db --rater NAME FILE.jsonl`.")
    for x in r.raters:
        t.rows.append([Cell(x.name), _i(x.labels), _i(x.items), _n(x.agreement_humans),
                       _p(x.agreement_consensus), _i(x.unsure)])
    return t


def group_title(by: str, group: str) -> str:
    return f"Round {group}" if by == "round" else f"Guidelines v{group}" if group else "Guidelines (none)"


def groups_table(r: QualityReport) -> Table:
    """Per round and per guidelines version, side by side: one column per group."""
    groups = list(dict.fromkeys((g.by, g.group) for g in r.by_round + r.by_guidelines))
    t = Table("by_round.csv", "Per round and per guidelines version",
              ["Question", "Variable", *[group_title(*g) for g in groups]],
              empty="All labels so far are from one round and one guidelines version. Figures side by "
                    "side appear here once a second round, or a guidelines change, has labels.")
    if not groups:
        return t
    at = {g: i for i, g in enumerate(groups)}
    rows: dict[tuple[str, str], list[Cell]] = {}
    before: dict[tuple[str, str, str], float] = {}  # the previous round's (or version's) alpha
    for g in r.by_round + r.by_guidelines:
        row = rows.setdefault((g.question_id, g.variable), [Cell("–") for _ in groups])
        agree = f" · {pct(g.percent_agreement)} agree" if g.percent_agreement is not None else ""
        last = before.get((g.by, g.question_id, g.variable))
        change = f" ({g.alpha - last:+.2f})" if g.alpha is not None and last is not None else ""
        if g.alpha is not None:
            before[(g.by, g.question_id, g.variable)] = g.alpha
        row[at[(g.by, g.group)]] = Cell(
            f"α {num(g.alpha)}{change} {g.band}{agree} · {g.pairable} units",
            g.alpha if g.alpha is not None else -math.inf, band=g.band,
            tip=f"{g.annotators} annotators; {g.pairable} units rated at least twice"
                + ("; the change is against the previous column of its kind" if change else ""))
    for (qid, var), cells in rows.items():
        t.rows.append([Cell(qid), Cell(var), *cells])
    return t


def describe_value(value: dict | None) -> str:
    """A consensus answer in a few words."""
    if not value:
        return "–"
    mode = value.get("mode")
    if mode == "pairwise":
        text = value["choice"]
        if value.get("strength") is not None:
            text += f" (point {value['strength']})"
        return text + (f" → {value['preferred']}" if value.get("preferred") else "")
    if mode == "ranking":
        text = " > ".join(" = ".join(group) for group in value["order"])
        if value.get("all_unacceptable"):
            return f"all unacceptable ({text})" if text else "all unacceptable"
        return text
    if mode == "scoring":
        return "; ".join(f"{rid}: " + ", ".join(f"{ax} {v}" for ax, v in axes.items())
                         for rid, axes in value["scores"].items())
    if mode == "rubric":
        return ", ".join(f"{c} {m.replace('_', ' ')}" for c, m in value["marks"].items())
    if mode == "categorical":
        return describe(None, parse_answer(value), None, [])
    return str(value)


CONSENSUS_FILTERS = {"All items": None, "Conflicts": "conflict", "Agreed": "agreed",
                     "Decided by a reviewer": "decided", "One rating so far": "single"}


def consensus_table(r: QualityReport, status: str | None = None, words: dict[str, str] | None = None) -> Table:
    t = Table("consensus.csv", "Consensus per item and question",
              ["Item", "Question", "Status", "Consensus", "Support", "Ratings", "Rubric score"],
              tips=["The item's id in the dataset", QUESTION_TIP,
                    "agreed; conflict: no consensus, a reviewer should decide; decided by a reviewer "
                    "(a conflict settled); one rating so far",
                    "Majority, median, mean or Borda, by the question's scale",
                    "Share of the ratings behind the weakest part of the value",
                    "How many people rated the item on this question",
                    "Met points ÷ positive points of the consensus marks (rubric questions)"],
              empty="No item has labels yet." if status is None
              else f"No item is in the state “{STATUS_TEXT.get(status, status)}” now.")
    for c in r.consensus:
        if status is not None and c.status != status:
            continue
        t.rows.append([Cell(c.item_id), question_cell(c.question_id, words),
                       Cell(STATUS_TEXT.get(c.status, c.status), c.status,
                            band={"agreed": "good", "conflict": "flagged"}.get(c.status)),
                       Cell(describe_value(c.value)), _p(c.support), _i(c.ratings), _n(c.score)])
    return t


# --- what the project would have cost under each plan ---------------------------------------------

PLANS_TITLE = "What this project would have cost under each plan"
PLANS_ABOUT = ("The labels this project holds, replayed under each plan on every item three people labelled, and "
               "measured against the answer most of those three gave. Adaptive, triage and competence-guided "
               "plans ask one more person only where the answers so far leave the item open; the competence-guided "
               "plan routes each half of the items by the estimates fitted on the other half.")


def compute_plans(store: Store, cancelled: Callable[[], bool] | None = None) -> Simulation:
    """`annotary simulate` of the project (AnnotaryError when no item has three people's labels)."""
    sim = simulate(store)
    if cancelled and cancelled():
        raise Cancelled("replaying the plans was cancelled")
    return sim


def plan_words(plan: str) -> str:
    """A plan's name in words ("triage:gpt-3.5" -> "Triage with gpt-3.5")."""
    kind, _, rater = plan.partition(":")
    if kind.startswith("fixed-"):
        n = kind.removeprefix("fixed-")
        return f"Fixed {n}" + (" (the reference)" if n == "3" else "")
    return {"adaptive": "Adaptive", "triage": f"Triage with {rater}",
            "competence": "Competence-guided (Dawid–Skene)"}.get(kind, plan)


def _share(v: float | None, detail: str = "") -> Cell:
    return Cell("–" if v is None else f"{100 * v:.1f}%{detail}", v if v is not None else -math.inf, number=True)


def plans_table(sim: Simulation | None, empty: str = "") -> Table:
    t = Table("plans.csv", PLANS_TITLE,
              ["Plan", "Human labels", "Share of fixed-3", "Agreement with fixed-3 majority",
               "Settled on one person", "Cost", "Hours", "What it does"],
              tips=["The plan (hover a cell for the name `annotary simulate` gives it)",
                    "One person labelling one item, counted once", "Human labels as a share of three per item",
                    "Share of items whose outcome is the fixed-3 majority (items without one are not counted)",
                    "Items the plan settles on one person's answer", "Hours on task × the roster's rates",
                    "Recorded time on task of the labels the plan uses", "Who is asked, and when one more"],
              empty=empty or "Computing…")
    if sim is None:
        return t
    for p in sim.plans:
        detail = f" ({p.agreed}/{p.compared})" if p.agreement is not None else ""
        t.rows.append([Cell(plan_words(p.plan), tip=p.plan), _i(p.human_labels), _share(p.share),
                       _share(p.agreement, detail), _i(p.one_person), _n(p.cost), _n(p.hours),
                       Cell(p.description, tip=p.description)])
    return t


def plans_line(sim: Simulation) -> str:
    head = f"{sim.items} items replayed; {sim.items - sim.no_majority} have a fixed-3 majority to compare with."
    return " ".join([head, *(n[0].upper() + n[1:] + "." for n in sim.notes)])


def plans_csv(sim: Simulation) -> str:
    return to_csv([vars(p) for p in sim.plans])


# --- charts' data -------------------------------------------------------------------------------

@dataclass
class HeatmapData:
    variable: str
    ids: list[str]
    names: list[str]
    grid: list[list[float | None]]
    shared: list[list[int]]  # items both rated
    figure: str  # what the numbers are
    intervals: list[list[str]] = field(default_factory=list)  # each pair's 95 % interval, as text

    def band(self, i: int, j: int) -> str:
        return band(self.grid[i][j])


def pair_figure(level: str) -> str:
    if level in ("ordinal", "interval", "ratio"):
        return "quadratic-weighted Cohen's κ"
    return {"ranking": "mean Kendall τ"}.get(level, "Cohen's κ")


def heatmap_data(r: QualityReport, variable: str) -> HeatmapData:
    ids, grid = heatmap(r, variable)
    at = {a: i for i, a in enumerate(ids)}
    stats = next(s for s in r.variables if s.key == variable)
    shared = [[0] * len(ids) for _ in ids]
    intervals = [["–"] * len(ids) for _ in ids]
    for p in stats.pairs:
        shared[at[p.a]][at[p.b]] = shared[at[p.b]][at[p.a]] = p.n
        intervals[at[p.a]][at[p.b]] = intervals[at[p.b]][at[p.a]] = interval(*p.interval)
    return HeatmapData(variable, ids, [r.names.get(a, a) for a in ids], grid, shared, pair_figure(stats.level),
                       intervals)


def heatmap_variables(r: QualityReport) -> list[str]:
    return [s.key for s in r.variables if s.pairs and s.pairable]  # an unanswered question has no map


def heatmap_csv(r: QualityReport, variable: str) -> str:
    d = heatmap_data(r, variable)
    rows = [{"annotator": a, "name": name, **{b: v for b, v in zip(d.ids, row, strict=True)}}
            for a, name, row in zip(d.ids, d.names, d.grid, strict=True)]
    return to_csv(rows)


@dataclass
class Bar:
    label: str
    value: float | None  # None: nothing to show (drawn as "n/a")
    text: str  # written on the bar
    total: float | None = None  # a bar out of a total (progress): the track shows the total


@dataclass
class BarGroup:
    title: str
    bars: list[Bar]
    maximum: float | None = None  # the axis end; None: the largest value or total


def distribution_groups(r: QualityReport, words: dict[str, str] | None = None) -> list[BarGroup]:
    out = []
    for s in r.variables:
        total = sum(s.distribution.values())
        what = "first place per response position" if s.level == "ranking" else \
            "rubric scores in tenths" if s.level == "interval" else "answers"
        bars = [Bar(str(c), n, f"{n} ({100 * n / total:.0f}%)" if total else "0") for c, n in s.distribution.items()]
        out.append(BarGroup(f"{variable_words(s.key, words)} · {what} · {total} ratings", bars))
    return out


def progress_groups(s: StatusReport) -> list[BarGroup]:
    people = [p for p in s.people if p["role"] == "annotator" or p["assigned"]]
    bars = [Bar(p["name"] + ("" if p["active"] else " (removed)"), p["labeled"],
                f"{p['labeled']} of {p['assigned']}" + (f" ({100 * p['labeled'] / p['assigned']:.0f}%)"
                                                       if p["assigned"] else ""), p["assigned"])
            for p in people]
    rounds = f"{len(s.rounds)} rounds" if len(s.rounds) > 1 else "round 1" if s.rounds else "no round yet"
    out = [BarGroup(f"Items labeled of those assigned, per annotator · {rounds}", bars)]
    for x in s.raters:
        out.append(BarGroup(f"{x['name']} ({'human' if x['human'] else 'non-human'} rater)",
                            [Bar("labels", x["labels"], str(x["labels"]))]))
    return out


def gold_rows(r: QualityReport) -> list[dict]:
    return [{"annotator": a.annotator, "name": a.name, "gold_items": a.gold_items, "gold_accuracy": a.gold_accuracy,
             "calibration_items": a.calibration_items, "calibration_accuracy": a.calibration_accuracy}
            for a in r.annotators]


def gold_groups(r: QualityReport) -> list[BarGroup]:
    def bar(name, acc, n):
        return Bar(name, acc, f"{pct(acc)} of {n} item{'s' if n != 1 else ''}" if n else "no items answered")

    gold, calibration = r.items["gold"], r.items["calibration"]
    return [BarGroup(f"Gold accuracy · {gold} gold item{'s' if gold != 1 else ''} hidden among the normal ones",
                     [bar(a.name, a.gold_accuracy, a.gold_items) for a in r.annotators], 1.0),
            BarGroup(f"Calibration accuracy · {calibration} calibration item{'s' if calibration != 1 else ''} "
                     "(shown with feedback)",
                     [bar(a.name, a.calibration_accuracy, a.calibration_items) for a in r.annotators], 1.0)]


# --- the coordinator's actions: roster, rounds, adjudication, datasets ----------------------------

@dataclass
class Field:
    """One input of an action's form; the screen draws it, tests answer it by key."""

    key: str
    label: str
    kind: str  # int, share, bool, choice, files, folder, save (a file to write), text
    default: Any = None
    choices: list[tuple[Any, str]] = field(default_factory=list)  # (value, the words shown)
    tip: str = ""
    minimum: float = 0
    maximum: float = 1
    filter: str = ""  # file dialogs: which files
    zero: str = ""  # shares: the words for 0 (it means "none" or "no limit")


def project_folder(store: Store) -> Path:
    return Path(store.path).parent if store.path else Path.cwd()


def free_path(path: Path) -> Path:
    """`path`, or path-2, path-3 … if it is taken."""
    out, n = path, 2
    while out.exists():
        out, n = path.with_name(f"{path.stem}-{n}{path.suffix}"), n + 1
    return out


CARD_FILES = "Identity cards (*.json);;All files (*)"
ITEM_FILES = ("Data files (*.jsonl *.ndjson *.json *.csv *.parquet *.jsonl.gz *.json.gz *.csv.gz);;"
              "All files (*)")
BUNDLE_FILES = "Annotary bundles (*.annotary);;All files (*)"


def roster_fields() -> list[Field]:
    return [Field("cards", "&Cards", "files", [], filter=CARD_FILES,
                  tip="Each person writes theirs with `annotary identity export`; a card whose signature "
                      "does not hold is refused, and then nobody is added"),
            Field("rate", "Cost per &hour", "text", "",
                  tip="Optional, for the cost figures: 60, 60/h or 1/min")]


def add_to_roster(store: Store, values: dict) -> Change:
    cards = [p for p in values["cards"] if str(p).strip()]
    if not cards:
        raise AnnotaryError("choose at least one identity card (.json)")
    rate = (values.get("rate") or "").strip()
    return add_members(store, cards=cards, rate_per_hour=parse_rate(rate) if rate else None)


def roster_line(store: Store) -> str:
    people = members(store, active_only=True)
    if not people:
        return "Roster: nobody yet. Add annotators' and reviewers' cards to assign a round."
    by_role: dict[str, list[str]] = {}
    for m in people:
        by_role.setdefault(m.role, []).append(m.name)
    return "Roster: " + " · ".join(f"{len(v)} {role}{'s' if len(v) != 1 else ''} ({', '.join(v)})"
                                   for role, v in by_role.items())


def next_round(store: Store) -> int:
    info = project_info(store)
    row = store.one("SELECT max(round) FROM rounds WHERE project_id=?", (info.id,))
    return (row[0] or 0) + 1


def assign_fields(store: Store) -> list[Field]:
    n = len(members(store, active_only=True, role="annotator"))
    if not n:
        raise AnnotaryError("no annotators in the roster yet: add their cards first")
    r = next_round(store)
    return [
        Field("overlap", "&Annotators per item", "int", min(2, n), minimum=1, maximum=n,
              tip="Each item goes to this many distinct annotators, least loaded first (adaptive: at most)"),
        Field("gold_fraction", "&Gold share of each load", "share", 0.0, maximum=0.5, zero="every gold item",
              tip="0: every gold item to everyone; otherwise about this share of each annotator's items"),
        Field("gold", "Gold &items (with answers)", "files", [], filter=ITEM_FILES,
              tip="Items with the expert's answers, hidden among the others; optional"),
        Field("calibration", "&Calibration items", "files", [], filter=ITEM_FILES,
              tip="Items whose answer and explanation are shown after submitting; optional"),
        Field("routing", "&Which items", "choice", "all", choices=routing_choices(store),
              tip="Every item to the overlap above, or one more person only where the answers so far "
                  "leave an item open (with these, the overlap is the most any item gets)"),
        Field("min_rater_confidence", "Triage: judge's &minimum confidence", "share", 0.0, maximum=1.0,
              zero="no minimum", tip="With triage: a judge's answer below this confidence counts as unsure"),
        Field("feedback", "Also send each annotator the items a reviewer decided against them (&feedback)", "bool",
              False),
        Field("out", "Folder &to write the task bundles", "folder", str(free_path(project_folder(store) / f"round-{r}")),
              tip="Made if missing; one signed bundle per annotator"),
        encrypt_field(store, "&Encrypt each bundle so only its annotator and you can open it"),
    ]


def routing_choices(store: Store) -> list[tuple[str, str]]:
    """How a round picks its items, as `project assign` offers them: every item, adaptive,
    triage with each non-human rater whose labels the project holds, competence-guided."""
    raters = [r[0].removeprefix("rater:") for r in store.query(
        "SELECT DISTINCT annotator FROM labels WHERE project_id=? AND annotator LIKE 'rater:%' ORDER BY 1",
        (project_info(store).id,))]
    return [("all", "Every item, to the overlap above"),
            ("adaptive", "Disputed items only, each to one more person (adaptive)"),
            *((f"triage:{name}", f"Triage with {name}: a second person only where {name} disagrees with "
               "the first, has no answer or is unsure; a third where two people split") for name in raters),
            ("competence", "Competence-guided: one more person where people split or the Dawid–Skene "
                           "estimates leave their answer unsure")]


def encrypt_field(store: Store, label: str) -> Field:
    """The choice to encrypt (age); on by default for a confidential project."""
    return Field("encrypt", label, "bool", project_info(store).spec.confidential,
                 tip="Encrypted to the people's own signing keys; a lost laptop or a shared drive shows "
                     "nothing of the project. Off: the bundle is only signed, anyone who has it can read it")


def encryption_of(values: dict) -> Encryption:
    """The form's choice: on, off (plaintext, even for a confidential project), or, when the
    form did not ask, the project's default."""
    if "encrypt" not in values or values["encrypt"] is None:
        return DEFAULT_CHOICE
    return Encryption(encrypt=True) if values["encrypt"] else Encryption(plaintext=True)


def assign(store: Store, identity, values: dict, progress=None, cancelled=None) -> AssignReport:
    out = Path(values["out"])
    out.mkdir(parents=True, exist_ok=True)
    fraction = values.get("gold_fraction") or None
    routing = values.get("routing") or ("adaptive" if values.get("adaptive") else "all")
    return assign_round(store, identity=identity, out_dir=out, overlap=int(values["overlap"]),
                        gold_paths=list(values.get("gold") or []), gold_fraction=fraction,
                        calibration_paths=list(values.get("calibration") or []),
                        adaptive=routing == "adaptive", feedback=bool(values.get("feedback")),
                        triage=routing.removeprefix("triage:") if routing.startswith("triage:") else None,
                        min_rater_confidence=(values.get("min_rater_confidence") or None)
                        if routing.startswith("triage:") else None,
                        competence=routing == "competence", encryption=encryption_of(values),
                        progress=progress, cancelled=cancelled)


def assign_message(r: AssignReport) -> str:
    """What `annotary project assign` prints: the round, each bundle, the notes."""
    per = [f"{b.name}: {b.normal} items, {b.gold} gold, {b.calibration} calibration → {b.path.name}"
           for b in r.bundles]
    folder = r.bundles[0].path.parent if r.bundles else ""
    sealed = ["Each bundle is encrypted: only its annotator and you can open it."] if r.encrypted else []
    return "\n".join([f"Round {r.round}: {r.items} items to {len(r.bundles)} annotators, written to {folder}.",
                      *per, *(f"Note: {n}" for n in r.notes), *sealed,
                      "Send each annotator their bundle; drop their result bundles here to merge them."])


INCLUDE_WORDS = [("conflicts", "Conflicts only"), ("all", "Every case, agreed ones too")]


def adjudication_fields(store: Store) -> list[Field]:
    reviewers = members(store, active_only=True, role="reviewer")
    if not reviewers:
        raise AnnotaryError("no reviewer in the roster yet: add a reviewer's card first")
    info = project_info(store)
    folder = project_folder(store) / "adjudication"
    return [
        Field("reviewer", "&Reviewer", "choice", reviewers[0].key_id,
              [(m.key_id, f"{m.name} (key {m.key_id[:8]})") for m in reviewers]),
        Field("include", "&Send", "choice", "conflicts", INCLUDE_WORDS),
        Field("audit", "&Audit share of agreed cases", "share", 0.0, zero="none",
              tip="A share of the agreed cases sent too, to check the agreement"),
        Field("out", "Adjudication bundle &file", "save", str(free_path(folder / f"{info.id}-round{info.round}-review.annotary")),
              filter=BUNDLE_FILES),
        encrypt_field(store, "&Encrypt it so only the reviewer and you can open it"),
    ]


def adjudicate(store: Store, identity, values: dict) -> Change:
    out = Path(values["out"])
    if out.suffix.lower() != ".annotary":
        out = out.with_name(out.name + ".annotary")
    if out.exists():
        raise AnnotaryError(f"{out.name}: already exists; choose another file")
    out.parent.mkdir(parents=True, exist_ok=True)
    return create_adjudication(store, identity=identity, reviewer=values["reviewer"], out=out,
                               include=values.get("include") or "conflicts",
                               audit_sample=float(values.get("audit") or 0.0), encryption=encryption_of(values))


FORMAT_WORDS = {
    "trl-preference": "prompt / chosen / rejected (DPO and reward models)",
    "trl-kto": "prompt / completion / desirable or not (KTO)",
    "ranking-pairs": "every ordered pair of each ranking",
    "sft": "chat messages ending with the ideal response (SFT)",
    "alpaca": "instruction / input / output (Alpaca)",
    "attributes": "one row per response, a column per scoring axis",
    "rubric": "each criterion with its mark and points, the item score",
    "labels-long": "one row per label, for analysts",
}
PROVENANCE_WORDS = [("", "Any answer"), ("single+judge", "One person with the triage judge's agreement, or stronger"),
                    ("majority", "Majority or stronger"),
                    ("unanimous", "Unanimous, adjudicated or gold"), ("adjudicated", "Adjudicated or gold"),
                    ("gold", "Gold only")]
TIES_WORDS = [("drop", "Leave ties out"), ("keep", "Keep ties, marked as ties")]


def export_formats(store: Store) -> list[tuple[str, str]]:
    """(format, words) for the formats this project's questions can fill."""
    return [(fmt, f"{fmt}: {FORMAT_WORDS.get(fmt, '')}") for fmt, qids in export_choices(store).items() if qids]


def question_words(store: Store) -> dict[str, str]:
    return {q.id: " ".join(q.text.split()) for q in project_info(store).spec.questions}


CHAT_WORDS = [("", "chat when any item is a conversation, else plain text"),
              ("chat", "chat messages (for a chat model)"), ("plain", "plain text")]


def export_fields(store: Store, fmt: str) -> list[Field]:
    info = project_info(store)
    words = question_words(store)
    qids = export_choices(store).get(fmt, [])
    fields = []
    if fmt != "labels-long" and len(qids) > 1:
        fields.append(Field("question", "&Question", "choice", qids[0], [(q, words.get(q, q)) for q in qids]))
    fields += [
        Field("min_provenance", "Keep &answers", "choice", "", PROVENANCE_WORDS,
              tip="gold > adjudicated > unanimous > majority > one person with the triage judge's agreement "
                  "> single rating"),
        Field("min_agreement", "Minimum a&greement", "share", 0.0, zero="no minimum",
              tip="Share of annotators behind the consensus an answer needs (0: no minimum; gold and "
                  "adjudicated answers pass)"),
        Field("exclude_flagged", "Leave out items anyone &flagged", "bool", False),
        Field("ties", "&Ties", "choice", "drop", TIES_WORDS),
    ]
    if fmt in CHAT:
        fields.append(Field("chat", "&Rows as", "choice", "", CHAT_WORDS,
                            tip="Chat rows hold role/content messages (trainers apply the model's chat "
                                "template); conversations always need them"))
    fields += [
        Field("parquet", "Write &Parquet instead of JSON Lines", "bool", False),
        Field("out", "Folder to &write", "folder",
              str(free_path(project_folder(store) / "exports" / f"{info.id}-{fmt}")),
              tip="A new folder (train data, README card, manifest), inside exports/ beside the project"),
    ]
    return fields


def export_options(fmt: str, values: dict) -> dict:
    """The keyword arguments of ops.export.export_dataset from the form's values."""
    share = values.get("min_agreement") or None
    return {"fmt": fmt, "out": str(values["out"]), "question": values.get("question") or None,
            "min_provenance": values.get("min_provenance") or None, "min_agreement": share,
            "exclude_flagged": bool(values.get("exclude_flagged")), "ties": values.get("ties") or "drop",
            "parquet": bool(values.get("parquet")),
            "chat": {"chat": True, "plain": False}.get(values.get("chat") or "")}
