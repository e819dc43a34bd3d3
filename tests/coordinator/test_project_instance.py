"""Bundles belong to one project instance: two coordinators' projects with the same project id
never take each other's results; bundles written before instances existed merge as before."""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from annotary.bundles.bundle import read_bundle, write_bundle
from annotary.bundles.identity import create_identity
from annotary.core.errors import BundleError, TrustError
from annotary.ops import queries
from annotary.ops.assign import assign_round
from annotary.ops.importing import import_tasks, load_tasks, preview_tasks
from annotary.ops.merge import merge_bundle, merge_results
from annotary.ops.project import create_project, open_project, project_info
from annotary.ops.results import export_results
from annotary.ops.roster import add_members
from annotary.store import open_store
from tests.coordinator.conftest import DEMO, PID
from tests.coordinator.test_hostile_results import cli, db_state
from tests.ops.badbundles import assert_one_line, assert_unchanged, resign

INSTANCE = re.compile(r"^[0-9a-f]{32}$")
OTHER_INSTANCE = "made for another project instance with the same id 'demo-pairwise'"


def strip_instance(src: Path, dest: Path, identity) -> Path:
    """The bundle as Annotary wrote it before instances existed: no instance in the manifest."""
    def edit(doc):
        doc.pop("instance_id")
        doc.pop("coordinator_key_id")
    return resign(src, dest, identity, edit)


def second_project(world, root: Path, coordinator=None) -> Path:
    """Another coordinator's project of the same spec (so the same project id), with the world's
    first annotator in its roster and given every item, gold and calibration item of the world's."""
    coordinator = coordinator or create_identity(root / "dee", name="Coordinator Dee", role="coordinator")
    path = root / "second.db"
    create_project(spec_path=DEMO / "spec.toml", items_paths=[DEMO / "items.jsonl"], out=path,
                   identity=coordinator, guidelines_path=DEMO / "guidelines.md")
    store = open_project(path)
    try:
        add_members(store, cards=[world.cards[0]])
        assign_round(store, identity=coordinator, out_dir=root / "second-round1", overlap=1,
                     gold_paths=[world.root / "gold.jsonl"], calibration_paths=[world.root / "calibration.jsonl"])
    finally:
        store.close()
    return path


def test_every_bundle_of_the_round_trip_carries_the_instance(world, tmp_path):
    store = open_project(world.project)
    info = project_info(store)
    store.close()
    assert INSTANCE.match(info.instance_id) and info.coordinator_key_id == world.coordinator.key_id
    for task in world.assignment.bundles:
        m = read_bundle(task.path).manifest
        assert (m.instance_id, m.coordinator_key_id) == (info.instance_id, world.coordinator.key_id)
    # the annotator's store keeps it with the project imported, and the results repeat it
    annotator = open_store(world.stores[0])
    assert queries.project(annotator, PID).instance_id == info.instance_id
    annotator.close()
    m = read_bundle(world.results[0]).manifest
    assert (m.instance_id, m.coordinator_key_id) == (info.instance_id, world.coordinator.key_id)
    store = world.copy(tmp_path)
    report = merge_bundle(store, path=world.results[0])
    assert report.refusal is None and report.accepted == report.labels > 0


def test_results_for_another_coordinators_project_of_the_same_id_are_refused(world, tmp_path):
    second = second_project(world, tmp_path)
    store = open_project(second)
    assert project_info(store).id == PID
    before, logged = db_state(store), store.one("SELECT count(*) FROM bundle_log")[0]
    out = cli("merge", str(second), str(world.results[0]), home=tmp_path / "home")
    assert out.returncode == 2, out.stderr
    line = out.stderr.strip()
    assert_one_line(line)
    assert line.startswith(f"error: results0.annotary: refused: {OTHER_INSTANCE} (instance ")
    assert f"coordinator key {world.coordinator.key_id}; this one is instance " in line
    assert "Traceback" not in out.stderr and not out.stdout
    assert_unchanged(before, db_state(store))
    assert store.one("SELECT count(*) FROM bundle_log")[0] == logged
    store.close()
    # the same bundle merges into the project it was made for
    first = world.copy(tmp_path)
    [report] = merge_results(first, paths=[world.results[0]])
    assert report.refusal is None and report.accepted == report.labels > 0


def test_a_project_made_again_with_the_same_id_and_key_is_another_instance(world, tmp_path):
    second = second_project(world, tmp_path, coordinator=world.coordinator)
    store = open_project(second)
    assert project_info(store).coordinator_key_id == world.coordinator.key_id
    before = db_state(store)
    with pytest.raises(TrustError, match=f"results0.annotary: {OTHER_INSTANCE}"):
        merge_bundle(store, path=world.results[0])
    assert_unchanged(before, db_state(store))
    store.close()
    # an annotator who had the first project's tasks refuses the second's under the same id
    annotator = open_store(tmp_path / "annotator.db")
    task = world.assignment.bundles[0].path
    import_tasks(annotator, task, trust_new_key=True)
    [again] = list((tmp_path / "second-round1").iterdir())
    assert OTHER_INSTANCE in preview_tasks(annotator, again).refusal
    with pytest.raises(TrustError, match=OTHER_INSTANCE):
        import_tasks(annotator, again)
    annotator.close()


def test_bundles_written_before_instances_keep_merging(world, tmp_path):
    # back-compatible: a results bundle that names no instance is checked as before (project id,
    # roster, assignments), so the results of rounds sent before this change still merge
    old = strip_instance(world.results[0], tmp_path / "old.annotary", world.people[0])
    assert read_bundle(old).manifest.instance_id is None
    store = world.copy(tmp_path)
    [report] = merge_results(store, paths=[old])
    assert report.refusal is None and report.accepted == report.labels > 0
    store.close()
    # in a project of the same id the old rules apply too: its roster and assignments decide
    second = open_project(second_project(world, tmp_path))
    [report] = merge_results(second, paths=[old])
    assert report.refusal is None and report.accepted == report.labels
    second.close()


def downgrade(path: Path) -> None:
    """The store as an Annotary before project instances left it."""
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE projects DROP COLUMN instance_id")
    conn.execute("DELETE FROM _migrations WHERE name='0007_project_instance'")
    conn.commit()
    conn.close()


def test_stores_from_before_instances_get_one_on_first_open(world, tmp_path):
    project = tmp_path / "project.db"
    shutil.copy(world.project, project)
    downgrade(project)
    store = open_project(project)
    info = project_info(store)
    assert INSTANCE.match(info.instance_id)
    original = open_project(world.project)
    assert info.instance_id != project_info(original).instance_id
    original.close()
    # an annotator's project imported from bundles without an instance has none, and its
    # results carry none: they merge as before
    annotator_db = tmp_path / "annotator.db"
    shutil.copy(world.stores[0], annotator_db)
    downgrade(annotator_db)
    annotator = open_store(annotator_db)
    assert queries.project(annotator, PID).instance_id is None
    old = tmp_path / "old-results.annotary"
    export_results(annotator, project_id=PID, identity=world.people[0], out=old)
    assert read_bundle(old).manifest.instance_id is None
    [report] = merge_results(store, paths=[old])
    assert report.refusal is None and report.accepted == report.labels > 0
    # the next round's tasks carry the instance; the annotator's store learns it from them
    report = assign_round(store, identity=world.coordinator, out_dir=tmp_path / "round2", overlap=3)
    store.close()
    [task] = [b.path for b in report.bundles if b.annotator == world.people[0].key_id]
    assert read_bundle(task).manifest.instance_id == info.instance_id
    import_tasks(annotator, task)
    assert queries.project(annotator, PID).instance_id == info.instance_id
    new = tmp_path / "new-results.annotary"
    export_results(annotator, project_id=PID, identity=world.people[0], out=new)
    annotator.close()
    assert read_bundle(new).manifest.instance_id == info.instance_id
    store = open_project(project)
    [report] = merge_results(store, paths=[new])
    assert report.refusal is None, report.refusal
    store.close()


def test_a_manifest_names_its_instance_whole_and_tasks_name_their_signer(world, tmp_path):
    task = world.assignment.bundles[0].path
    half = resign(task, tmp_path / "half.annotary", world.coordinator, lambda doc: doc.pop("coordinator_key_id"))
    with pytest.raises(BundleError, match="instance_id and coordinator_key_id go together"):
        read_bundle(half)
    other = resign(task, tmp_path / "other.annotary", world.coordinator,
                   lambda doc: doc.update(coordinator_key_id=world.people[1].key_id))
    with pytest.raises(TrustError, match=f"names coordinator key {world.people[1].key_id} but is signed by"):
        load_tasks(other)
    with pytest.raises(BundleError, match="instance_id"):
        write_bundle(tmp_path / "x.annotary", kind="results", project_id=PID, project_name="x",
                     identity=world.people[0], members={}, instance_id="abc", coordinator_key_id="0" * 16)
