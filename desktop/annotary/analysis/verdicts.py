"""Consensus of rated variables: per unit, then per item and question as an answer, or a conflict."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from annotary.analysis.arrays import is_missing
from annotary.analysis.consensus import (
    EPS,
    Consensus,
    borda,
    majority,
    mean_interval,
    median_ordinal,
)
from annotary.analysis.questions import kind_of
from annotary.analysis.table import first_of_groups
from annotary.analysis.variables import SET, Options, Variable, canon
from annotary.core.items import Item
from annotary.core.spec import Spec


@dataclass
class ItemConsensus:
    item_id: str
    question_id: str
    status: str  # agreed, conflict, decided (a conflict a reviewer decided) or single (one rating so far)
    value: dict | None  # answer-shaped, item order; a conflict keeps only agreed axes or criteria
    support: float | None  # the weakest part's share of ratings behind the value
    ratings: int
    score: float | None = None  # rubric: mean score
    decided: bool = False  # a reviewer's decision is the final answer (a conflict's, or an audited one's)


def mark_decided(consensus: list[ItemConsensus], decided) -> list[ItemConsensus]:
    """The consensus with the (item, question) pairs a reviewer decided marked: a decided
    conflict is no longer one (status decided); any decided pair has `decided` set."""
    if decided:
        for c in consensus:
            if (c.item_id, c.question_id) in decided:
                c.decided = True
                if c.status == "conflict":
                    c.status = "decided"
    return consensus


def tolerance(var: Variable, opt: Options) -> float:
    """How far from a numeric or ordinal consensus a rating may be and still agree with it:
    scale points on a scale, the interval tolerance on free numbers (a rubric score)."""
    return opt.ordinal_tolerance if var.scaled else opt.interval_tolerance


def nearest(scale: list, value: float) -> float:
    """The scale point nearest a value (the lower of two equally near: the conservative one)."""
    return float(min(scale, key=lambda p: (abs(p - value), p)))


def _unit(var: Variable, values: list, weights: list | None, opt: Options):
    """(value, support, agreed) of one unit's human ratings (rankings: _ranking_unit)."""
    if var.level == SET:
        value, support = set_majority(values)
        return value, support, value is not None
    if var.level == "nominal":
        c = majority(values, 0.0 if var.plurality else opt.min_share, weights)
        return c.value, c.support, c.value is not None
    tol = tolerance(var, opt)
    if var.level == "ordinal":
        c = median_ordinal(values, tol)
    else:
        c = mean_interval(values, tol)
        if var.scaled and c.value is not None:
            # the mean of an interval or ratio scale, as the scale point an answer can hold; its
            # support is the share of ratings within the tolerance of that point
            point = nearest(var.categories, c.value)
            x = [float(v) for v in values if not is_missing(v)]
            c = Consensus(point, sum(abs(v - point) <= tol + EPS for v in x) / len(x))
    return c.value, c.support, _enough(c.value, c.support, opt)


def _enough(value, support: float, opt: Options) -> bool:
    # the central value always supports itself, so two ratings reach one half: ask for more
    return value is not None and support > 0.5 + EPS and support >= opt.min_share - EPS


def _ranking_unit(var: Variable, orders: list, who: list[str], opt: Options, item_id: str):
    """(value, support, agreed) of one item's rankings; the value is {"order", "all_unacceptable"}.

    Finding every response unacceptable is decided first, as a yes / no majority: a majority that
    says so is the consensus (ordered by the rankings they gave, if any); otherwise, where most
    rank, the Borda order of their rankings, supported by the smaller of their share and the
    share of pairwise preferences it keeps. Half and half is a conflict."""
    flagged = var.unacceptable.get(item_id, ())
    rejecting = [o for o, a in zip(orders, who, strict=True) if a in flagged]
    share = len(rejecting) / len(orders)
    if _enough(True, share, opt):
        given = [o for o in rejecting if o]
        order = borda(given, var.responses[item_id]).value if given else []
        return {"order": order, "all_unacceptable": True}, share, True
    if rejecting and 1 - share <= 0.5 + EPS:
        return None, max(share, 1 - share), False
    c = borda([o for o, a in zip(orders, who, strict=True) if a not in flagged], var.responses[item_id])
    support = min(c.support, 1 - share)
    value = None if c.value is None else {"order": c.value, "all_unacceptable": False}
    return value, support, _enough(value, support, opt)


Units = dict[str, dict[tuple, tuple]]  # variable key -> unit -> (value, support, agreed, ratings)


def unit_consensus(variables: list[Variable], humans: list[str], opt: Options,
                   weights: dict[str, dict[str, float]] | None = None) -> Units:
    """Every unit's consensus, from the ratings of the given humans (in their order)."""
    out: Units = {}
    grouped: dict = {}  # the last cells' rows grouped by unit (a rubric's criteria share theirs)
    for var in variables:
        if var.cells is not None:
            w = (weights or {}).get(var.key) if var.level == "nominal" else None
            out[var.key] = unit_table(var, humans, opt, w or None, grouped)
            continue
        by_unit: dict[tuple, list] = {}
        raters: dict[tuple, list] = {}
        for a in humans:
            for u, v in var.values.get(a, {}).items():
                if u in by_unit:
                    by_unit[u].append(v)
                    raters[u].append(a)
                else:
                    by_unit[u], raters[u] = [v], [a]
        w = (weights or {}).get(var.key) if var.level == "nominal" else None
        found = out[var.key] = {}
        for u, values in by_unit.items():
            if var.level == "ranking":
                found[u] = (*_ranking_unit(var, values, raters[u], opt, u[0]), len(values))
            else:
                found[u] = unit_value(var, values, [w.get(a, 0.0) for a in raters[u]] if w else None, opt)
    return out


def unit_value(var: Variable, values: list, weights: list | None, opt: Options) -> tuple:
    """(value, support, agreed, ratings) of one unit of a categorical or numeric variable, from
    its human ratings in the order of the report's annotators."""
    first = values[0]
    if values.count(first) == len(values) and not is_missing(first) and (weights is None or sum(weights) > 0):
        # identical ratings: what majority, median and mean make of them, without the work
        return (first if var.level == "nominal" else float(first), 1.0, True, len(values))
    return (*_unit(var, values, weights, opt), len(values))


def _parts(variables: list[Variable], units: Units) -> dict[tuple[str, str], dict]:
    """(item, question) -> {(variable name, unit): unit consensus}."""
    found: dict[tuple[str, str], dict] = {}
    for var in variables:
        name, qid = var.name, var.question_id
        for u, part in units[var.key].items():
            key = (u[0], qid)
            if key in found:
                found[key][(name, u)] = part
            else:
                found[key] = {(name, u): part}
    return found


def _item_consensus(q, kind, iid: str, item: Item, parts: dict) -> ItemConsensus:
    if len(parts) == 1 and not kind.partial:  # one variable, no partial answer: the common case
        ((part_key, (value, support, ok, n)),) = parts.items()
        status = "single" if n < 2 else "agreed" if ok else "conflict"
        value = kind.answer(q, {part_key: value}, item) if status != "conflict" else None
        return ItemConsensus(iid, q.id, status, value, support, n)
    n = max(p[3] for p in parts.values())
    score = parts.get(("score", (iid,)))
    judged = {k: p for k, p in parts.items() if k[0] != "score"} or parts
    support = min(p[1] for p in judged.values())
    status = "single" if n < 2 else "agreed" if all(p[2] for p in judged.values()) else "conflict"
    agreed = {k: p[0] for k, p in judged.items() if p[2] or n < 2}
    value = kind.answer(q, agreed, item) if status != "conflict" or kind.partial else None
    return ItemConsensus(iid, q.id, status, value, support, n, score[0] if score else None)


def consensus(spec: Spec, items: dict[str, Item], variables: list[Variable],
              units: Units) -> list[ItemConsensus]:
    """Per item and question: the consensus answer, or a conflict (free text has none: a reviewer decides)."""
    found = _parts(variables, units)
    kinds = {q.id: kind_of(q) for q in spec.questions}
    out = []
    for iid, item in items.items():  # in the items' and questions' order
        for q in spec.questions:
            parts = found.get((iid, q.id))
            if parts is not None:
                out.append(_item_consensus(q, kinds[q.id], iid, item, parts))
    return out


# --- from arrays --------------------------------------------------------------------------------

STATUSES = ("agreed", "conflict", "decided", "single")


@dataclass
class UnitTable:
    """The units' consensus of a variable held as cells, one row per unit (an item), by item index."""

    item: np.ndarray  # int32 (an item index), ascending
    value: np.ndarray  # object
    support: np.ndarray  # float
    agreed: np.ndarray  # bool
    n: np.ndarray  # int32

    def find(self, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row of each item, whether it has one)."""
        pos = np.searchsorted(self.item, items).clip(0, max(len(self.item) - 1, 0))
        return pos, (self.item[pos] == items) if len(self.item) else np.zeros(len(items), bool)


def _grouped(c, humans: list[str]) -> tuple:
    """Cells' ratings by the given humans, by item, then in the humans' order: (that order, each
    unit's first row in it, its count of ratings, its item, each rating's human's position)."""
    col = c.columns(humans)
    keep = np.flatnonzero(col >= 0)
    order = keep[np.lexsort((col[keep], c.item[keep]))]
    del keep
    items = c.item[order]
    starts = first_of_groups(items)
    n = np.diff(np.append(starts, len(items))).astype(np.int32)
    return order, starts, n, items[starts].astype(np.int32), col[order]


def unit_table(var: Variable, humans: list[str], opt: Options, weights: dict[str, float] | None,
               grouped: dict | None = None) -> UnitTable:
    """unit_consensus of a variable held as cells: identical ratings and unweighted categorical
    majorities as arrays, other units one at a time as unit_value takes them. Variables whose
    cells share their items and raters (a rubric's criteria) share their grouping (`grouped`):
    it is worked out once, and their tables share their items and counts."""
    c = var.cells
    key = (id(c.item), id(c.rater))
    found = grouped.get(key) if grouped is not None else None
    if found is None or found[0] is not c.item or found[1] is not c.rater:
        found = (c.item, c.rater, *_grouped(c, humans))
        if grouped is not None:  # the last only: variables sharing cells come one after another
            grouped.clear()
            grouped[key] = found
    _, _, order, starts, n, unit_items, cols = found
    codes = c.value[order].astype(np.int32)  # 32-bit: a million ratings
    units = len(starts)
    raw = c.values
    missing = np.array([is_missing(v) for v in raw] + [True], bool)
    value = np.full(units, None, object)
    support, agreed = np.zeros(units), np.zeros(units, bool)
    if not units:
        return UnitTable(unit_items, value, support, agreed, n)
    first = codes[starts]
    same = (np.minimum.reduceat(codes, starts) == np.maximum.reduceat(codes, starts)) & ~missing[first]
    w = None
    if weights:
        w = np.array([weights.get(a, 0.0) for a in humans], float)[cols]
        same &= np.add.reduceat(w, starts) > 0
    given = np.empty(len(raw), object)
    given[:] = raw if var.level == "nominal" else [None if is_missing(v) else float(v) for v in raw]
    value[same], support[same], agreed[same] = given[first[same]], 1.0, True
    rest = np.flatnonzero(~same)
    if var.level == "nominal" and w is None and len(rest):
        k = len(raw)
        at = np.full(units, -1, np.int64)  # a unit's row among the rest
        at[rest] = np.arange(len(rest))
        unit = np.repeat(at, n)
        del at
        ok = ~missing[codes] & (unit >= 0)
        counts = np.bincount(unit[ok] * k + codes[ok], minlength=len(rest) * k).reshape(len(rest), k).astype(float)
        del unit, ok
        total = counts.sum(1)
        top = counts.max(1)
        second = np.sort(counts, 1)[:, -2] if k > 1 else np.zeros(len(rest))
        share = np.divide(top, total, out=np.zeros(len(rest)), where=total > 0)
        none = (total <= 0) | (second >= top - EPS * total) | (share < (0.0 if var.plurality else opt.min_share) - EPS)
        support[rest] = share
        agreed[rest] = ~none
        value[rest[~none]] = given[counts.argmax(1)[~none]]
    else:
        ends = np.append(starts[1:], len(order))
        for u in rest.tolist():
            s, e = starts[u], ends[u]
            ws = w[s:e].tolist() if w is not None else None
            v, sup, ok, _ = unit_value(var, [raw[x] for x in codes[s:e].tolist()], ws, opt)
            value[u], support[u], agreed[u] = v, sup, ok
    return UnitTable(unit_items, value, support, agreed, n)


class ConsensusList(Sequence):
    """The consensus per item and question, in the items' and questions' order, as arrays: an
    ItemConsensus is made when read (a million are never held). Questions whose variables hold
    dicts keep their ItemConsensus objects."""

    def __init__(self, spec: Spec, items, stores: list, entry_q: np.ndarray, entry_pos: np.ndarray,
                 status: np.ndarray):
        self.spec, self.items, self.stores = spec, items, stores
        self.entry_q, self.entry_pos, self.status = entry_q, entry_pos, status
        self.decided = np.zeros(len(status), bool)
        self._answers: dict = {}

    def __len__(self) -> int:
        return len(self.status)

    def _position(self, k):
        """k as a position (negative from the end); a slice as the list of what it selects."""
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        if k < 0:
            k += len(self)
        if not 0 <= k < len(self):
            raise IndexError(k)
        return k

    def __getitem__(self, k):
        k = self._position(k)
        if isinstance(k, list):
            return k
        store = self.stores[int(self.entry_q[k])]
        pos = int(self.entry_pos[k])
        if isinstance(store, list):
            return store[pos]
        if isinstance(store, _Parts):
            return self._put_together(store, pos, bool(self.decided[k]))
        return self._made(k, store, pos, int(self.status[k]), bool(self.decided[k]))

    def _put_together(self, store: _Parts, pos: int, decided: bool) -> ItemConsensus:
        c = store.make(pos, self.items)
        return mark_decided([c], {(c.item_id, c.question_id)})[0] if decided else c

    def _made(self, k: int, store: tuple, pos: int, code: int, decided: bool) -> ItemConsensus:
        table = store[3]
        i = int(table.item[pos])
        return self._make(store, i, int(self.items.shape[i]), table.value[pos], float(table.support[pos]),
                          int(table.n[pos]), code, decided)

    def _make(self, store: tuple, i: int, shape: int, v, support: float, n: int, code: int,
              decided: bool) -> ItemConsensus:
        q = store[0]
        value = None
        if code == 0 or code == 3:  # agreed or single (a decided conflict keeps no value)
            key = (q.id, type(v), v, shape)
            found = self._answers.get(key)
            if found is None:
                item = self.items.item(i)
                found = self._answers[key] = store[1].answer(q, {(store[2], (item.id,)): v}, item)
            value = dict(found)
        return ItemConsensus(self.items.ids[i], q.id, STATUSES[code], value, support, n, None, decided)

    def __iter__(self):
        shapes, make = self.items.shape, self._make
        for s in range(0, len(self), 8192):  # a chunk's columns as Python values at a time
            e = min(s + 8192, len(self))
            qs, pos = self.entry_q[s:e], self.entry_pos[s:e]
            columns = {}
            for qn in np.unique(qs).tolist():
                store = self.stores[qn]
                if not isinstance(store, list | _Parts):
                    p = pos[qs == qn]
                    t = store[3]
                    at = t.item[p]
                    columns[qn] = zip(at.tolist(), shapes[at].tolist(), t.value[p].tolist(),
                                      t.support[p].tolist(), t.n[p].tolist(), strict=True)
            for qn, p, code, decided in zip(qs.tolist(), pos.tolist(), self.status[s:e].tolist(),
                                            self.decided[s:e].tolist(), strict=True):
                store = self.stores[qn]
                if isinstance(store, list):
                    yield store[p]
                elif isinstance(store, _Parts):
                    yield self._put_together(store, p, decided)
                else:
                    yield make(store, *next(columns[qn]), code, decided)

    def __eq__(self, other) -> bool:
        return isinstance(other, Sequence) and len(self) == len(other) and list(self) == list(other)

    def count(self, status: str) -> int:  # type: ignore[override]  (of a status)
        return int(np.count_nonzero(self.status == STATUSES.index(status)))

    def having(self, status: str) -> Selection:
        """The entries of one status, in order."""
        return Selection(self, np.flatnonzero(self.status == STATUSES.index(status)))

    def mark(self, decided) -> None:
        """mark_decided's work: the (item, question) pairs a reviewer decided."""
        if not decided:
            return
        at = self.items.positions({iid for iid, _ in decided})
        qpos = {q.id: n for n, q in enumerate(self.spec.questions)}
        wanted = {(at[iid], qpos[qid]) for iid, qid in decided if iid in at and qid in qpos}
        if not wanted:
            return
        item_of = self._items()
        for i, qn in wanted:
            hit = np.flatnonzero((item_of == i) & (self.entry_q == qn))
            for k in hit.tolist():
                self.decided[k] = True
                if self.status[k] == STATUSES.index("conflict"):
                    self.status[k] = STATUSES.index("decided")
                store = self.stores[qn]
                if isinstance(store, list):
                    mark_decided([store[int(self.entry_pos[k])]], {(self.items.ids[i], self.spec.questions[qn].id)})

    def _items(self) -> np.ndarray:
        out = np.empty(len(self), np.int64)
        for qn, store in enumerate(self.stores):
            sel = self.entry_q == qn
            if isinstance(store, list):
                out[sel] = self._dict_items[qn][self.entry_pos[sel]]
            elif isinstance(store, _Parts):
                out[sel] = store.every[self.entry_pos[sel]]
            elif store is not None:
                out[sel] = store[3].item[self.entry_pos[sel]]
        return out


class Selection(Sequence):
    """Some entries of a ConsensusList (its conflicts, say), made when read."""

    def __init__(self, of: ConsensusList, at: np.ndarray):
        self.of, self.at = of, at

    def __len__(self) -> int:
        return len(self.at)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self.of[int(i)] for i in self.at[k]]
        return self.of[int(self.at[k])]

    def __iter__(self):
        return (self.of[int(i)] for i in self.at)

    def __eq__(self, other) -> bool:
        return list(self) == list(other)


def consensus_list(spec: Spec, items, variables: list[Variable], units: Units) -> ConsensusList:
    """consensus() over an ItemTable (analysis.table), as a ConsensusList."""
    kinds = {q.id: kind_of(q) for q in spec.questions}
    by_q: dict[str, list[Variable]] = {}
    for var in variables:
        by_q.setdefault(var.question_id, []).append(var)
    stores: list = []
    dict_items: dict[int, np.ndarray] = {}
    keys_item, keys_q, keys_pos, keys_status = [], [], [], []
    plain = [v for v in variables if v.cells is None]
    found = _parts(plain, units) if plain else {}
    for qn, q in enumerate(spec.questions):
        vs = by_q.get(q.id, [])
        if len(vs) == 1 and vs[0].cells is not None and not kinds[q.id].partial:
            table = units[vs[0].key]
            stores.append((q, kinds[q.id], vs[0].name, table))
            status = np.where(table.n < 2, 3, np.where(table.agreed, 0, 1))
            keys_item.append(table.item)
            keys_pos.append(np.arange(len(table.item)))
            keys_status.append(status)
        elif vs and all(v.cells is not None for v in vs):  # several (a rubric's criteria and score)
            parts = _Parts(q, kinds[q.id], vs, units)
            stores.append(parts)
            keys_item.append(parts.every.astype(np.int64))
            keys_pos.append(np.arange(len(parts.every)))
            keys_status.append(parts.status())
        elif vs and all(v.cells is None for v in vs):
            objects, at = [], []
            for i, iid in enumerate(items.ids):
                parts = found.get((iid, q.id))
                if parts is not None:
                    objects.append(_item_consensus(q, kinds[q.id], iid, items.item(i), parts))
                    at.append(i)
            stores.append(objects)
            dict_items[qn] = np.asarray(at, np.int64)
            keys_item.append(dict_items[qn])
            keys_pos.append(np.arange(len(objects)))
            keys_status.append(np.array([STATUSES.index(c.status) for c in objects], np.int64))
        elif vs:
            raise ValueError(f"question {q.id}: variables held both ways")
        else:
            stores.append(None)
            continue
        keys_q.append(np.full(len(keys_item[-1]), qn))
    if keys_item:
        item, qs = np.concatenate(keys_item), np.concatenate(keys_q)
        pos, status = np.concatenate(keys_pos), np.concatenate(keys_status)
        order = np.lexsort((qs, item))
        out = ConsensusList(spec, items, stores, qs[order], pos[order], status[order].astype(np.int8))
    else:
        empty = np.zeros(0, np.int64)
        out = ConsensusList(spec, items, stores, empty, empty, empty.astype(np.int8))
    out._dict_items = dict_items
    return out


class _Parts:
    """The consensus of a question whose several variables are held as cells (a rubric's
    criteria and score): their unit tables, and per item with a rating (`every`, ascending) the
    row of each table; an item's ItemConsensus is put together when read, as _item_consensus
    puts it together from _parts (the parts as unit_value gives them, in the variables' order)."""

    def __init__(self, q, kind, variables: list[Variable], units: Units):
        self.q, self.kind = q, kind
        tables = [(var.name, units[var.key]) for var in variables]
        distinct = {id(t.item): t.item for _, t in tables}  # criteria rated together share their items
        self.every = np.unique(np.concatenate(list(distinct.values())))
        self.rows = []
        found: dict[int, tuple] = {}
        for name, t in tables:
            if id(t.item) not in found:
                at = np.searchsorted(t.item, self.every).clip(0, max(len(t.item) - 1, 0)).astype(np.int32)
                there = t.item[at] == self.every if len(t.item) else np.zeros(len(self.every), bool)
                found[id(t.item)] = (at, there)
            self.rows.append((name, t, *found[id(t.item)]))

    def status(self) -> np.ndarray:
        """Each item's status code (STATUSES), as _item_consensus decides it."""
        n = np.zeros(len(self.every), np.int64)
        judged = [(t, at, there) for name, t, at, there in self.rows if name != "score"]
        some = np.zeros(len(self.every), bool)
        for _, t, at, there in self.rows:
            n = np.maximum(n, np.where(there, t.n[at], 0))
        agreed = np.ones(len(self.every), bool)
        for t, at, there in judged:
            agreed &= t.agreed[at] | ~there
            some |= there
        for name, t, at, there in self.rows:  # only a score: it is what is judged
            if name == "score":
                agreed = np.where(some, agreed, t.agreed[at] | ~there)
        return np.where(n < 2, 3, np.where(agreed, 0, 1)).astype(np.int64)

    def make(self, pos: int, items) -> ItemConsensus:
        i = int(self.every[pos])
        iid, parts = items.ids[i], {}
        for name, t, at, there in self.rows:
            if there[pos]:
                r = int(at[pos])
                parts[(name, (iid,))] = (t.value[r], float(t.support[r]), bool(t.agreed[r]), int(t.n[r]))
        return _item_consensus(self.q, self.kind, iid, items.item(i), parts)


def matches(var: Variable, value, agreed, opt: Options, rejected: bool = False) -> bool:
    """Does a rating match an agreed unit value? `rejected`: the rating found no response acceptable."""
    if var.level in ("nominal", SET):
        return value == agreed
    if var.level == "ranking":
        return agreed["all_unacceptable"] == rejected and (rejected or canon(value) == canon(agreed["order"]))
    return abs(value - agreed) <= tolerance(var, opt) + EPS


def with_consensus(who: str, variables: list[Variable], units: Units, opt: Options) -> float | None:
    """Share of someone's ratings that match an agreed consensus of at least two people."""
    matched = compared = 0
    for var in variables:
        if var.cells is not None:
            m, n = _cell_matches(who, var, units[var.key], opt)
            matched, compared = matched + m, compared + n
    hits = [matches(var, v, units[var.key][u][0], opt, who in var.unacceptable.get(u[0], ()))
            for var in variables for u, v in var.values.get(who, {}).items()
            if var.cells is None and u in units[var.key] and units[var.key][u][2] and units[var.key][u][3] >= 2]
    compared += len(hits)
    return (matched + sum(hits)) / compared if compared else None


def _cell_matches(who: str, var: Variable, table: UnitTable, opt: Options) -> tuple[int, int]:
    """(ratings matching an agreed consensus of two people at least, ratings compared) of one rater."""
    c = var.cells
    if who not in c.raters or not len(table.item):  # no unit has a consensus (no human labels)
        return 0, 0
    me = c.rater == c.raters.index(who)
    pos, found = table.find(c.item[me].astype(np.int64))
    good = found & table.agreed[pos] & (table.n[pos] >= 2)
    given = np.empty(len(c.values), object)
    given[:] = c.values
    mine, agreed = given[c.value[me][good]], table.value[pos[good]]
    if var.level in ("nominal", SET):
        hits = np.fromiter((a == b for a, b in zip(mine, agreed, strict=True)), bool, len(mine))
    else:
        hits = np.abs(mine.astype(float) - agreed.astype(float)) <= tolerance(var, opt) + EPS
    return int(np.count_nonzero(hits)), int(np.count_nonzero(good))


def set_majority(values: list) -> tuple[int | None, float]:
    """(value, support): per category, a majority. The value is the set of the categories more
    than half the ratings hold (sets coded as bitmasks, agreement.as_bitmask); a category exactly
    half hold is a tie, so no value; the support is the share behind the weakest category's
    decision."""
    sets = [int(v) for v in values if not is_missing(v)]
    if not sets:
        return None, 0.0
    n = len(sets)
    every = 0
    for v in sets:
        every |= v
    agreed, support = 0, 1.0
    for bit in (1 << i for i in range(every.bit_length())):
        if not every & bit:
            continue
        yes = sum(1 for v in sets if v & bit)
        if 2 * yes == n:
            return None, 0.5
        if 2 * yes > n:
            agreed |= bit
        support = min(support, max(yes, n - yes) / n)
    return agreed, support
