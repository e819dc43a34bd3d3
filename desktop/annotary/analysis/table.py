"""A project's items and current labels as arrays: what the figures of a million labels are computed from.

One row per label holds codes (item index, annotator, question, answer) instead of Python
objects; the few distinct answers are parsed once. Items are their ids and an index into the
few distinct shapes (response ids, rubric criteria) their skeletons share. Rating tuples and
item skeletons are made from them only where a reader asks for one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat

import numpy as np

from annotary.analysis.variables import Rating
from annotary.core.items import Item

KINDS = ("normal", "gold", "calibration")
WIDEST = 48  # bytes of the longest item id ItemTable.locate keeps in an array (ids may have 800)


class Ids(Sequence[str]):
    """Item ids held as one array of their UTF-8 bytes: a dozen bytes an item where a list of
    str holds about 70. An id is made a str when read."""

    def __init__(self, data: np.ndarray):
        self.data = data  # "S<width>"; ids hold no NUL (core.items.ITEM_ID_PATTERN), so none is cut

    @classmethod
    def of(cls, ids: list[str]) -> Ids | list[str]:
        """The ids in an array, or as they are where a few long ids would widen every row."""
        encoded = [iid.encode() for iid in ids]
        width = max(map(len, encoded), default=1)
        return ids if width > WIDEST else cls(np.array(encoded, f"S{width}"))

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [x.decode() for x in self.data[i].tolist()]
        return self.data[i].decode()

    def __iter__(self) -> Iterator[str]:
        for s in range(0, len(self.data), 65536):
            yield from (x.decode() for x in self.data[s:s + 65536].tolist())

    def finder(self) -> Callable[[list[str]], np.ndarray]:
        """A function from ids (none holding a NUL) to their positions here (-1: none), by a
        binary search of the ids sorted (no dict of a million ids)."""
        order = np.argsort(self.data, kind="stable").astype(np.int32)
        ranked = self.data[order]

        def find(ids: list[str]) -> np.ndarray:
            if not len(ranked) or not ids:
                return np.full(len(ids), -1, dtype=np.int32)
            try:
                want = np.array(ids).astype(bytes)
            except UnicodeEncodeError:
                want = np.array([i.encode() for i in ids], dtype=bytes)
            at = np.minimum(np.searchsorted(ranked, want), len(ranked) - 1)
            return np.where(ranked[at] == want, order[at], -1).astype(np.int32)
        return find


@dataclass
class ItemTable:
    """The project's items in their order: ids, kinds (codes into KINDS) and shapes."""

    ids: Sequence[str]  # an Ids, or a list of str (Ids.of)
    kind: np.ndarray  # int8, KINDS position
    shape: np.ndarray  # int32 index into bases
    bases: list[Item]  # a shape's item (under another id); an item read whole is a shape of its own
    shared: list[bool]  # per base: many items share it (rename it), or it is one item read whole
    rename: Callable[[Item, str], Item]  # a base under another id (no validation: parts shared)
    seq: np.ndarray | None = None  # int64, the items' seq in the store (ascending)
    _order: np.ndarray | None = None
    _index: dict[bytes, int] | tuple[np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def item(self, i: int) -> Item:
        s = int(self.shape[i])
        base = self.bases[s]
        return self.rename(base, self.ids[i]) if self.shared[s] else base

    def locate(self, ids: Sequence[bytes]) -> np.ndarray:
        """The index of each item id (UTF-8 bytes, as SQLite's CAST(id AS BLOB) gives them), -1
        for an id not in the table. Looked up in the ids' bytes, sorted, kept until forget_index:
        a few bytes an item where an id -> index dict holds about 80."""
        if self._index is None:
            if isinstance(self.ids, Ids):
                order = self.order()
                self._index = (self.ids.data[order], order)
            else:  # long ids: a dict
                self._index = {iid.encode(): n for n, iid in enumerate(self.ids)}
        if isinstance(self._index, dict):
            return np.fromiter(map(self._index.get, ids, repeat(-1)), np.int64, len(ids))
        keys, order = self._index
        # one byte wider than any id: a longer id cannot pass for its cut-off start
        wanted = np.array(ids, f"S{keys.dtype.itemsize + 1}")
        at = np.searchsorted(keys, wanted).clip(0, max(len(keys) - 1, 0))
        if not len(keys):
            return np.full(len(ids), -1, np.int64)
        return np.where(keys[at] == wanted, order[at], -1)

    def forget_index(self) -> None:
        self._index = None

    def order(self) -> np.ndarray:
        """The items' indices with their ids in sorted order."""
        if self._order is None:  # UTF-8 bytes sort as the ids' code points do
            if isinstance(self.ids, Ids):
                self._order = np.argsort(self.ids.data, kind="stable")
            else:  # Python's sort: far faster on str than numpy's
                self._order = np.fromiter(sorted(range(len(self.ids)), key=self.ids.__getitem__), np.int64,
                                          len(self.ids))
        return self._order

    def ranks(self) -> np.ndarray:
        """Each item's position among the ids sorted as strings (the order units sort in)."""
        order = self.order()
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(len(order))
        return rank

    def positions(self, wanted) -> dict[str, int]:
        """Index of each of a few item ids that exists."""
        wanted = set(wanted)
        return {iid: i for i, iid in enumerate(self.ids) if iid in wanted} if wanted else {}

    def counts(self) -> dict[str, int]:
        n = np.bincount(self.kind, minlength=len(KINDS))
        return {k: int(n[i]) for i, k in enumerate(KINDS)}


class Items(Mapping):
    """item_skeletons' mapping (id -> skeleton item, in the items' order), made on demand."""

    def __init__(self, table: ItemTable):
        self.table = table
        self._at: dict[str, int] | None = None

    def __len__(self) -> int:
        return len(self.table)

    def __iter__(self) -> Iterator[str]:
        return iter(self.table.ids)

    def __getitem__(self, iid: str) -> Item:
        if self._at is None:
            self._at = {x: i for i, x in enumerate(self.table.ids)}
        return self.table.item(self._at[iid])

    def items(self):  # type: ignore[override]  (a generator: skeletons are made one at a time)
        t = self.table
        return ((t.ids[i], t.item(i)) for i in range(len(t)))

    def values(self):  # type: ignore[override]
        return (it for _, it in self.items())


@dataclass
class LabelTable:
    """The current labels, one row each, in the order the store reads them."""

    item: np.ndarray  # int32 index into the ItemTable
    rater: np.ndarray  # int32 index into raters
    question: np.ndarray  # int32 index into questions
    revision: np.ndarray  # int32
    answer: np.ndarray  # int32 index into answers
    raters: list[str]
    questions: list[str]
    answers: list[tuple]  # (answer, shown first, confidence, guidelines version); answers shared

    def __len__(self) -> int:
        return len(self.item)

    def code(self, names: list[str], name: str) -> int:
        try:
            return names.index(name)
        except ValueError:
            return -1

    def rater_mask(self, who) -> np.ndarray:
        """Labels whose rater is one of `who`."""
        chosen = np.zeros(len(self.raters) + 1, bool)
        for a in who:
            chosen[self.code(self.raters, a)] = True
        chosen[-1] = False
        return chosen[self.rater]

    def ratings(self, items: ItemTable, mask: np.ndarray | None = None) -> Iterator[Rating]:
        """The labels (all, or the masked ones) as Rating tuples, in order."""
        rows = np.arange(len(self)) if mask is None else np.flatnonzero(mask)
        ids, raters, qs, answers, make = items.ids, self.raters, self.questions, self.answers, Rating._make
        for s in range(0, len(rows), 65536):
            at = rows[s:s + 65536]
            for i, a, q, rev, ans in zip(self.item[at].tolist(), self.rater[at].tolist(),
                                         self.question[at].tolist(), self.revision[at].tolist(),
                                         self.answer[at].tolist(), strict=True):
                yield make((raters[a], ids[i], qs[q], rev, *answers[ans]))


class Ratings:
    """load_ratings' list, read from the arrays on each pass (a million Rating tuples are never held)."""

    def __init__(self, table: LabelTable, items: ItemTable):
        self.table, self.items_table = table, items

    def __len__(self) -> int:
        return len(self.table)

    def __iter__(self) -> Iterator[Rating]:
        return self.table.ratings(self.items_table)


def first_of_groups(keys: np.ndarray) -> np.ndarray:
    """Start of each run of equal values in a sorted array."""
    if not len(keys):
        return np.zeros(0, np.int64)
    return np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
