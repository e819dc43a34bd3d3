"""Importing later and earlier rounds of a project, and a bundle that changes after its preview."""

from __future__ import annotations

import json
import shutil

import pytest

from annotary.core.errors import TrustError
from annotary.ops import queries
from annotary.ops.importing import import_tasks, preview_tasks
from annotary.ops.tasks import build_task_bundle
from tests.conftest import pairwise_spec
from tests.ops.badbundles import assert_unchanged, build_all, checkpoint, snapshot

ITEMS = [{"id": f"i{n}", "prompt": f"Question {n}?",
          "responses": [{"id": "a", "text": "Yes."}, {"id": "b", "text": "No."}]} for n in range(3)]


@pytest.fixture
def build(tmp_path, coordinator):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(pairwise_spec()))

    def make(items, round_, name):
        src = tmp_path / f"{name}.jsonl"
        src.write_text("".join(json.dumps(i) + "\n" for i in items))
        out = tmp_path / f"{name}.annotary"
        build_task_bundle(spec_path=spec, items_paths=[src], out=out, identity=coordinator, round=round_)
        return out

    return make


def prompt(store, item_id):
    return queries.item(store, "test-project", item_id).turns[-1].content


def test_a_later_round_updates_items_and_adds_new_ones(store, build):
    import_tasks(store, build(ITEMS, 1, "r1"), trust_new_key=True)
    fixed = [dict(ITEMS[0], prompt="Question 0, reworded?"), *ITEMS[1:],
             dict(ITEMS[0], id="i3", prompt="New question?")]
    change = import_tasks(store, build(fixed, 2, "r2"))
    assert (change.counts["added"], change.counts["updated"]) == (1, 1)
    assert prompt(store, "i0") == "Question 0, reworded?"
    assert queries.item_ids(store, "test-project") == ["i0", "i1", "i2", "i3"]
    assert queries.project(store, "test-project").round == 2


def test_an_earlier_round_never_reverts_items(store, build):
    r1 = build(ITEMS, 1, "r1")
    fixed = [dict(i, prompt=i["prompt"] + " (fixed)") for i in ITEMS]
    import_tasks(store, build(fixed, 2, "r2"), trust_new_key=True)
    change = import_tasks(store, r1)  # arrives late
    assert change.counts["updated"] == 0
    assert [prompt(store, f"i{n}") for n in range(3)] == [f"Question {n}? (fixed)" for n in range(3)]
    assert queries.project(store, "test-project").round == 2


def test_bundle_replaced_between_preview_and_import(store, demo_bundle, tmp_path_factory,
                                                    demo_bundle_master, coordinator_dir, coordinator):
    """The user trusts the fingerprint the preview showed; a file swapped afterwards is refused."""
    other = build_all(tmp_path_factory, demo_bundle_master, coordinator_dir)["pinned-key-mismatch"][0]
    preview = preview_tasks(store, demo_bundle)
    assert preview.signer_key_id == coordinator.key_id and preview.pin == "new"
    shutil.copy(other, demo_bundle)  # same project, another coordinator's key
    checkpoint(store)
    before = snapshot(store)
    with pytest.raises(TrustError, match="changed since it was checked"):
        import_tasks(store, demo_bundle, trust_new_key=True, expect_key_id=preview.signer_key_id)
    assert_unchanged(before, snapshot(store))
    assert queries.projects(store) == []


# -- what the import writes -----------------------------------------------------------------------
ODD = [
    {"id": "é-1 \"quoted\"", "prompt": "Ünïcödé, 中文, emoji 🙂, a tab\tand\nnewline, \u2028 and \\ backslash",
     "responses": [{"id": "a", "text": "Ja — “so”."}, {"id": "b", "text": "Nein\r\n"}]},
    {"id": "gold-1", "prompt": "Known answer?", "kind": "gold", "gold": {"overall": "A"},
     "responses": [{"id": "a", "text": "Right."}, {"id": "b", "text": "Wrong."}]},
    {"id": "conv-1", "prompt": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
                                {"role": "user", "content": "And?"}],
     "responses": [{"id": "x", "text": "1"}, {"id": "y", "text": "2"}], "metadata": {"n": 12345678901234}},
]


@pytest.mark.parametrize("later", [True, False], ids=["items read as written", "items read first"])
def test_items_are_stored_exactly_as_the_bundle_carries_them(store, build, monkeypatch, later):
    """Each item's text is the bundle's line, byte for byte (non-ASCII, escapes, a CR), numbered in
    the bundle's order across the chunks the import writes, with its kind and skeleton."""
    import zipfile

    from annotary.ops import importing
    from annotary.store.migrations import SKELETON_PATHS

    monkeypatch.setattr(importing, "CHUNK", 2)  # several chunks, one of them part full
    items = [*ODD, *ITEMS]
    bundle = build(items, 1, "odd")
    importing.import_tasks(store, importing.load_tasks(bundle, items=not later), trust_new_key=True)
    with zipfile.ZipFile(bundle) as z:
        lines = z.read("items.jsonl").decode("utf-8").split("\n")[:-1]  # (not at U+2028)
    stored = store.query("SELECT id, seq, kind, data, typeof(data), skeleton FROM items ORDER BY seq")
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in stored] == [
        (i["id"], n, i.get("kind", "normal"), line, "text")
        for n, (i, line) in enumerate(zip(items, lines, strict=True), 1)]
    paths = ", ".join(f"'{p}'" for p in SKELETON_PATHS)
    for r in stored:  # the index readers use holds what the items say
        expected = None if r[2] != "normal" else store.one(f"SELECT json_extract(?, {paths})", (r[3],))[0]
        assert r[5] == expected


def test_a_later_round_rewrites_only_changed_items(store, build, monkeypatch):
    from annotary.ops import importing

    monkeypatch.setattr(importing, "CHUNK", 2)
    import_tasks(store, build([*ODD, *ITEMS], 1, "r1"), trust_new_key=True)
    again = [*ODD, dict(ITEMS[0], prompt="Zwölf?"), *ITEMS[1:], dict(ITEMS[0], id="i9")]
    change = import_tasks(store, importing.load_tasks(build(again, 2, "r2"), items=False))
    assert (change.counts["added"], change.counts["updated"]) == (1, 1)
    assert prompt(store, "i0") == "Zwölf?"
    assert queries.item_ids(store, "test-project") == [i["id"] for i in again]
    assert store.one("SELECT count(*) FROM items WHERE typeof(data) != 'text'")[0] == 0
