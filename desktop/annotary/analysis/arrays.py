"""Plain-array inputs of the analysis layer: units x raters matrices with nan for "not rated"."""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence

import numpy as np


def is_missing(value) -> bool:
    """True for None and float nan, the two spellings of "not rated"."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def as_matrix(rows) -> np.ndarray:
    """A 2-D float array of numeric ratings, None becoming nan (rows are units, columns raters)."""
    x = np.asarray(rows, dtype=float)  # numpy already turns None into nan for a float dtype
    if x.ndim != 2:
        raise ValueError(f"expected a units x raters matrix, got {x.ndim} dimension(s)")
    return x


def as_vector(values) -> np.ndarray:
    """A 1-D float array of numeric ratings, None becoming nan."""
    x = np.asarray(values, dtype=float)
    if x.ndim != 1:
        raise ValueError(f"expected one rating per unit, got {x.ndim} dimension(s)")
    return x


def encode(rows: Iterable[Sequence[Hashable]],
           categories: Sequence[Hashable] | None = None) -> tuple[np.ndarray, list]:
    """Category codes (0..K-1, nan for missing) of any labels, and the categories in code order."""
    rows = [list(r) for r in rows]
    if categories is None:
        seen = {v for r in rows for v in r if not is_missing(v)}
        try:
            categories = sorted(seen)
        except TypeError:  # mixed types: a stable order still beats failing
            categories = sorted(seen, key=repr)
    index = {c: float(i) for i, c in enumerate(categories)}
    try:
        codes = [[math.nan if is_missing(v) else index[v] for v in r] for r in rows]
    except KeyError as err:
        raise ValueError(f"label {err.args[0]!r} is not one of the categories") from None
    return as_matrix(codes) if rows else np.empty((0, 0)), list(categories)
