"""Rated variables: a question's answers as units x raters data, at a level of measurement.

A question becomes one or more variables (analysis.questions, the one place where a question mode
says how); each variable holds, per rater, a value per unit (an item, or an item and a response
or criterion). The level says how values are compared: categories (nominal, ordinal), numbers
(interval, ratio) or orders of responses (ranking).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

NUMERIC = ("interval", "ratio")  # levels whose values are numbers, not category positions
SET = "set"  # a level whose values are sets of categories, each held as its bitmask (a number)


@dataclass(frozen=True)
class Options:
    min_share: float = 0.5  # share the top categorical answer needs (a tie never agrees)
    ordinal_tolerance: float = 1.0  # scale points from the median that still agree
    interval_tolerance: float = 0.1  # on a rubric score (0..1)
    weak_support: float = 0.75  # below it an adaptive round asks one more annotator
    weighted: bool = False  # weight categorical consensus by Dawid-Skene reliability


class Rating(NamedTuple):
    """The current revision of one annotator's label, reduced to what the figures need (a named
    tuple: a large project has hundreds of thousands, and a tuple is made in a fraction of the
    time a frozen dataclass takes)."""

    annotator: str
    item_id: str
    question_id: str
    revision: int
    answer: dict | None  # shared between equal answers: never change it
    shown_first: str | None  # the response shown on the left (as "A")
    confidence: int | None
    guidelines_version: str


@dataclass
class Cells:
    """A variable's ratings as arrays, one entry per rating of a unit (an item): its item, rater
    and value (codes), for a project of a million labels."""

    item: np.ndarray  # int32 index into ids
    rater: np.ndarray  # int32 index into raters
    value: np.ndarray  # int16 (int32 past 32,767 values) index into values
    values: list  # the distinct values given (None where the answer has none)
    raters: list[str]
    ids: list[str]  # item ids
    rank: np.ndarray  # an item's position among the ids sorted (units sort by it)

    def count(self, who: str) -> int:
        return int(np.count_nonzero(self.rater == self.raters.index(who))) if who in self.raters else 0

    def columns(self, raters: list[str]) -> np.ndarray:
        """Per rating, its rater's position in `raters`, -1 for someone else."""
        col = np.full(len(self.raters), -1, np.int32)
        for j, a in enumerate(raters):
            if a in self.raters:
                col[self.raters.index(a)] = j
        return col[self.rater] if len(self.raters) else np.zeros(0, np.int32)

    def numbers(self, var: Variable) -> np.ndarray:
        """Per distinct value, what a rating matrix holds: its scale position, or the number."""
        if var.scaled:
            at = {c: float(i) for i, c in enumerate(var.categories)}
            return np.array([at.get(v, np.nan) for v in self.values], float)
        return np.array([float(v) for v in self.values], float)


class UnitKeys:
    """The unit tuples of a rating matrix's rows, made on demand."""

    def __init__(self, cells: Cells, items: np.ndarray):
        self.cells, self.items = cells, items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple:
        return (self.cells.ids[int(self.items[i])],)

    def __iter__(self):
        return (self[i] for i in range(len(self)))


@dataclass
class Variable:
    """One rated quantity of a question (its choice, a scoring axis, a rubric criterion ...)."""

    question_id: str
    name: str
    level: str  # nominal, ordinal, interval, ratio or ranking
    categories: list = field(default_factory=list)  # in scale order; codes are positions
    plurality: bool = False  # consensus: the most given value whatever its share (a tie: none)
    members: list = field(default_factory=list)  # a set's categories: bit i of a value is members[i]
    values: dict[str, dict[tuple, Any]] = field(default_factory=lambda: defaultdict(dict))
    responses: dict[str, list[str]] = field(default_factory=dict)  # ranking: item -> response ids
    unacceptable: dict[str, set[str]] = field(default_factory=dict)  # ranking: item -> who found none acceptable
    cells: Cells | None = None  # the ratings as arrays, in place of `values` (one unit per item)

    def rated_by(self, who: str) -> bool:
        """Did `who` rate any unit?"""
        if self.cells is not None:
            return self.cells.count(who) > 0
        return bool(self.values.get(who))

    @property
    def key(self) -> str:
        return f"{self.question_id}.{self.name}"

    @property
    def numeric(self) -> bool:
        return self.level in NUMERIC or self.level == SET

    @property
    def scaled(self) -> bool:
        """Rated on named categories or scale points (coded by position), not free numbers or orders."""
        return bool(self.categories)


def rating_matrix(var: Variable, raters: list[str]) -> tuple[list[tuple], np.ndarray]:
    """Units (sorted) x raters: category (scale point) positions, or the numbers of a variable
    without a scale; nan = not rated (values_of turns positions into the scale's values)."""
    if var.cells is not None:
        return _cell_matrix(var, raters)
    units = sorted({u for a in raters for u in var.values.get(a, {})})
    at = {u: i for i, u in enumerate(units)}
    code = float if not var.scaled else {c: float(i) for i, c in enumerate(var.categories)}.get
    x = np.full((len(units), len(raters)), np.nan)
    for j, a in enumerate(raters):
        rated = var.values.get(a, {})
        if rated:
            x[[at[u] for u in rated], j] = [code(v) for v in rated.values()]
    return units, x


def _cell_matrix(var: Variable, raters: list[str]) -> tuple[UnitKeys, np.ndarray]:
    c = var.cells
    col = c.columns(raters)
    keep = col >= 0
    items = c.item[keep]
    ranks, row = np.unique(c.rank[items], return_inverse=True)
    first = np.zeros(len(ranks), np.int64)
    first[row] = items
    x = np.full((len(ranks), len(raters)), np.nan)
    x[row, col[keep]] = c.numbers(var)[c.value[keep]]
    return UnitKeys(c, first), x


def values_of(var: Variable, x: np.ndarray) -> np.ndarray:
    """A rating matrix in the variable's own numbers: scale values where it holds positions."""
    if not (var.scaled and var.numeric):
        return x
    rated = ~np.isnan(x)
    out = np.full(x.shape, np.nan)
    out[rated] = np.asarray(var.categories, dtype=float)[x[rated].astype(int)]
    return out


def canon(order) -> tuple:
    """A ranking's order as a comparable tuple (each tie group sorted, empty groups dropped)."""
    return tuple(tuple(sorted(g)) for g in order if g)


def same_ranking(a: dict, b: dict) -> bool:
    """Two ranking answers agree: both find no response acceptable, or both rank them alike."""
    rejected = bool(a.get("all_unacceptable"))
    return rejected == bool(b.get("all_unacceptable")) and (rejected or canon(a["order"]) == canon(b["order"]))


def rank_arrays(var: Variable, raters: list[str]) -> list[tuple[list[str], np.ndarray]]:
    """Per number of responses: (items, items x raters x responses array of group positions).

    A response a ranking leaves out is nan, which the rank statistics tie last."""
    items = sorted({u[0] for a in raters for u in var.values.get(a, {})})
    by_k: dict[int, list[str]] = defaultdict(list)
    for iid in items:
        by_k[len(var.responses[iid])].append(iid)
    out = []
    for k, ids in sorted(by_k.items()):
        arr = np.full((len(ids), len(raters), k), np.nan)
        for i, iid in enumerate(ids):
            col = {rid: n for n, rid in enumerate(var.responses[iid])}
            for j, a in enumerate(raters):
                order = var.values.get(a, {}).get((iid,))
                for pos, group in enumerate(order or []):
                    for rid in group:
                        arr[i, j, col[rid]] = pos + 1
        out.append((ids, arr))
    return out


def unsure(r: Rating, scales: dict[str, int]) -> bool:
    """A confidence below the middle of the question's scale (a rater's probability below 1/2)."""
    return r.confidence is not None and r.confidence < (scales.get(r.question_id, 5) + 1) / 2
