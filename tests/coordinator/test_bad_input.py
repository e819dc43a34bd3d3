"""Each bad input is refused with a one-line reason and leaves the project exactly as it was."""

from __future__ import annotations

import json
import shutil
import zipfile

import pytest

from annotary.bundles.bundle import read_bundle, write_bundle
from annotary.bundles.identity import create_identity
from annotary.bundles.records import dump_jsonl
from annotary.core.errors import AnnotaryError, BundleError, IdentityError, ItemError, TrustError
from annotary.core.labels import Label
from annotary.ops.assign import assign_round
from annotary.ops.merge import merge_bundle, merge_results
from annotary.ops.project import create_project
from annotary.ops.raters import import_rater_labels
from annotary.ops.roster import add_members, export_card, read_card, remove_member
from tests.coordinator.conftest import DEMO, PID, dump


def results_bundle(path, identity, labels, project_id=PID):
    write_bundle(path, kind="results", project_id=project_id, project_name="x", identity=identity,
                 members={"results.jsonl": dump_jsonl(labels)})
    return path


def labels_of(path) -> list[Label]:
    return read_bundle(path).records("results.jsonl", Label)


def refused(store, call, error, pattern):
    before = dump(store)
    with pytest.raises(error, match=pattern) as info:
        call()
    assert "\n" not in str(info.value)
    assert dump(store) == before
    return str(info.value)


def test_create_refuses_unknown_shape_and_leaves_no_file(tmp_path, coordinator):
    odd = tmp_path / "odd.jsonl"
    odd.write_text('{"question": "?", "answers": []}\n')
    out = tmp_path / "p.db"
    with pytest.raises(ItemError, match=r"odd.jsonl: unknown record shape with fields question, answers; known shapes: item,"):
        create_project(spec_path=DEMO / "spec.toml", items_paths=[odd], out=out, identity=coordinator)
    assert not out.exists() and not list(tmp_path.glob(".p.db*"))


def test_create_names_file_and_line_of_a_row_missing_a_field(tmp_path, coordinator):
    src = tmp_path / "pairs.jsonl"
    lines = (DEMO / "items.jsonl").read_text().splitlines()[:3]
    row = json.loads(lines[2])
    del row["prompt"]
    src.write_text("\n".join([*lines[:2], json.dumps(row)]) + "\n")
    with pytest.raises(ItemError, match=r"pairs.jsonl line 3: prompt"):
        create_project(spec_path=DEMO / "spec.toml", items_paths=[src], out=tmp_path / "p.db",
                       identity=coordinator)
    assert not (tmp_path / "p.db").exists()


def test_create_refuses_an_existing_file_unless_forced(world, tmp_path, coordinator):
    out = tmp_path / "p.db"
    shutil.copy(world.project, out)
    before = out.read_bytes()
    with pytest.raises(AnnotaryError, match="already exists"):
        create_project(spec_path=DEMO / "spec.toml", items_paths=[DEMO / "items.jsonl"], out=out,
                       identity=coordinator)
    assert out.read_bytes() == before
    create_project(spec_path=DEMO / "spec.toml", items_paths=[DEMO / "items.jsonl"], out=out,
                   identity=coordinator, force=True)
    assert out.read_bytes() != before


def test_create_refuses_a_gold_item_without_a_fitting_answer(tmp_path, coordinator):
    row = json.loads((DEMO / "items.jsonl").read_text().splitlines()[0])
    src = tmp_path / "gold.jsonl"
    src.write_text(json.dumps(row | {"kind": "gold", "gold": {"helpful": {"mode": "pairwise", "choice": "maybe"}}}))
    with pytest.raises(ItemError, match=r"gold.jsonl line 1: item 'llmbar-natural-2': gold.helpful"):
        create_project(spec_path=DEMO / "spec.toml", items_paths=[src], out=tmp_path / "p.db",
                       identity=coordinator)


def test_card_with_a_bad_self_signature_is_refused(world, tmp_path):
    store = world.copy(tmp_path)
    card = json.loads(world.cards[0].read_text())
    card["card"]["name"] = "Mallory"
    forged = tmp_path / "forged.card.json"
    forged.write_text(json.dumps(card))
    refused(store, lambda: add_members(store, cards=[world.cards[1], forged]), TrustError,
            r"forged.card.json: the card's self-signature does not match")
    other = json.loads(world.cards[1].read_text())
    card = json.loads(world.cards[0].read_text()) | {"signature": other["signature"]}
    forged.write_text(json.dumps(card))
    refused(store, lambda: add_members(store, cards=[forged]), TrustError, "self-signature")
    forged.write_text("{}")
    refused(store, lambda: add_members(store, cards=[forged]), IdentityError, "forged.card.json: card")


def test_card_round_trip(world):
    card = read_card(world.cards[0])
    assert (card.name, card.key_id, card.role) == ("Ada Lee", world.people[0].key_id, "annotator")


def test_overlap_larger_than_the_roster_is_refused(world, tmp_path):
    store = world.copy(tmp_path)
    out = tmp_path / "round2"
    refused(store, lambda: assign_round(store, identity=world.coordinator, out_dir=out, overlap=4),
            AnnotaryError, r"overlap 4 is larger than the roster \(3 active annotators\)")
    assert not out.exists() or not any(out.iterdir())


def test_only_the_coordinator_key_signs_tasks(world, tmp_path):
    store = world.copy(tmp_path)
    refused(store, lambda: assign_round(store, identity=world.people[0], out_dir=tmp_path, overlap=3),
            TrustError, "coordinated by key")


def test_results_from_an_unknown_key_are_refused(world, tmp_path):
    store = world.copy(tmp_path)
    stranger = create_identity(tmp_path / "stranger", name="Stranger", role="annotator")
    labels = [lab.model_copy(update={"annotator": stranger.key_id}) for lab in labels_of(world.results[0])]
    path = results_bundle(tmp_path / "s.annotary", stranger, labels)
    refused(store, lambda: merge_bundle(store, path=path), TrustError,
            rf"s.annotary: signed by key {stranger.key_id} \(Stranger\), which is not in the roster")


def test_results_for_another_project_are_refused(world, tmp_path):
    store = world.copy(tmp_path)
    path = results_bundle(tmp_path / "o.annotary", world.people[0], labels_of(world.results[0]), "other")
    refused(store, lambda: merge_bundle(store, path=path), TrustError,
            r"o.annotary: results for project 'other', not 'demo-pairwise': refused")


def test_labels_for_unassigned_items_refuse_the_whole_bundle(world, tmp_path):
    store = world.copy(tmp_path)
    ada, bo = world.people[0], world.people[1]
    mine = labels_of(world.results[0])
    theirs = [lab.model_copy(update={"annotator": ada.key_id}) for lab in labels_of(world.results[1])]
    path = results_bundle(tmp_path / "u.annotary", ada, mine + theirs)
    msg = refused(store, lambda: merge_bundle(store, path=path), TrustError,
                  rf"labels for items not assigned to Ada Lee \({ada.key_id}\)")
    assert bo.name not in msg
    path = results_bundle(tmp_path / "v.annotary", ada, labels_of(world.results[1]))  # Bo's labels, Ada's key
    refused(store, lambda: merge_bundle(store, path=path), TrustError, f"by '{bo.key_id}' in a bundle signed by")


def test_tampered_results_are_refused(world, tmp_path):
    store = world.copy(tmp_path)
    path = tmp_path / "t.annotary"
    with zipfile.ZipFile(world.results[0]) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "results.jsonl":
                data = data.replace(b'"choice":"A"', b'"choice":"B"', 1)
            dst.writestr(info, data)
    refused(store, lambda: merge_bundle(store, path=path), BundleError, "does not match its hash")
    reports = merge_results(store, paths=[path, world.results[1]])
    assert reports[0].refusal and "does not match its hash" in reports[0].refusal
    assert reports[1].accepted > 0  # the next bundle is merged all the same


def test_a_bundle_failing_while_it_is_written_leaves_the_others_merged(world, tmp_path):
    store = world.copy(tmp_path)
    conn = store.conn

    class FailingSecondWrite:  # the connection, but the second bundle's labels cannot be written
        calls = 0

        def execute(self, sql, *args):
            if "INSERT INTO labels" in sql:
                FailingSecondWrite.calls += 1
                if FailingSecondWrite.calls == 2:
                    raise AnnotaryError("the disk refused the write")
            return conn.execute(sql, *args)

        def __getattr__(self, name):
            return getattr(conn, name)

    store.db.conn = FailingSecondWrite()
    try:
        first, second = merge_results(store, paths=world.results[:2])
    finally:
        store.db.conn = conn
    assert first.accepted > 0 and second.refusal == "the disk refused the write"
    # the failed bundle's log row is gone with its labels; the first bundle's rows are committed
    assert [r[0] for r in store.query("SELECT signer_key_id FROM bundle_log")] == [first.signer]
    assert {r[0] for r in store.query("SELECT annotator FROM labels")} == {first.signer}
    assert store.one("SELECT count(*) FROM labels")[0] == first.accepted
    assert merge_results(store, paths=world.results[1:2])[0].accepted == len(labels_of(world.results[1]))


def test_removed_key_is_refused_and_its_labels_stay(world, tmp_path):
    store = world.copy(tmp_path)
    cy = world.people[2]
    merge_bundle(store, path=world.results[2])
    kept = store.one("SELECT count(*) FROM labels WHERE annotator=?", (cy.key_id,))[0]
    assert "removed Cy Diaz" in remove_member(store, key=cy.key_id[:6]).message
    newer = results_bundle(tmp_path / "later.annotary", cy,
                           [lab.model_copy(update={"revision": 2}) for lab in labels_of(world.results[2])])
    refused(store, lambda: merge_bundle(store, path=newer), TrustError, "removed from the roster on")
    assert store.one("SELECT count(*) FROM labels WHERE annotator=?", (cy.key_id,))[0] == kept
    add_members(store, cards=[world.cards[2]])  # re-admitted: accepted again
    assert merge_bundle(store, path=newer).replaced == kept


def test_a_label_that_does_not_fit_refuses_the_whole_bundle(world, tmp_path):
    store = world.copy(tmp_path)
    ada = world.people[0]
    labels = labels_of(world.results[0])
    bad = labels[1].model_copy(update={"flags": ["not-a-flag"]})
    path = results_bundle(tmp_path / "f.annotary", ada, [labels[0], bad, *labels[2:]])
    refused(store, lambda: merge_bundle(store, path=path), BundleError,
            r"^f\.annotary: results\.jsonl line 2: label of item .*'not-a-flag' is not a flag of the spec$")


def test_bad_rater_file_is_refused(world, tmp_path):
    store = world.copy(tmp_path)
    src = tmp_path / "judge.jsonl"
    good = {"item_id": "llmbar-natural-2", "question_id": "helpful", "answer": {"mode": "pairwise", "choice": "A"}}
    for rows, pattern in [
        ([good, good | {"item_id": "nope"}], r"judge.jsonl line 2: item_id: no item 'nope'"),
        ([good | {"confidence": 3}], r"judge.jsonl line 1: confidence"),
        ([good, good], r"judge.jsonl line 2: item 'llmbar-natural-2', question 'helpful' again"),
        ([good | {"answer": {"mode": "pairwise", "choice": "both_bad"}, "question_id": "harmless"}],
         r"judge.jsonl line 1: .*'both_bad' is not on a tie scale"),
    ]:
        src.write_text("".join(json.dumps(r) + "\n" for r in rows))
        refused(store, lambda: import_rater_labels(store, rater="judge", path=src), AnnotaryError, pattern)
    refused(store, lambda: import_rater_labels(store, rater="bad name!", path=src), AnnotaryError, "rater name")


def test_project_file_must_be_a_coordinator_project(tmp_path):
    from annotary.ops.project import open_project
    from annotary.store import open_store

    with pytest.raises(AnnotaryError, match="no such project file"):
        open_project(tmp_path / "missing.db")
    open_store(tmp_path / "annotator.db").close()
    with pytest.raises(AnnotaryError, match="not a coordinator project"):
        open_project(tmp_path / "annotator.db")


def test_export_card_writes_a_verifiable_card(tmp_path):
    me = create_identity(tmp_path / "me", name="Dr. Ada Lee", role="reviewer")
    out = tmp_path / "me.card.json"
    export_card(identity=me, out=out)
    assert read_card(out).role == "reviewer"
    assert json.loads(out.read_text())["format"] == "annotary.card/1"


def test_a_revision_merged_before_with_other_content_is_refused(world, tmp_path):
    store = world.copy(tmp_path)
    ada = world.people[0]
    merge_bundle(store, path=world.results[0])
    labels = labels_of(world.results[0])
    first = labels[0]
    other = "B" if first.answer.choice == "A" else "A"
    forged = first.model_copy(update={"answer": first.answer.model_copy(update={"choice": other, "preferred": None})})
    r = merge_bundle(store, path=results_bundle(tmp_path / "c.annotary", ada, [forged, *labels[1:]]))
    assert r.refused == 1 and r.ignored == len(labels) - 1 and r.accepted == r.replaced == 0
    assert "revision 1: merged before with other content" in r.reasons[0]


def test_a_bundle_refused_while_the_one_before_is_written_leaves_that_one_and_the_next(world, tmp_path):
    """A bundle's labels are checked while the bundle before it is written: a refusal then
    refuses that bundle alone, and the bundles before and after it are merged."""
    store = world.copy(tmp_path)
    ada = world.people[0]
    theirs = [lab.model_copy(update={"annotator": ada.key_id}) for lab in labels_of(world.results[1])]
    stray = results_bundle(tmp_path / "u.annotary", ada, labels_of(world.results[0]) + theirs)
    reports = merge_results(store, paths=[world.results[1], stray, world.results[0]])
    assert [r.refusal is None for r in reports] == [True, False, True]
    assert "labels for items not assigned to Ada Lee" in reports[1].refusal
    assert reports[0].accepted + reports[2].accepted == store.one("SELECT count(*) FROM labels")[0] > 0
    assert store.one("SELECT count(*) FROM bundle_log")[0] == 2
    store.close()
