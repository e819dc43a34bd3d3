"""A round planned and written a chunk of items at a time: the same round, whatever the chunk."""

from __future__ import annotations

import json
import zipfile
from collections import Counter

import pytest

from annotary.bundles.bundle import open_bundle, read_bundle
from annotary.bundles.sealed import Unseal, is_sealed
from annotary.ops import assign
from annotary.ops.assign import assign_round
from annotary.ops.merge import merge_bundle
from annotary.ops.project import create_project, open_project
from annotary.ops.roster import add_members, remove_member
from annotary.ops.sealing import Encryption
from tests.coordinator.conftest import DEMO, gold_items


def fresh_project(world, folder):
    folder.mkdir()
    path = folder / "project.db"
    create_project(spec_path=DEMO / "spec.toml", items_paths=[DEMO / "items.jsonl"], out=path,
                   identity=world.coordinator, guidelines_path=DEMO / "guidelines.md")
    store = open_project(path)
    add_members(store, cards=world.cards)
    return store


def round_of(world, folder, **kw):
    """A fresh project's first round with gold and calibration: its assignments and each bundle's items."""
    store = fresh_project(world, folder)
    report = assign_round(store, identity=world.coordinator, out_dir=folder / "round1", overlap=2,
                          gold_paths=[gold_items(folder / "gold.jsonl")], gold_fraction=0.1,
                          calibration_paths=[gold_items(folder / "calibration.jsonl", 1, "calibration")], **kw)
    rows = sorted(tuple(r) for r in store.tuples("SELECT item_id, annotator, round, kind FROM assignments"))
    store.close()
    if report.encrypted:
        return report, rows, {}
    bundles = {b.annotator: (b.normal, b.gold, b.calibration, read_bundle(b.path).members["items.jsonl"])
               for b in report.bundles}
    return report, rows, bundles


@pytest.mark.parametrize("chunk", [1, 3, 7])
def test_a_round_in_small_chunks_is_the_round_in_one(world, tmp_path, monkeypatch, chunk):
    whole, rows, bundles = round_of(world, tmp_path / "whole")
    monkeypatch.setattr(assign, "CHUNK", chunk)
    chunked, rows_chunked, bundles_chunked = round_of(world, tmp_path / "chunked")
    assert rows_chunked == rows
    assert bundles_chunked == bundles  # the same items, in the same shuffled order
    assert (chunked.items, chunked.added) == (whole.items, whole.added) == (32, {"gold": 3, "calibration": 1})

    per_item = Counter(item for item, _, _, kind in rows if kind == "normal")
    assert set(per_item.values()) == {2} and len(per_item) == 32
    loads = Counter(who for _, who, _, kind in rows if kind == "normal")
    assert max(loads.values()) - min(loads.values()) <= 1
    for who, (normal, gold, calibration, lines) in bundles_chunked.items():
        sent = [json.loads(line)["id"] for line in lines.decode().splitlines()]
        assert sorted(sent) == sorted(item for item, a, _, _ in rows if a == who)
        assert sent[0] == "calibration-0" and (normal, gold, calibration) == (loads[who], 2, 1)
        hidden = [set(json.loads(line)) & {"gold", "kind", "metadata"} for line in lines.decode().splitlines()[1:]]
        assert hidden == [set()] * (normal + gold)  # gold looks like any other item


def test_a_bundle_is_streamed_into_its_zip(world, tmp_path, monkeypatch):
    """items.jsonl reaches write_bundle as chunks, never as the member whole."""
    seen = []
    real = assign.write_bundle

    def spy(path, **kw):
        seen.append(kw["members"]["items.jsonl"])
        return real(path, **kw)

    monkeypatch.setattr(assign, "CHUNK", 4)
    monkeypatch.setattr(assign, "write_bundle", spy)
    report, _, bundles = round_of(world, tmp_path / "p")
    assert seen and not any(isinstance(member, bytes) for member in seen)
    for b in report.bundles:
        with zipfile.ZipFile(b.path) as zf:
            assert zf.namelist()[:2] == ["manifest.json", "manifest.sig"]
    # the items waited in unnamed temporary files: nothing but the bundles is left beside them
    assert sorted(p.name for p in (tmp_path / "p" / "round1").iterdir()) == sorted(b.path.name for b in report.bundles)


def test_an_encrypted_round_leaves_no_plaintext_anywhere(world, tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("ANNOTARY_HOME", str(home))
    monkeypatch.setattr(assign, "CHUNK", 5)
    report, _, _ = round_of(world, tmp_path / "p", encryption=Encryption(encrypt=True))
    assert report.encrypted and all(is_sealed(b.path) for b in report.bundles)
    assert sorted(p.name for p in (tmp_path / "p" / "round1").iterdir()) == sorted(b.path.name for b in report.bundles)
    assert [p for p in home.rglob("*") if p.is_file()] == []  # the private folders are gone
    people = {p.key_id: p for p in world.people}
    for b in report.bundles:
        with open_bundle(b.path, unseal=Unseal(identity=lambda b=b: people[b.annotator], workdir=tmp_path / "w")) as ob:
            ids = [json.loads(line)["id"] for line in ob.read("items.jsonl").decode().splitlines()]
        assert len(set(ids)) == len(ids) == b.normal + b.gold + b.calibration


@pytest.mark.parametrize("chunk", [2, 2000])
def test_an_annotator_who_left_across_chunks(world, tmp_path, monkeypatch, chunk):
    """What they labeled stays covered, what they did not goes to someone else, in any chunk."""
    monkeypatch.setattr(assign, "CHUNK", chunk)
    store = world.copy(tmp_path)
    cy = world.people[2]
    normal = ("SELECT a.item_id FROM assignments a JOIN items i ON i.project_id=a.project_id AND i.id=a.item_id"
              " WHERE a.annotator=? AND i.kind='normal' ORDER BY i.seq")
    theirs = [r[0] for r in store.tuples(normal, (cy.key_id,))]
    merge_bundle(store, path=world.results[2])
    dropped = {theirs[0], theirs[-1]}
    for iid in dropped:
        store.conn.execute("DELETE FROM labels WHERE annotator=? AND item_id=?", (cy.key_id, iid))
    remove_member(store, key=cy.key_id)
    report = assign_round(store, identity=world.coordinator, out_dir=tmp_path / "r2", overlap=2)
    again = {r[0] for r in store.tuples("SELECT item_id FROM assignments WHERE round=2")}
    assert again == dropped and report.items == 2
    store.close()


def test_a_round_cancelled_partway_leaves_nothing(world, tmp_path):
    """Cancel while the bundles are being written: the bundles already written are removed, and
    neither the round, its assignments nor its gold items are recorded; the next try is round 1."""
    store = fresh_project(world, tmp_path / "p")
    out = tmp_path / "p" / "round1"
    seen: list[tuple[int, int]] = []

    def cancelled():
        return len(seen) >= 2  # after the first bundle is written

    with pytest.raises(assign.Cancelled, match="round 1 cancelled"):
        assign_round(store, identity=world.coordinator, out_dir=out, overlap=2,
                     gold_paths=[gold_items(tmp_path / "gold.jsonl")], gold_fraction=0.1,
                     progress=lambda done, total: seen.append((done, total)), cancelled=cancelled)
    total = seen[0][1]
    assert seen == [(0, total), (1, total)] and total == len(world.cards)
    assert not list(out.glob("*"))
    assert store.one("SELECT count(*) FROM assignments")[0] == 0
    assert store.one("SELECT count(*) FROM rounds")[0] == 0
    assert store.one("SELECT count(*) FROM items WHERE kind='gold'")[0] == 0
    report = assign_round(store, identity=world.coordinator, out_dir=out, overlap=2,
                          progress=lambda done, total: seen.append((done, total)))
    assert report.round == 1 and len(list(out.glob("*.annotary"))) == len(report.bundles) == total
    assert seen[-1] == (total, total)
    store.close()
