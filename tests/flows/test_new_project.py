"""The new-project and coordinator-action logic without Qt: templates, preview, the create, the forms."""

from __future__ import annotations

import json

import pytest

from annotary.core.errors import AnnotaryError
from annotary.flows import new_project as nf
from annotary.flows import workspace as wf
from annotary.ops.project import open_project, project_info
from annotary.paths import resources_dir

DEMO = resources_dir() / "demo"


def test_one_template_per_mode_in_words():
    found = nf.templates()
    assert [t.modes[0] for t in found] == ["pairwise", "ranking", "scoring", "rubric", "demonstration"]
    assert all(t.path.is_file() and ":" in t.label for t in found)


def test_preview_reads_and_checks_the_whole_file(tmp_path):
    spec = nf.load_spec(DEMO / "spec.toml")
    p = nf.preview(spec, DEMO / "items.jsonl")
    records = [json.loads(line) for line in (DEMO / "items.jsonl").read_text().splitlines()]
    assert p.count == len(records) and p.shape == "item"
    assert [r[0] for r in p.rows] == [r["id"] for r in records[:5]]
    assert all(len(text) <= 120 and "\n" not in text for _, text, _ in p.rows)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "prompt": "hi", "responses": [{"id": "a", "text": "only one"}]}) + "\n")
    with pytest.raises(AnnotaryError) as err:
        nf.preview(spec, bad)
    assert "\n" not in str(err.value)


def test_a_template_project_takes_the_name_given(tmp_path, coordinator):
    template = nf.templates()[1]  # ranking
    items = resources_dir() / "demo-ranking" / "items.jsonl"
    spec = nf.load_spec(template.path, "  Legal   answers ranked ")
    assert (spec.name, spec.resolved_project_id) == ("Legal answers ranked", "legal-answers-ranked")
    out = nf.suggested_out(spec, tmp_path / "x.jsonl")
    assert out == tmp_path / "legal-answers-ranked.db"
    change = nf.create(spec_path=template.path, items_path=items, out=out, identity=coordinator,
                       name="Legal answers ranked")
    assert change.project_id == "legal-answers-ranked"
    assert nf.suggested_out(spec, tmp_path / "x.jsonl") == tmp_path / "legal-answers-ranked-2.db"
    with pytest.raises(AnnotaryError):
        nf.load_spec(template.path, "   ")


def test_forms_default_beside_the_project(tmp_path, coordinator):
    out = tmp_path / "p.db"
    nf.create(spec_path=DEMO / "spec.toml", items_path=DEMO / "items.jsonl", out=out, identity=coordinator)
    store = open_project(out)
    with pytest.raises(AnnotaryError, match="no annotators"):
        wf.assign_fields(store)
    with pytest.raises(AnnotaryError, match="no reviewer"):
        wf.adjudication_fields(store)
    fields = {f.key: f for f in wf.export_fields(store, "trl-preference")}
    assert fields["out"].default == str(tmp_path / "exports" / "demo-pairwise-trl-preference")
    assert [w for _, w in fields["question"].choices] == [" ".join(q.text.split())
                                                         for q in project_info(store).spec.questions]
    values = {f.key: f.default for f in fields.values()}
    assert wf.export_options("trl-preference", values) == {
        "fmt": "trl-preference", "out": fields["out"].default, "question": "helpful", "min_provenance": None,
        "min_agreement": None, "exclude_flagged": False, "ties": "drop", "parquet": False,
        "chat": None}  # None: chat rows when any item is a conversation, as without --chat
    store.close()


def test_every_form_input_has_its_own_alt_key(tmp_path, coordinator):
    from annotary.bundles.identity import create_identity
    from annotary.ops.roster import add_members, export_card

    out = tmp_path / "p.db"
    nf.create(spec_path=DEMO / "spec.toml", items_path=DEMO / "items.jsonl", out=out, identity=coordinator)
    store = open_project(out)
    cards = []
    for name, role in (("Ann", "annotator"), ("Rev", "reviewer")):
        cards.append(tmp_path / f"{name}.json")
        export_card(identity=create_identity(tmp_path / name, name=name, role=role), out=cards[-1])
    add_members(store, cards=cards)
    forms = [wf.roster_fields(), wf.assign_fields(store), wf.adjudication_fields(store),
             wf.export_fields(store, "trl-preference"), wf.export_fields(store, "labels-long")]
    for fields in forms:
        keys = [f.label[f.label.index("&") + 1].lower() for f in fields]
        if any(f.kind in ("files", "folder", "save", "file") for f in fields):
            keys.append("b")  # Browse…
        assert len(keys) == len(set(keys)), [f.label for f in fields]
    store.close()
