"""After a reviewer's decisions are merged, the decided conflicts are settled everywhere: the
report, `agreement`, the Consensus tab, a second adjudication bundle and the dataset card."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from annotary.app import cli
from annotary.bundles.bundle import read_bundle
from annotary.bundles.identity import create_identity
from annotary.core.adjudication import Case
from annotary.core.errors import AnnotaryError
from annotary.flows import workspace as wf
from annotary.ops.adjudication import create_adjudication
from annotary.ops.export import export_dataset
from annotary.ops.importing import import_tasks
from annotary.ops.merge import merge_results
from annotary.ops.project import open_project
from annotary.ops.quality import quality_report
from annotary.ops.results import export_results
from annotary.ops.roster import export_card
from annotary.store import open_store
from tests.adjudication.test_adjudication import decide_all


def decided_project(review, tmp_path, items: int | None):
    """The review project with the reviewer's decisions on the first `items` items merged."""
    rstore = open_store(tmp_path / "reviewer.db")
    import_tasks(rstore, review.bundle, trust_new_key=True)
    decided = decide_all(rstore, review.reviewer, items=items)
    out = tmp_path / "decisions.annotary"
    export_results(rstore, project_id="demo-pairwise", identity=review.reviewer, out=out)
    store = review.copy(tmp_path)
    before = {(c.item_id, c.question_id) for c in quality_report(store).conflicts}
    [merged] = merge_results(store, paths=[out])
    assert merged.refusal is None
    return store, before, decided


def test_decided_conflicts_are_no_longer_undecided(review, world, tmp_path):
    store, before, decided = decided_project(review, tmp_path, items=2)
    assert 0 < decided < len(before)
    report = quality_report(store)
    settled = {(c.item_id, c.question_id) for c in report.decided}
    left = {(c.item_id, c.question_id) for c in report.conflicts}
    assert len(settled) == decided and settled | left == before and not settled & left
    assert all(c.decided for c in report.decided)

    # the Consensus tab
    counts = wf.consensus_counts(report)
    assert (counts["conflict"], counts["decided"]) == (len(left), decided)
    assert f"{len(left)} conflicts · {decided} decided by a reviewer" in wf.consensus_line(report)
    rows = wf.consensus_table(report, "decided").rows
    assert len(rows) == decided and all(r[2].text == "decided by a reviewer" for r in rows)
    assert len(wf.consensus_table(report, "conflict").rows) == len(left)

    # `agreement`
    text = CliRunner().invoke(cli, ["agreement", str(tmp_path / "project.db")]).output
    assert f"{len(left)} conflicts undecided, {decided} decided by a reviewer" in text

    # a second adjudication bundle: only what is left, and it says so
    out = tmp_path / "again.annotary"
    change = create_adjudication(store, identity=world.coordinator, reviewer=review.reviewer.key_id, out=out)
    assert (change.counts["conflicts"], change.counts["decided"]) == (len(left), decided)
    assert f"{len(left)} conflicts still undecided; {decided} decided by a reviewer already" in change.message
    cases = {(c.item_id, c.question_id) for c in read_bundle(out).records("cases.jsonl", Case)}
    assert cases == left

    # the dataset card
    export_dataset(store, out=tmp_path / "prefs", fmt="trl-preference", question="helpful")
    card = (tmp_path / "prefs" / "README.md").read_text()
    helpful_decided = sum(1 for k in settled if k[1] == "helpful")
    helpful_left = sum(1 for k in left if k[1] == "helpful")
    if helpful_decided:  # which items come first in the reviewer's bundle depends on the keys
        assert f"| adjudicated | {helpful_decided} |" in card
    else:
        assert "| adjudicated |" not in card
    if helpful_left:
        assert f"{helpful_left} conflicts nobody has decided yet" in card
    else:
        assert "nobody has decided yet" not in card


def test_when_every_conflict_is_decided_a_second_bundle_is_refused(review, world, tmp_path):
    store, before, decided = decided_project(review, tmp_path, items=None)
    assert decided == review.cases and not quality_report(store).conflicts
    with pytest.raises(AnnotaryError, match=f"no undecided conflicts; {len(before)} decided by a reviewer already"):
        create_adjudication(store, identity=world.coordinator, reviewer=review.reviewer.key_id,
                            out=tmp_path / "again.annotary")
    assert not (tmp_path / "again.annotary").exists()
    export_dataset(store, out=tmp_path / "prefs", fmt="trl-preference", question="helpful")
    card = (tmp_path / "prefs" / "README.md").read_text()
    helpful = sum(1 for k in before if k[1] == "helpful")
    assert helpful and f"| adjudicated | {helpful} |" in card
    assert "nobody has decided yet" not in card


def test_a_reviewer_missing_from_the_roster_is_told_the_command_that_adds_them(review, world, tmp_path):
    store = review.copy(tmp_path)
    project = tmp_path / "project.db"
    newcomer = create_identity(tmp_path / "newcomer", name="Dr. Noor Ali", role="reviewer")
    card = tmp_path / "noor.card.json"
    export_card(identity=newcomer, out=card)
    with pytest.raises(AnnotaryError) as err:
        create_adjudication(store, identity=world.coordinator, reviewer=str(card), out=tmp_path / "x.annotary")
    assert str(err.value).endswith(f"add their card first: annotary roster add {project} {card}")
    with pytest.raises(AnnotaryError, match=r"annotary roster add .*project\.db REVIEWER\.card\.json$"):
        create_adjudication(store, identity=world.coordinator, reviewer=newcomer.key_id, out=tmp_path / "x.annotary")
    # the command offered works: run as written, the bundle is made
    store.close()
    assert CliRunner().invoke(cli, ["roster", "add", str(project), str(card)]).exit_code == 0
    store = open_project(project)
    change = create_adjudication(store, identity=world.coordinator, reviewer=str(card), out=tmp_path / "x.annotary")
    assert change.counts["cases"] == review.cases
