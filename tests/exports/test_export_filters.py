"""Which final answers an export keeps: provenance, agreement, flags; and progress and cancel for the workspace."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from annotary.core.errors import AnnotaryError, Cancelled
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
    monkeypatch.setattr(export_ops, "_select", lambda *a, **k: built.append(1) or ([], Counter()))
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


def _readers() -> list:
    import threading

    return [t for t in threading.enumerate() if t.name == "export-read"]


def test_a_cancel_while_lines_are_written_stops_the_reading_thread(pairs, where, monkeypatch):
    monkeypatch.setattr(export_ops, "CHUNK", 1)  # a cancel check after every answer
    monkeypatch.setattr(export_ops, "PREFETCH_ITEMS", 1)  # and the items read one by one
    asked = []
    with pytest.raises(Cancelled):
        export_dataset(pairs, out=where / "no", fmt="trl-preference", question="overall",
                       cancelled=lambda: asked.append(1) or len(asked) > 2)
    assert len(asked) == 3 and _readers() == []
    assert list(where.iterdir()) == []


def test_an_item_missing_from_the_texts_read_refuses_the_export(pairs, where, monkeypatch):
    """The texts are read on a second connection: an item it did not see (added in between) stops
    the export rather than leaving a row out unsaid."""
    read = export_ops._preference_chunks

    def without_p1(project_id):
        def go(conn):
            for seqs, ids, parts, sizes in read(project_id)(conn):
                keep = [i for i, iid in enumerate(ids.split("\x1e")) if iid != "p1"]
                yield (",".join(seqs.split(",")[i] for i in keep), "\x1e".join(ids.split("\x1e")[i] for i in keep),
                       b"\x1e".join(parts.split(b"\x1e")[i] for i in keep),
                       ",".join(sizes.split(",")[i] for i in keep))
        return go

    monkeypatch.setattr(export_ops, "_preference_chunks", without_p1)
    with pytest.raises(AnnotaryError, match="changed while it was exported"):
        export_dataset(pairs, out=where / "no", fmt="trl-preference", question="overall")
    assert list(where.iterdir()) == [] and _readers() == []


def test_a_chunk_of_texts_is_put_in_the_items_order():
    """SQLite documents no order for group_concat: the export puts each chunk in seq order itself."""
    def parts(chunk):
        joined, spans = export_ops._parts(chunk)
        return [(iid, joined[lo:hi]) for iid, lo, hi in spans]

    assert parts(("3,1,2", "c\x1ea\x1eb", b"C\x1eAA\x1eB", "1,2,1")) == [("a", b"AA"), ("b", b"B"), ("c", b"C")]
    assert parts(("1,2", "a\x1eb", "é\x1eB".encode(), "2,1")) == [("a", "é".encode()), ("b", b"B")]


def test_an_export_leaves_the_collector_and_thread_switching_as_it_found_them(pairs, where):
    import gc
    import sys

    before = sys.getswitchinterval()
    seen = []
    export_dataset(pairs, out=where / "ok", fmt="trl-preference", question="overall",
                   progress=lambda *_: seen.append((gc.isenabled(), sys.getswitchinterval())))
    assert seen and all(not enabled and interval <= export_ops.SWITCH_S for enabled, interval in seen)
    with pytest.raises(AnnotaryError):
        export_dataset(pairs, out=where / "ok", fmt="trl-preference", question="overall")  # exists
    assert gc.isenabled() and sys.getswitchinterval() == before
