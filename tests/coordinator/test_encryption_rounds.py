"""Confidential rounds: assignment bundles encrypted to each annotator and the coordinator, results
merged from encrypted bundles, adjudication to the reviewer; verify names the project instance."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from annotary.bundles.bundle import read_bundle
from annotary.bundles.sealed import Recipient, is_sealed, seal
from annotary.core.errors import AnnotaryError, BundleError
from annotary.ops import identity as identity_ops
from annotary.ops.adjudication import create_adjudication
from annotary.ops.assign import assign_round
from annotary.ops.importing import import_tasks, load_tasks
from annotary.ops.merge import merge_results
from annotary.ops.project import create_project, open_project, project_info
from annotary.ops.results import export_results
from annotary.ops.roster import add_members, export_card
from annotary.ops.sealing import Encryption
from annotary.store import open_store
from tests.adjudication.conftest import review  # noqa: F401  (the fixture)
from tests.coordinator.conftest import DEMO, PID, world  # noqa: F401  (the fixture)
from tests.coordinator.test_hostile_results import cli, db_state
from tests.coordinator.test_project_instance import strip_instance


@pytest.fixture(autouse=True)
def fresh_session():
    identity_ops.forget_passphrase()


def home_of(identity_dir: Path, monkeypatch) -> None:
    """Act as the person whose identity is kept in `identity_dir` (their data folder)."""
    monkeypatch.setenv("ANNOTARY_HOME", str(identity_dir))


def test_an_encrypted_round_goes_to_each_annotator_and_the_coordinator(world, tmp_path, monkeypatch):  # noqa: F811
    store = world.copy(tmp_path)
    report = assign_round(store, identity=world.coordinator, out_dir=tmp_path / "round2", overlap=3,
                          encryption=Encryption(encrypt=True))
    store.close()
    assert report.bundles and "each bundle encrypted to its annotator and you" in report.message
    people = {p.key_id: i for i, p in enumerate(world.people)}
    for b in report.bundles:
        assert is_sealed(b.path)
        me = people[b.annotator]
        for i in range(len(world.people)):
            home_of(world.root / f"person{i}", monkeypatch)
            if i == me:
                assert load_tasks(b.path).manifest.producer.key_id == world.coordinator.key_id
            else:
                with pytest.raises(BundleError, match="encrypted for someone else"):
                    load_tasks(b.path)
        home_of(world.root / "coordinator", monkeypatch)
        assert load_tasks(b.path).manifest.instance_id == project_info(open_project(tmp_path / "project.db")).instance_id

    # the annotator imports it, and their results go back encrypted to the coordinator by default
    b = report.bundles[0]
    who = people[b.annotator]
    home_of(world.root / f"person{who}", monkeypatch)
    annotator_store = tmp_path / "annotator.db"
    shutil.copy(world.stores[who], annotator_store)
    s = open_store(annotator_store)
    import_tasks(s, b.path)
    out = tmp_path / "results.annotary"
    change = export_results(s, project_id=PID, identity=world.people[who], out=out)
    s.close()
    assert is_sealed(out) and "encrypted to Coordinator Cho" in change.message
    home_of(world.root / "coordinator", monkeypatch)
    merged = world.copy(tmp_path)
    [r] = merge_results(merged, paths=[out])
    assert r.refusal is None and r.labels > 0 and r.file == str(out)
    merged.close()


def test_a_confidential_project_encrypts_every_round_by_default(world, tmp_path, monkeypatch):  # noqa: F811
    spec = tmp_path / "spec.toml"
    spec.write_text("confidential = true\n" + (DEMO / "spec.toml").read_text(encoding="utf-8"), encoding="utf-8")
    project = tmp_path / "secret.db"
    create_project(spec_path=spec, items_paths=[DEMO / "items.jsonl"], out=project, identity=world.coordinator,
                   guidelines_path=DEMO / "guidelines.md")
    store = open_project(project)
    add_members(store, cards=world.cards[:2])
    report = assign_round(store, identity=world.coordinator, out_dir=tmp_path / "round1", overlap=1)
    assert report.bundles and all(is_sealed(b.path) for b in report.bundles)
    plain = assign_round(store, identity=world.coordinator, out_dir=tmp_path / "round2", overlap=2,
                         encryption=Encryption(plaintext=True))
    assert plain.bundles and not any(is_sealed(b.path) for b in plain.bundles)
    with pytest.raises(AnnotaryError, match="exclude each other"):
        assign_round(store, identity=world.coordinator, out_dir=tmp_path / "round3", overlap=2,
                     encryption=Encryption(plaintext=True, encrypt=True))
    store.close()


def test_merge_decrypts_each_bundle_on_its_own(world, tmp_path, monkeypatch):  # noqa: F811
    coordinator = Recipient.of(world.coordinator)
    sealed = tmp_path / "ada.annotary"
    seal(world.results[0], sealed, [coordinator])
    elsewhere = tmp_path / "bo.annotary"
    seal(world.results[1], elsewhere, [Recipient.of(world.people[2])])  # not for the coordinator
    home_of(world.root / "coordinator", monkeypatch)

    (tmp_path / "plain").mkdir()
    plain_store = world.copy(tmp_path / "plain")
    plain_report = merge_results(plain_store, paths=[world.results[0]])[0]
    plain_store.close()

    store = world.copy(tmp_path)
    before = db_state(store)
    [refused] = merge_results(store, paths=[elsewhere])
    assert refused.refusal.startswith("encrypted for someone else: your key")
    assert db_state(store) == before
    ok, refused, again = merge_results(store, paths=[sealed, elsewhere, world.results[0]])
    assert ok.refusal is None and (ok.accepted, ok.labels) == (plain_report.accepted, plain_report.labels)
    assert refused.refusal.startswith("encrypted for someone else") and refused.file == str(elsewhere)
    assert again.already_merged  # the same signed bundle, encrypted or not
    assert list((world.root / "coordinator" / "tmp").iterdir()) == []
    store.close()

    # the command line: one line per bundle, exit 2 when one was refused
    project = tmp_path / "cli" / "project.db"
    project.parent.mkdir()
    shutil.copy(world.project, project)
    done = cli("merge", str(project), str(sealed), str(elsewhere), home=world.root / "coordinator")
    assert done.returncode == 2
    assert "ada.annotary: Ada Lee" in done.stdout + done.stderr
    assert "bo.annotary: refused: encrypted for someone else" in done.stdout + done.stderr


def test_adjudication_is_encrypted_to_the_reviewer_and_decisions_come_back_encrypted(
        review, world, tmp_path, monkeypatch):  # noqa: F811
    store = review.copy(tmp_path)
    card = tmp_path / "rae.card.json"
    export_card(identity=review.reviewer, out=card)
    out = tmp_path / "review.annotary"
    change = create_adjudication(store, identity=world.coordinator, reviewer=str(card), out=out,
                                 encryption=Encryption(encrypt=True))
    assert is_sealed(out) and "encrypted to Dr. Rae Vu, Coordinator Cho" in change.message
    # the reviewer opens it, decides nothing yet, and sends back an encrypted decisions bundle
    reviewer_home = review.project.parent / "reviewer"  # where the review fixture keeps their identity
    home_of(reviewer_home, monkeypatch)
    s = open_store(tmp_path / "reviewer.db")
    import_tasks(s, out, trust_new_key=True)
    decisions = tmp_path / "decisions.annotary"
    back = export_results(s, project_id=PID, identity=review.reviewer, out=decisions)
    s.close()
    assert is_sealed(decisions) and "encrypted to Coordinator Cho" in back.message
    home_of(world.root / "coordinator", monkeypatch)
    [r] = merge_results(store, paths=[decisions])
    assert r.refusal is None and r.file == str(decisions)
    store.close()


def test_verify_names_the_instance_or_says_it_predates_them(world, tmp_path):  # noqa: F811
    info = project_info(open_project(world.project))
    home = world.root / "coordinator"
    done = cli("verify", str(world.results[0]), home=home)
    assert done.returncode == 0, done.stderr
    assert f"\nproject instance {info.instance_id}, coordinator key {world.coordinator.key_id}\n" in done.stdout
    old = strip_instance(world.results[0], tmp_path / "old.annotary", world.people[0])
    done = cli("verify", str(old), home=home)
    assert "\nproject made before instance ids; matched on project id only\n" in done.stdout
    # and on project id it is matched: the same bundle for another project id is refused
    assert read_bundle(old).manifest.instance_id is None
    other = tmp_path / "other.annotary"

    def elsewhere(doc):
        doc.pop("instance_id")
        doc.pop("coordinator_key_id")
        doc["project_id"] = "another-project"

    from tests.ops.badbundles import resign

    resign(world.results[0], other, world.people[0], elsewhere)
    store = world.copy(tmp_path)
    [r] = merge_results(store, paths=[other])
    assert r.refusal == "results for project 'another-project', not 'demo-pairwise': refused"
    [r] = merge_results(store, paths=[old])
    assert r.refusal is None and r.accepted == r.labels > 0
    store.close()
