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
from array import array
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any

import numpy as np

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
from annotary.analysis.questions import build_from_table, differs
from annotary.analysis.table import KINDS, Ids, Items, ItemTable, LabelTable, Ratings
from annotary.analysis.variables import Options, Rating, unsure
from annotary.analysis.verdicts import (
    STATUSES,
    ConsensusList,
    ItemConsensus,
    consensus_list,
    unit_consensus,
)
from annotary.core.errors import AnnotaryError
from annotary.core.items import Item
from annotary.ops import paused_gc, return_freed_arrays
from annotary.ops.project import _CHOSEN, _RUBRIC, ANSWER, WHOLE, _renamed, project_info
from annotary.store import Store
from annotary.store.migrations import SKELETON_RESPONSES

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
# the same with each item id as its UTF-8 bytes, as ItemTable.locate looks them up
AS_BYTES = ("SELECT annotator, item_id,", "SELECT annotator, CAST(item_id AS BLOB),")
SKELETONS_SEQ = "SELECT seq, id, skeleton FROM items WHERE project_id=? ORDER BY seq"  # from an index (0005)
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


CHUNK = 16384  # rows read at a time


def _coder() -> defaultdict:
    """A mapping that gives each new key the next code (0, 1, 2 ...)."""
    codes: defaultdict = defaultdict()
    codes.default_factory = codes.__len__
    return codes


def load_item_table(store: Store, project_id: str) -> ItemTable:
    """The project's items as arrays (analysis.table.ItemTable): what item_skeletons holds, with
    one skeleton item per shape instead of one per item."""
    ids: list[str] = []
    seqs: list[int] = []
    shape: list[int] = []
    shapes: dict[str, int] = {}
    bases: list[Item] = []
    whole: dict[str, int] = {}
    for seq, iid, skeleton in store.tuples(SKELETONS_SEQ, (project_id,)):
        code = -1 if skeleton is None else shapes.get(skeleton)
        if code is None:  # a shape not seen yet: most datasets have a handful
            parts = json.loads(skeleton)
            code = -1
            if parts[SKELETON_RESPONSES] is None:
                code = shapes[skeleton] = len(bases)
                bases.append(Item.model_validate({
                    "id": iid, "prompt": "", "rubric": parts[_RUBRIC], "rubric_criteria": parts[_CHOSEN],
                    "responses": [{"id": r, "text": ""} for r in parts[:SKELETON_RESPONSES] if r is not None]}))
            else:
                shapes[skeleton] = -1
        if code < 0:
            whole[iid] = len(ids)
        ids.append(iid)
        seqs.append(seq)
        shape.append(code)
    shared = [True] * len(bases)
    kind = np.zeros(len(ids), np.int8)
    shape_of = np.asarray(shape, np.int32)
    if whole:
        for iid, data in store.conn.execute(WHOLE, (project_id,)):
            if iid in whole:
                item = Item.model_validate_json(data)
                shape_of[whole[iid]], kind[whole[iid]] = len(bases), KINDS.index(item.kind)
                bases.append(item)
                shared.append(False)
    del whole
    seq = np.asarray(seqs, np.int64)
    del seqs
    return ItemTable(Ids.of(ids), kind, shape_of, bases, shared, _renamed, seq)


def load_label_table(store: Store, project_id: str, items: ItemTable) -> LabelTable:
    """The current labels of the project's items as arrays (analysis.table.LabelTable), read in
    chunks: the answers are parsed once per distinct (verdict, facts), as load_ratings does; a
    label of an item no longer there is left out."""
    query = CURRENT_ALL if store.one(REVISED, (project_id,)) else FIRST_ALL
    cur = store.conn.execute(query.replace(*AS_BYTES), (project_id,))
    raters, questions, answers = _coder(), _coder(), _coder()
    parts: dict[str, list] = {k: [] for k in ("rater", "item", "question", "revision", "answer")}
    while rows := cur.fetchmany(CHUNK):
        who, iid, qid, rev, verdict, facts = zip(*rows, strict=True)
        at = items.locate(iid)
        ok = at >= 0
        parts["item"].append(at[ok])
        parts["rater"].append(np.fromiter(map(raters.__getitem__, who), np.int32, len(rows))[ok])
        parts["question"].append(np.fromiter(map(questions.__getitem__, qid), np.int32, len(rows))[ok])
        parts["revision"].append(np.asarray(rev, np.int32)[ok])
        parts["answer"].append(np.fromiter(map(answers.__getitem__, zip(verdict, facts, strict=True)),
                                           np.int32, len(rows))[ok])
    parsed = []
    shared = _shared_objects()
    for verdict, facts in answers:  # in code order
        (answer, version), (first, confidence) = json.loads(verdict, object_pairs_hook=shared), json.loads(facts)
        parsed.append((answer, first, confidence, version or ""))
    del shared
    a = {k: np.concatenate(v).astype(np.int32) if v else np.zeros(0, np.int32) for k, v in parts.items()}
    return LabelTable(a["item"], a["rater"], a["question"], a["revision"], a["answer"],
                      list(raters), list(questions), parsed)


def _shared_objects():
    """A JSON object hook that gives equal objects of scalars one dict: the parts answers repeat
    (a response's scores on every axis, say) are held once however many answers hold them. An
    object holding a list or an object is its own. Answers are only read, never changed."""
    seen: dict[tuple, dict] = {}

    def hook(pairs: list[tuple[str, Any]]) -> dict:
        try:
            key = tuple((k, type(v), v) for k, v in pairs)  # 1, 1.0 and true are told apart
            found = seen.get(key)
        except TypeError:  # a list or an object inside
            return dict(pairs)
        if found is None:
            found = seen[key] = dict(pairs)
        return found

    return hook


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


def _label_rounds(store: Store, project_id: str, items: ItemTable, table: LabelTable) -> np.ndarray:
    """Per label, the round its item was assigned to its annotator in (-1: not assigned)."""
    width = len(table.raters) + 1
    keys, rounds = [], []
    cur = store.conn.execute(
        "SELECT i.seq, a.annotator, a.round FROM assignments a CROSS JOIN items i"
        " ON i.project_id=a.project_id AND i.id=a.item_id WHERE a.project_id=?", (project_id,))
    code = {a: n for n, a in enumerate(table.raters)}.get
    while rows := cur.fetchmany(CHUNK):
        seq, who, n = zip(*rows, strict=True)
        rater = np.fromiter((code(a, -1) for a in who), np.int64, len(rows))
        keys.append(np.searchsorted(items.seq, np.asarray(seq, np.int64)) * width + rater)
        rounds.append(np.asarray(n, np.int64))
    out = np.full(len(table), -1, np.int64)
    if not keys:
        return out
    key, found = np.concatenate(keys), np.concatenate(rounds)
    order = np.argsort(key, kind="stable")  # an item assigned twice to one person: its last row
    key, found = key[order], found[order]
    mine = table.item.astype(np.int64) * width + table.rater
    at = np.searchsorted(key, mine, side="right") - 1
    hit = (at >= 0) & (key[at.clip(0)] == mine)
    out[hit] = found[at[hit]]
    return out


def decided_pairs(store: Store, project_id: str) -> set[tuple[str, str]]:
    """The (item, question) pairs a reviewer's merged decision settles."""
    return {(r[0], r[1]) for r in store.query(
        "SELECT DISTINCT item_id, question_id FROM decisions WHERE project_id=?", (project_id,))}


DURATIONS = ("SELECT annotator, CAST(item_id AS BLOB), revision, json_extract(data, '$.duration_ms') FROM labels NOT INDEXED"
             " WHERE project_id=? AND retracted=0")  # the table in its order: no index lookups, no sort


def _durations(store: Store, project_id: str, items: ItemTable) -> dict[str, array]:
    """Seconds on task per annotator and item: per revision the longest of its labels, summed
    over the revisions in order; per annotator in the order of the item ids (as floats: a
    million labels are not a million dict entries)."""
    who, extra = _coder(), _coder()  # annotators; ids of items no longer there
    parts: dict[str, list] = {k: [] for k in ("who", "item", "revision", "ms")}
    cur = store.conn.execute(DURATIONS, (project_id,))
    while rows := cur.fetchmany(CHUNK):
        names, iids, revisions, ms = zip(*rows, strict=True)
        item = items.locate(iids)
        for k in np.flatnonzero(item < 0).tolist():
            item[k] = len(items.ids) + extra[iids[k].decode()]
        parts["who"].append(np.fromiter(map(who.__getitem__, names), np.int32, len(rows)))
        parts["item"].append(item.astype(np.int32))
        parts["revision"].append(np.asarray(revisions, np.int32))
        parts["ms"].append(np.array(ms, float))  # None (no duration) is nan
    if not parts["who"]:
        return {}
    a, i, r, ms = (np.concatenate(parts.pop(k)) for k in ("who", "item", "revision", "ms"))
    names = list(who)
    who_rank = np.empty(len(names), np.int64)
    who_rank[np.argsort(np.array(names, object), kind="stable")] = np.arange(len(names))
    if extra:  # rank every id, the known and the gone
        ids = [*items.ids, *extra]  # as str: the order Python sorts them in
        rank = np.empty(len(ids), np.int64)
        rank[np.fromiter(sorted(range(len(ids)), key=ids.__getitem__), np.int64, len(ids))] = np.arange(len(ids))
    else:
        rank = items.ranks()
    order = np.lexsort((r, rank.astype(np.int32)[i], who_rank.astype(np.int32)[a]))
    del rank
    a = a[order]  # one array at a time: a million labels' columns are not held twice
    i = i[order]
    r = r[order]
    ms = ms[order]
    del order
    new = np.ones(len(a), bool)
    new[1:] = (a[1:] != a[:-1]) | (i[1:] != i[:-1]) | (r[1:] != r[:-1])
    starts = np.flatnonzero(new)
    longest = np.fmax.reduceat(ms, starts)  # per revision; nan where none has a duration
    seconds = np.where(np.isnan(longest), 0.0, longest) / 1000
    a, i = a[starts], i[starts]
    first = np.ones(len(a), bool)
    first[1:] = (a[1:] != a[:-1]) | (i[1:] != i[:-1])
    heads = np.flatnonzero(first)
    total = seconds[heads]
    for n in np.flatnonzero(np.diff(np.append(heads, len(a))) > 1).tolist():  # revised: summed in order
        s, e = heads[n], heads[n + 1] if n + 1 < len(heads) else len(a)
        value = 0.0
        for x in seconds[s:e].tolist():
            value += x
        total[n] = value
    owner = a[heads]
    out = {}
    for code in np.unique(owner).tolist():
        times = array("d")
        times.frombytes(np.ascontiguousarray(total[owner == code]).tobytes())
        out[names[code]] = times
    return out


def _people(store: Store, project_id: str, raters: Raters, items: ItemTable) -> People:
    assigned = dict(store.query("SELECT annotator, count(*) FROM assignments WHERE project_id=?"
                                " GROUP BY annotator", (project_id,)))
    return People(raters.names, raters.roster, raters.rates, assigned, _durations(store, project_id, items))


def _truths(items: ItemTable) -> dict[str, dict[str, dict]]:
    """The expert answers of gold and calibration items in the shape of a label's answer
    (checked when the items were added)."""
    out = {}
    for i in np.flatnonzero(items.kind != 0).tolist():
        it = items.item(i)
        out[it.id] = {qid: ANSWER.validate_python(raw).model_dump(mode="json") for qid, raw in (it.gold or {}).items()}
    return out


# --- the report ---------------------------------------------------------------------------------

def _plain(obj):
    """JSON-ready: nan becomes None, tuples lists."""
    if obj is None or type(obj) in _AS_IS:  # most values: a million consensus rows' worth
        return obj
    if isinstance(obj, float):
        return None if math.isnan(obj) else obj
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if is_dataclass(obj):
        return _plain(asdict(obj))
    return obj


class Rows(list):
    """A JSON-ready list of dicts made as it is read (a report's consensus rows at scale): json
    and == see its rows; nothing is held."""

    def __init__(self, rows, plain):
        super().__init__()
        self.rows, self.plain = rows, plain

    def __len__(self) -> int:
        return len(self.rows)

    def __bool__(self) -> bool:
        return len(self.rows) > 0

    def __iter__(self):
        return (self.plain(r) for r in self.rows)

    def __getitem__(self, k):
        return list(self)[k] if isinstance(k, slice) else self.plain(self.rows[k])

    def __eq__(self, other) -> bool:
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    def __ne__(self, other) -> bool:
        return not self == other

    def __repr__(self) -> str:
        return f"Rows({len(self)})"


_AS_IS = frozenset({str, int, bool})
_NAMES: dict[type, tuple[str, ...]] = {}  # a dataclass's field names (fields() takes longer than a row)


def _plain_row(obj) -> dict:
    names = _NAMES.get(type(obj))
    if names is None:
        names = _NAMES[type(obj)] = tuple(f.name for f in fields(obj))
    return {name: _plain(getattr(obj, name)) for name in names}


class Loaded:
    """What a report was computed from, for final answers to reuse: unpacks as (items, ratings,
    raters) as item_skeletons, load_ratings and load_raters give them, made when read."""

    def __init__(self, items: ItemTable, table: LabelTable, raters: Raters):
        self.items, self.table, self.raters = items, table, raters

    def __iter__(self):
        return iter((Items(self.items), Ratings(self.table, self.items), self.raters))


@dataclass
class QualityReport:
    project_id: str
    project_name: str
    question: str | None
    humans: list[str]  # the columns of every agreement matrix
    names: dict[str, str]
    items: dict[str, int]  # per kind
    variables: list[VariableStats]
    consensus: Sequence[ItemConsensus]  # a ConsensusList: each ItemConsensus made when read
    annotators: list[AnnotatorStats]
    raters: list[RaterStats]
    competence: list[CompetenceStats]
    by_round: list[GroupStats]
    by_guidelines: list[GroupStats]
    options: Options
    guidelines_versions: list[str] = field(default_factory=list)  # the labels were made under
    design: Design = field(default_factory=lambda: Design([], [], 0))  # what the agreement figures cover

    # what the report was computed from, for final answers to reuse (not part of the report)
    loaded: Loaded | tuple | None = field(default=None, repr=False, compare=False)

    def _having(self, status: str) -> Sequence[ItemConsensus]:
        if isinstance(self.consensus, ConsensusList):
            return self.consensus.having(status)
        return [c for c in self.consensus if c.status == status]

    def counts(self) -> dict[str, int]:
        """How many (item, question) pairs have each consensus status (agreed, conflict, decided, single)."""
        if isinstance(self.consensus, ConsensusList):
            return {s: self.consensus.count(s) for s in STATUSES}
        return {s: sum(1 for c in self.consensus if c.status == s) for s in STATUSES}

    @property
    def conflicts(self) -> Sequence[ItemConsensus]:
        """Conflicts nobody has decided yet."""
        return self._having("conflict")

    @property
    def decided(self) -> Sequence[ItemConsensus]:
        """Conflicts a reviewer decided."""
        return self._having("decided")

    def as_dict(self) -> dict:
        """JSON-ready; the consensus rows are made as they are read."""
        out = {}
        for f in fields(self):
            if f.name == "loaded":
                continue
            value = getattr(self, f.name)
            out[f.name] = Rows(value, _plain_row) if f.name == "consensus" else _plain(value)
        return out


def quality_report(store: Store, *, question: str | None = None, options: Options | None = None,
                   light: bool = False) -> QualityReport:
    """Every agreement, consensus and per-annotator figure the project's labels support.

    `light` computes only what a dataset export needs (agreement per question and consensus):
    no annotator-pair, per-annotator, competence, outside-rater or per-round figures."""
    return_freed_arrays()
    opt = options or Options()
    info = project_info(store)
    spec = info.spec
    if question is not None and question not in {q.id for q in spec.questions}:
        raise AnnotaryError(f"no question {question!r} in the spec "
                            f"(questions: {', '.join(q.id for q in spec.questions)})")
    with paused_gc():  # the loaders' millions of row tuples are freed by reference counts
        items = load_item_table(store, info.id)
        raters = load_raters(store, info.id)
        table = load_label_table(store, info.id, items)
        known = None if light else _people(store, info.id, raters, items)  # while little else is held
    items.forget_index()
    mask = np.ones(len(table), bool) if question is None else table.question == table.code(table.questions, question)
    labeled = {table.raters[c] for c in np.unique(table.rater[mask]).tolist()}
    ordered = [*raters.names, *sorted(labeled - set(raters.names))]
    humans = [a for a in ordered if a in labeled and a not in raters.machines]
    machines = [a for a in ordered if a in labeled and a in raters.machines]
    normal = mask & (items.kind[table.item] == 0)
    rank = items.ranks()
    variables = build_from_table(spec, items, table, normal, question, rank)
    matrix_humans = [a for a in humans if any(var.rated_by(a) for var in variables)]
    adaptive = adaptive_rounds(store, info.id)
    all_rounds = [r[0] for r in store.query("SELECT round FROM rounds WHERE project_id=? ORDER BY round",
                                            (info.id,))]
    human = normal & ~table.rater_mask(raters.machines)
    label_round = _label_rounds(store, info.id, items, table) if adaptive or (not light and len(all_rounds) > 1) \
        else None
    design = Design([r for r in all_rounds if r not in adaptive], [], 0)
    if adaptive:  # headline figures on the full-overlap rounds only
        skipped = np.isin(label_round, adaptive)
        design = Design(design.rounds, adaptive, int(np.count_nonzero(human & skipped)))
        headline = build_from_table(spec, items, table, normal & ~skipped, question, rank)
    else:
        headline = variables
    stats = [variable_stats(v, matrix_humans, pairs=not light) for v in headline]
    comp = competence(variables, matrix_humans) if not light or opt.weighted else []
    weights = {f"{c.question_id}.{c.variable}": c.reliability for c in comp} if opt.weighted else None
    units = unit_consensus(variables, matrix_humans, opt, weights)
    annotating = store.query("SELECT key_id FROM roster WHERE project_id=? AND role='annotator'"
                             " AND removed_at IS NULL", (info.id,))
    people = humans + [r[0] for r in annotating if r[0] not in humans]
    versions = sorted({a[3] for a in table.answers})
    version_of = np.array([versions.index(a[3]) for a in table.answers], np.int64)[table.answer] \
        if table.answers else np.zeros(0, np.int64)
    by_guidelines = {versions[v]: human & (version_of == v) for v in np.unique(version_of[human]).tolist()}
    by_round = {} if label_round is None else {
        str(r): human & (label_round == r) for r in np.unique(label_round[human & (label_round >= 0)]).tolist()}
    agreed = consensus_list(spec, items, variables, units)
    agreed.mark(decided_pairs(store, info.id))
    machine_ratings = list(table.ratings(items, normal & table.rater_mask(machines))) if machines else []
    return QualityReport(
        project_id=info.id, project_name=info.name, question=question, humans=matrix_humans,
        names={a: raters.names.get(a, a) for a in ordered},
        items=items.counts(), variables=stats, consensus=agreed,
        annotators=[] if light else annotator_stats(
            spec=spec, items=items, truths=_truths(items), table=table, mask=mask, people=people,
            known=known, variables=variables, stats=stats, units=units,
            comp=comp, opt=opt),
        raters=rater_stats(spec, machines, matrix_humans, raters.names, machine_ratings, variables, units, opt),
        competence=comp,
        by_round=[] if light else group_stats("round", by_round, spec, items, table, question, rank),
        by_guidelines=[] if light else group_stats("guidelines", by_guidelines, spec, items, table, question, rank),
        options=opt, guidelines_versions=sorted(by_guidelines), design=design,
        loaded=Loaded(items, table, raters))


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


# an assignment is labeled when its annotator has a label of its item not retracted: looked up in
# the index labels are found by annotator with (a join with the labels' distinct pairs scans them
# once per assignment)
PROGRESS = """
    SELECT a.annotator, a.round, count(*) AS assigned,
           sum(EXISTS (SELECT 1 FROM labels l INDEXED BY labels_current WHERE l.project_id=:p
                       AND l.annotator=a.annotator AND l.item_id=a.item_id AND l.retracted=0)) AS labeled
    FROM assignments a WHERE a.project_id=:p GROUP BY a.annotator, a.round
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
