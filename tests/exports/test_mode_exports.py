"""Exports of each mode from small projects whose answers are known: pairs, rankings, scores, rubrics, demonstrations."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotary.datasets.exports import (
    PREFERENCE_PATHS,
    Shape,
    dataset_score,
    parts_item,
    preference_cuts,
    preference_frame,
    preference_plan,
    preference_rows,
    preference_tail,
    ranking_pair_rows,
    strength_margin,
)
from annotary.ops.export import export_dataset


def manifest(folder):
    return json.loads((folder / "manifest.json").read_text())


def rows_of(store, tmp_path, name="out", **kw):
    out = tmp_path / name
    export_dataset(store, out=out, **kw)
    return out


# --- pairwise -------------------------------------------------------------------------------------

def test_preference_plain_strings_and_both_bad_never_chosen(pairs, pairs_master, load, tmp_path):
    out = rows_of(pairs, tmp_path, fmt="trl-preference", question="overall")
    ds = load(out)
    t = pairs_master.texts
    # p0, p1, p8: A; p4 (decided), p5: B; g0: gold A. p2 both bad and p3 tie give no row; p6 has no answer
    assert [(r["chosen"], r["rejected"]) for r in ds] == [
        t["p0"][::1], t["p1"], (t["p4"][1], t["p4"][0]), (t["p5"][1], t["p5"][0]), t["g0"], t["p8"]]
    assert ds.column_names == ["prompt", "chosen", "rejected"]
    assert ds[0]["prompt"] == "Question p0?\n\nUse metric units."  # the context follows the instruction
    m = manifest(out)
    assert m["dropped"] == {"both bad": 1, "tie": 1}
    assert m["by_provenance"] == {"gold": 1, "adjudicated": 1, "unanimous": 4, "majority": 1, "single": 1}
    everything = [load(rows_of(pairs, tmp_path, f, fmt=f, question="overall", ties="keep"))
                  for f in ("trl-preference", "sft", "alpaca")]
    chosen = [r["chosen"] for r in everything[0]] + [r["messages"][-1]["content"] for r in everything[1]] + \
             [r["output"] for r in everything[2]]
    assert not set(chosen) & set(t["p2"])  # both bad: neither response is ever chosen


def test_ties_drop_or_keep(pairs, pairs_master, load, tmp_path):
    kept = load(rows_of(pairs, tmp_path, "k", fmt="trl-preference", question="overall", ties="keep"))
    assert kept.num_rows == 7 and kept["tie"].count(True) == 1
    tie = kept[kept["tie"].index(True)]
    assert (tie["chosen"], tie["rejected"]) == pairs_master.texts["p3"]
    sft = load(rows_of(pairs, tmp_path, "s", fmt="sft", question="overall", ties="keep"))
    assert sft.num_rows == 8  # six picks, and both responses of the kept tie
    assert load(rows_of(pairs, tmp_path, "d", fmt="sft", question="overall")).num_rows == 6


def test_margin_from_the_strength_scale(pairs, pairs_master, load, tmp_path):
    ds = load(rows_of(pairs, tmp_path, fmt="trl-preference", question="strength"))
    assert ds.column_names == ["prompt", "chosen", "rejected", "margin"]
    t = pairs_master.texts
    assert [(r["chosen"], r["margin"]) for r in ds] == [(t["p0"][0], 3), (t["p1"][0], 1), (t["p2"][1], 3)]
    kept = load(rows_of(pairs, tmp_path, "k", fmt="trl-preference", question="strength", ties="keep"))
    assert kept[3]["margin"] == 0 and kept[3]["tie"]


@pytest.mark.parametrize("question", ["overall", "strength"])
@pytest.mark.parametrize("ties", ["drop", "keep"])
def test_preference_lines_spliced_from_stored_json_equal_the_built_rows(pairs, load, tmp_path, question, ties):
    # JSON Lines are spliced from the items' stored JSON text; Parquet rows are built from the
    # decoded items: the two must hold the same rows (an item with a context is built either way)
    kw = {"fmt": "trl-preference", "question": question, "ties": ties}
    spliced = load(rows_of(pairs, tmp_path, "j", **kw))
    assert spliced.num_rows > 0
    assert spliced.to_list() == load(rows_of(pairs, tmp_path, "p", parquet=True, **kw)).to_list()


def split_preference_parts(parts: bytes) -> tuple[bytes, bytes, bytes] | None:
    """(prompt, first text, second text) as the JSON text preference_cuts finds, or None."""
    cuts = preference_cuts(parts)
    if cuts is None:
        return None
    start, first, second = cuts
    return parts[start:first - 1], parts[first:second - 1], parts[second:-1]


def preference_line(prompt: bytes, texts: tuple[bytes, bytes], plan: tuple[int, int, dict], shape: Shape) -> bytes:
    """One row spliced as the export splices it: its frame around the cut JSON texts."""
    best, other, extra = plan
    a, b, c, d = preference_frame(shape, prompt[:1] == b"[", preference_tail(extra))
    return a + prompt + b + texts[best] + c + texts[other] + d


def _parts(item: dict) -> bytes:
    """The item's PREFERENCE_PATHS array, as SQLite hands it to the export."""
    import sqlite3

    paths = ", ".join(repr(p) for p in PREFERENCE_PATHS)
    return sqlite3.connect(":memory:").execute(f"SELECT CAST(json_extract(?, {paths}) AS BLOB)",
                                               (json.dumps(item),)).fetchone()[0]


TRICKY = 'quotes " and \\ backslash, tab\t, newline\n, é 日本 🙂, </script>, \u2028 and \x7f'


@pytest.mark.parametrize("conversational", [False, True])
def test_a_spliced_preference_line_is_the_row_built_from_the_item(conversational):
    prompt = ([{"role": "system", "content": "Be brief."}, {"role": "user", "content": TRICKY}]
              if conversational else TRICKY)
    item = {"id": "x", "prompt": prompt, "responses": [{"id": "a", "text": "first " + TRICKY},
                                                       {"id": "b", "text": "second\r\n"}]}
    cut = split_preference_parts(_parts(item))
    for shape in (Shape(conversational=True, ties="keep"), Shape(conversational=conversational, margin=True)):
        for answer in ({"choice": "A"}, {"choice": "B", "strength": 7}, {"choice": "tie"}):
            plan = preference_plan(answer, type("Q", (), {"points": 7}), shape, Counter())
            if plan is None:
                continue
            line = preference_line(cut[0], cut[1:], plan, shape)
            assert line.endswith(b"\n") and b"\n" not in line[:-1]
            assert json.loads(line) == preference_rows(item, answer, type("Q", (), {"points": 7}), shape,
                                                       Counter())[0]


# texts made of the characters that could confuse the cut: quotes, backslashes, commas, brackets
AWKWARD = st.lists(st.sampled_from(list('",\\[]{}: a\n') + ["é", "🙂", '","', '],"', '\\"']),
                   max_size=12).map("".join)


@settings(max_examples=300, deadline=None)
@given(prompt=st.one_of(AWKWARD, st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant"]),
                                                                 "content": AWKWARD}), min_size=1, max_size=3)),
       first=AWKWARD, second=AWKWARD, context=st.sampled_from([None, "", "Use metric units."]))
def test_the_parts_are_cut_where_json_puts_them(prompt, first, second, context):
    item = {"prompt": prompt, "responses": [{"text": first}, {"text": second}],
            **({"context": context} if context is not None else {})}
    parts = _parts(item)
    cut = split_preference_parts(parts)
    if context:
        assert cut is None  # built from the decoded parts instead
        assert parts_item(parts) == {"prompt": prompt, "context": context,
                                     "responses": [{"text": first}, {"text": second}]}
    else:
        assert [json.loads(c) for c in cut] == [prompt, first, second]
    # the same cuts inside a chunk of items joined by \x1e, as the export reads them
    joined = b'["",' + b'"x"]\x1e' + parts + b'\x1e[null,"a\\""]'
    lo, hi = joined.index(b"\x1e") + 1, joined.rindex(b"\x1e")
    cuts = preference_cuts(joined, lo, hi)
    assert (cuts is None) == (cut is None)
    if cuts:
        start, one, two = cuts
        assert (joined[start:one - 1], joined[one:two - 1], joined[two:hi - 1]) == cut


def test_strength_margin_counts_steps_from_the_middle():
    assert [strength_margin(8, s) for s in range(1, 9)] == [4, 3, 2, 1, 1, 2, 3, 4]
    assert [strength_margin(7, s) for s in range(1, 8)] == [3, 2, 1, 0, 1, 2, 3]


def test_kto_from_pairwise(pairs, load, tmp_path):
    out = rows_of(pairs, tmp_path, fmt="trl-kto", question="overall")
    ds = load(out)
    labels = Counter(ds["label"])
    # six picks: one desirable and one undesirable each; both bad: two undesirable; the tie left out
    assert ds.num_rows == 14 and labels == {True: 6, False: 8}
    assert manifest(out)["summary"] == {"desirable": 6, "undesirable": 8}
    kept = load(rows_of(pairs, tmp_path, "k", fmt="trl-kto", question="overall", ties="keep"))
    assert Counter(kept["label"]) == {True: 8, False: 8}


# --- ranking and scoring --------------------------------------------------------------------------

def test_ranking_pairs_count_k_choose_2(ranks, load, tmp_path):
    out = rows_of(ranks, tmp_path, fmt="ranking-pairs", question="rank")
    ds = load(out)
    per_item = Counter(ds["item_id"])
    # fully ranked, no tie: K(K-1)/2 = 6; rank-1 loses its tied pair; all unacceptable gives none
    assert per_item == {"rank-0": 6, "rank-1": 5, "rank-3": 6}
    assert all(r["chosen_rank"] < r["rejected_rank"] and r["margin"] == r["rejected_rank"] - r["chosen_rank"]
               for r in ds)
    first = [(r["chosen_id"], r["rejected_id"]) for r in ds if r["item_id"] == "rank-0"]
    assert first == [("m0", "m1"), ("m0", "m2"), ("m0", "m3"), ("m1", "m2"), ("m1", "m3"), ("m2", "m3")]
    assert manifest(out)["dropped"] == {"tied pair": 1, "all unacceptable": 1}
    assert manifest(out)["summary"] == {"items": 3, "pairs": 17}
    kept = load(rows_of(ranks, tmp_path, "k", fmt="ranking-pairs", question="rank", ties="keep"))
    assert Counter(kept["item_id"])["rank-1"] == 6 and kept["tie"].count(True) == 1
    tie = kept[kept["tie"].index(True)]
    assert {tie["chosen_id"], tie["rejected_id"]} == {"m0", "m1"} and tie["margin"] == 0


def test_ranking_pairs_of_a_top_k_ranking(ranks, load, tmp_path):
    ds = load(rows_of(ranks, tmp_path, fmt="ranking-pairs", question="top2"))
    # m1 > m0 > (m2, m3 unranked): the unranked pair is no comparison
    assert [(r["chosen_id"], r["rejected_id"]) for r in ds] == [
        ("m1", "m0"), ("m1", "m2"), ("m1", "m3"), ("m0", "m2"), ("m0", "m3")]


@given(st.integers(2, 9), st.randoms(use_true_random=False))
def test_a_full_ranking_gives_every_pair_once(k, rnd):
    ids = [f"m{i}" for i in range(k)]
    item = {"id": "x", "prompt": "p", "responses": [{"id": i, "text": f"text {i}"} for i in ids]}
    order = ids[:]
    rnd.shuffle(order)
    rows = ranking_pair_rows(item, {"order": [[i] for i in order]}, None, Shape(), Counter())
    assert len(rows) == k * (k - 1) // 2
    assert {frozenset((r["chosen_id"], r["rejected_id"])) for r in rows} == {
        frozenset((a, b)) for n, a in enumerate(ids) for b in ids[n + 1:]}
    assert all(order.index(r["chosen_id"]) < order.index(r["rejected_id"]) for r in rows)


def test_kto_from_ranking_and_scoring(ranks, load, tmp_path):
    ds = load(rows_of(ranks, tmp_path, fmt="trl-kto", question="rank"))
    got = Counter(ds["label"])
    # best True and worst False per ranking (rank-0, rank-1, rank-3); all unacceptable: four False
    assert ds.num_rows == 10 and got == {True: 3, False: 7}
    out = rows_of(ranks, tmp_path, "s", fmt="trl-kto", question="scores")
    ds = load(out)
    # helpfulness 0-4: 4 and 3 desirable, 0 undesirable, 2 (the middle) left out
    assert [(r["completion"].split()[1], r["label"]) for r in ds] == [("0", True), ("1", False), ("1", True)]
    assert manifest(out)["dropped"] == {"middle helpfulness score": 1}


def test_attributes_one_row_per_response_and_axis_columns(ranks, load, tmp_path):
    ds = load(rows_of(ranks, tmp_path, fmt="attributes"))
    assert ds.column_names == ["item_id", "response_id", "prompt", "response", "helpfulness", "correctness",
                               "coherence", "complexity", "verbosity"]
    assert [(r["item_id"], r["response_id"], r["helpfulness"]) for r in ds] == [
        ("rank-0", "m0", 4), ("rank-0", "m1", 0), ("rank-1", "m0", 2), ("rank-1", "m1", 3)]
    assert set(ds["verbosity"]) == {2} and ds[0]["prompt"] == "Explain topic 0"


def test_sft_from_the_top_of_rankings(ranks, load, tmp_path):
    ds = load(rows_of(ranks, tmp_path, fmt="sft", question="rank"))
    assert [m[-1]["content"] for m in ds["messages"]] == [
        "Answer 0 about topic 0.", "Answer 2 about topic 1.", "Answer 3 about topic 3."]


# --- rubric and demonstrations --------------------------------------------------------------------

def test_rubric_items_criteria_and_dataset_score(care, load, tmp_path):
    out = rows_of(care, tmp_path, fmt="rubric", parquet=True)
    ds = load(out)
    assert ds.num_rows == 3 and ds.column_names == ["item_id", "prompt", "response", "criteria", "earned",
                                                     "possible", "score"]
    assert ds["score"] == pytest.approx([1.0, -3 / 11, 2 / 11]) and ds["possible"] == [11, 11, 11]
    first = {c["id"]: (c["mark"], c["points"], c["earned"]) for c in ds[1]["criteria"]}
    assert first == {"doctor": ("met", 5, 5.0), "dose": ("met", -8, -8.0), "fluids": (None, 2, 0.0),
                     "own": ("not_met", 4, 0.0)}
    assert ds[0]["prompt"][0]["role"] == "user"  # the items are conversations
    m = manifest(out)
    score = m["summary"]["dataset score (mean item score clipped to 0..1)"]
    assert score == pytest.approx(10 / 33)
    assert "dataset score (mean item score clipped to 0..1): 0.303" in (out / "README.md").read_text()


def test_dataset_score_clips_the_mean_not_the_items():
    assert dataset_score([-0.5, -0.1]) == 0.0
    assert dataset_score([1.0, -0.5, None]) == 0.25
    assert dataset_score([None]) is None


def test_sft_and_alpaca_from_demonstrations(care, load, tmp_path):
    sft = load(rows_of(care, tmp_path, "s", fmt="sft"))
    assert sft.num_rows == 6  # two annotators' demonstrations of three cases, each its own example
    assert [m["role"] for m in sft[0]["messages"]] == ["user", "assistant"]
    assert sorted(m[-1]["content"] for m in sft["messages"])[:2] == ["c1 ideal answer 0", "c1 ideal answer 1"]
    alpaca = load(rows_of(care, tmp_path, "a", fmt="alpaca"))
    assert alpaca[0] == {"instruction": "My child has a fever of 39 C (case 0).", "input": "",
                         "output": "c1 ideal answer 0"}


def test_alpaca_puts_earlier_turns_in_the_input():
    from annotary.datasets.exports import alpaca_parts

    item = {"id": "c", "prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                                  {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Why?"}],
            "context": "Some notes", "responses": []}
    assert alpaca_parts(item) == ("Why?", "System: Be brief.\n\nUser: Hi\n\nAssistant: Hello\n\nSome notes")


def test_labels_long_of_skips_and_decisions(pairs, load, tmp_path):
    out = rows_of(pairs, tmp_path, fmt="labels-long", question="overall")
    ds = load(out)
    stored = pairs.one("SELECT count(*) FROM labels WHERE question_id='overall'")[0]
    assert ds.num_rows == stored + 1  # and the reviewer's decision
    skips = [r for r in ds if r["skip_reason"]]
    assert {(r["item_id"], r["skip_reason"]) for r in skips} == {("p4", "broken item"), ("p6", "cannot judge")}
    assert all(r["answer"] is None for r in skips)
    (decision,) = [r for r in ds if r["kind"] == "decision"]
    assert decision["provenance"] == "adjudicated" and decision["rationale"].startswith("r2 answers")
    assert {r["provenance"] for r in ds if r["item_id"] == "p6"} == {None}
    assert [r["flags"] for r in ds if r["item_id"] == "p8" and r["rater"] == "human:h2"] == [["unclear"]]
