"""Which final answers an export keeps: provenance, agreement, flags; and progress and cancel for the workspace."""

from __future__ import annotations

import json

import pytest

from annotary.core.errors import Cancelled
from annotary.ops import export as export_ops
from annotary.ops.export import export_choices, export_dataset


def kept(store, where, name, **kw):
    out = where / name
    export_dataset(store, out=out, fmt="trl-preference", question="overall", **kw)
    m = json.loads((out / "manifest.json").read_text())
    return m, [json.loads(line)["chosen"].split()[0] for line in (out / "train.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(("floor", "items", "provenance"), [
    ("gold", ["g0"], {"gold": 1}),
    ("adjudicated", ["p4", "g0"], {"gold": 1, "adjudicated": 1}),
    # unanimous p2 (both bad) and p3 (tie) pass the filter but give no preference row
    ("unanimous", ["p0", "p4", "g0", "p8"], {"gold": 1, "adjudicated": 1, "unanimous": 4}),
    ("majority", ["p0", "p1", "p4", "g0", "p8"], {"gold": 1, "adjudicated": 1, "unanimous": 4, "majority": 1}),
    ("single", ["p0", "p1", "p4", "p5", "g0", "p8"],
     {"gold": 1, "adjudicated": 1, "unanimous": 4, "majority": 1, "single": 1}),
])
def test_min_provenance(pairs, where, floor, items, provenance):
    m, got = kept(pairs, where, floor, min_provenance=floor)
    assert got == items and m["by_provenance"] == provenance
    assert m["export"]["min_provenance"] == floor


def test_min_agreement_keeps_gold_and_decisions_and_drops_single(pairs, where):
    m, got = kept(pairs, where, "a", min_agreement=0.7)
    assert got == ["p0", "p4", "g0", "p8"]  # p1 has 2/3 behind it; p5 one rating
    assert m["dropped"]["agreement below 0.7"] == 2
    _, got = kept(pairs, where, "b", min_agreement=2 / 3)
    assert "p1" in got and "p5" not in got


def test_exclude_flagged(pairs, where):
    m, got = kept(pairs, where, "f", exclude_flagged=True)
    assert "p8" not in got and m["dropped"]["flagged item"] == 1
    out = where / "labels"
    export_dataset(pairs, out=out, fmt="labels-long", exclude_flagged=True)
    assert '"p8"' not in (out / "train.jsonl").read_text()


def test_an_item_everyone_skipped_is_never_exported(pairs, where):
    for fmt in ("trl-preference", "trl-kto", "sft"):
        out = where / fmt
        export_dataset(pairs, out=out, fmt=fmt, question="overall", ties="keep")
        assert "p6 " not in (out / "train.jsonl").read_text()


def test_progress_and_cancel(pairs, where, monkeypatch):
    seen = []
    export_dataset(pairs, out=where / "ok", fmt="trl-kto", question="overall",
                   progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (8, 8)  # eight final answers of overall
    with pytest.raises(Cancelled):
        export_dataset(pairs, out=where / "no", fmt="trl-kto", question="overall", cancelled=lambda: True)
    # a cancel while the figures are computed stops there: no row is built
    asked, built = [], []
    monkeypatch.setattr(export_ops, "final_answers", lambda *a, **k: built.append(1) or [])
    with pytest.raises(Cancelled):
        export_dataset(pairs, out=where / "no", fmt="trl-kto", question="overall",
                       cancelled=lambda: asked.append(1) or True)
    assert asked == [1] and built == []
    assert sorted(p.name for p in where.iterdir()) == ["ok"]


def test_export_choices(pairs, care):
    assert export_choices(pairs)["trl-preference"] == ["overall", "strength"]
    assert export_choices(pairs)["rubric"] == []
    choices = export_choices(care)
    assert choices["rubric"] == ["rubric"] and choices["sft"] == ["ideal"] and choices["attributes"] == []
