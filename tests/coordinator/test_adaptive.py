"""Adaptive rounds: a round that can ask no one refuses, the weak-consensus threshold is an option,
and the headline figures stay on the full-overlap rounds."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from annotary.analysis.variables import Options
from annotary.app import cli
from annotary.core.errors import AnnotaryError
from annotary.ops.assign import assign_round
from annotary.ops.export import export_dataset
from annotary.ops.merge import merge_results
from annotary.ops.quality import disputed_items, quality_report
from tests.coordinator.test_quality import label_round


def as_coordinator(world, home):
    """The CLI signs as the world's coordinator."""
    for name in ("identity.json", "identity.key"):
        shutil.copy(world.root / "coordinator" / name, home / name)


def second_round(world, tmp_path, *, label: bool):
    """Round 1 merged, an adaptive round 2 assigned (and, if `label`, labelled and merged)."""
    store = world.copy(tmp_path)
    # annotator 0's store holds a second revision of one item: merged now, as their next export brings it
    merge_results(store, paths=[*world.results, world.newer])
    before = quality_report(store)
    r = assign_round(store, identity=world.coordinator, out_dir=tmp_path / "round2", adaptive=True)
    assert r.round == 2 and r.items > 0
    if label:
        results = []
        for i, person in enumerate(world.people):
            bundle = next((b.path for b in r.bundles if b.annotator == person.key_id and b.normal), None)
            if bundle is not None:
                copy = tmp_path / f"a{i}.db"
                shutil.copy(world.stores[i], copy)
                results.append(label_round(copy, person, bundle, i))
        assert all(x.refusal is None and x.accepted > 0 for x in merge_results(store, paths=results))
    return store, before


def test_an_adaptive_round_with_no_one_left_to_ask_refuses(world, tmp_path, annotary_home):
    store, _ = second_round(world, tmp_path, label=False)
    # every disputed item has now been given to all three annotators
    assert disputed_items(quality_report(store), store)
    rounds = store.query("SELECT round FROM rounds ORDER BY round")
    with pytest.raises(AnnotaryError, match="every active annotator has already had the .* disputed item"):
        assign_round(store, identity=world.coordinator, out_dir=tmp_path / "round3", adaptive=True)
    assert store.query("SELECT round FROM rounds ORDER BY round") == rounds
    assert not (tmp_path / "round3").exists()
    store.close()
    as_coordinator(world, annotary_home)
    result = CliRunner().invoke(cli, ["project", "assign", str(tmp_path / "project.db"), "--adaptive",
                                      "--out-dir", str(tmp_path / "round3")])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: nothing to send") and "annotary adjudication create" in line
    assert not (tmp_path / "round3").exists()


def test_the_weak_consensus_threshold_is_an_option(world, tmp_path, annotary_home):
    store, _ = second_round(world, tmp_path, label=True)
    weak = [iid for iid, why in disputed_items(quality_report(store), store) if "weak consensus" in why]
    assert weak  # two of three agree: support 0.67, below the default 0.75
    lenient = disputed_items(quality_report(store, options=Options(weak_support=0.6)), store)
    assert not any("weak consensus" in why for _, why in lenient)
    three = {r[0] for r in store.query("SELECT item_id FROM assignments WHERE kind='normal' GROUP BY item_id"
                                       " HAVING count(DISTINCT annotator) = 3")}
    askable = [iid for iid, _ in lenient if iid not in three]
    with pytest.raises(AnnotaryError, match="--weak-consensus is for an adaptive round"):
        assign_round(store, identity=world.coordinator, out_dir=tmp_path / "r", overlap=2, weak_support=0.5)
    with pytest.raises(AnnotaryError, match="weak consensus 1.5 must be a share"):
        assign_round(store, identity=world.coordinator, out_dir=tmp_path / "r", adaptive=True, weak_support=1.5)
    store.close()
    as_coordinator(world, annotary_home)
    result = CliRunner().invoke(cli, ["project", "assign", str(tmp_path / "project.db"), "--adaptive",
                                      "--weak-consensus", "0.6", "--json", "--out-dir", str(tmp_path / "round3")])
    if askable:  # the option reaches the round: only the items disputed under it are sent
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["items"] == len(askable)
    else:
        assert result.exit_code == 2 and "every active annotator has already had" in result.stderr


def test_headline_figures_cover_the_full_overlap_rounds(world, tmp_path):
    store, before = second_round(world, tmp_path, label=True)
    after = quality_report(store)
    assert after.design.rounds == [1] and after.design.adaptive == [2] and after.design.left_out > 0
    for b, a in zip(before.variables, after.variables, strict=True):
        assert (a.key, a.alpha, a.fleiss_kappa, a.percent_agreement, a.pairable) == \
            (b.key, b.alpha, b.fleiss_kappa, b.percent_agreement, b.pairable)
        assert [(p.a, p.b, p.n, p.kappa) for p in a.pairs] == [(p.a, p.b, p.n, p.kappa) for p in b.pairs]
    # consensus uses every label: the third annotator settles items
    assert max(c.ratings for c in after.consensus) == 3
    assert {g.group for g in after.by_round} == {"1", "2"}  # each round's own figures stay side by side
    out = tmp_path / "prefs"
    export_dataset(store, out=out, fmt="trl-preference", question="helpful")
    card = (out / "README.md").read_text()
    assert "agreement figures cover the full-overlap round 1; adaptive round 2" in card
    helpful = next(s for s in before.variables if s.key == "helpful.choice")
    assert f"| helpful.choice | nominal | {helpful.pairable} |" in card
    assert f"{helpful.alpha:.3f} ({helpful.alpha_low:.3f}–{helpful.alpha_high:.3f})" in card
