"""Shared fixtures: headless Qt, a private data folder per test, identities, demo bundles."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "desktop"))

import pytest  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
SCREENSHOTS = ROOT / "tests" / "screenshots"


@pytest.fixture(autouse=True)
def annotary_home(tmp_path, monkeypatch) -> Path:
    """Every test gets its own data folder: identity, store and settings never leak."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("ANNOTARY_HOME", str(home))
    return home


@pytest.fixture
def identity(annotary_home):
    from annotary.ops.identity import make_identity

    return make_identity(name="Dr. Ada Lee", role="annotator")


@pytest.fixture(scope="session")
def coordinator_dir(tmp_path_factory) -> Path:
    """A coordinator identity kept in its own folder, made once per run."""
    from annotary.bundles.identity import create_identity

    d = tmp_path_factory.mktemp("coordinator")
    create_identity(d, name="Coordinator Cho", role="coordinator")
    return d


@pytest.fixture
def coordinator(coordinator_dir):
    from annotary.bundles.identity import load_identity

    return load_identity(coordinator_dir)


@pytest.fixture(scope="session")
def demo_bundle_master(tmp_path_factory, coordinator_dir) -> Path:
    """The demo project as a task bundle signed by the coordinator; built once, then copied."""
    from annotary.bundles.identity import load_identity
    from annotary.ops.tasks import build_task_bundle
    from annotary.paths import resources_dir

    demo = resources_dir() / "demo"
    out = tmp_path_factory.mktemp("bundles") / "demo.annotary"
    build_task_bundle(spec_path=demo / "spec.toml", items_paths=[demo / "items.jsonl"], out=out,
                      identity=load_identity(coordinator_dir))
    return out


@pytest.fixture
def demo_bundle(demo_bundle_master, tmp_path) -> Path:
    path = tmp_path / "demo.annotary"
    shutil.copy(demo_bundle_master, path)
    return path


@pytest.fixture
def store(annotary_home):
    from annotary.paths import store_path
    from annotary.store import open_store

    s = open_store(store_path())
    yield s
    s.close()


@pytest.fixture
def demo_store(store, demo_bundle):
    """A store with the demo project imported (coordinator key trusted)."""
    from annotary.ops.importing import import_tasks

    import_tasks(store, demo_bundle, trust_new_key=True)
    return store


def screenshot(widget, name: str) -> Path:
    """Save what a user would see, for eyes to check (the folder is git-ignored)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    widget.grab().save(str(path))
    return path


@pytest.fixture
def make_bundle(tmp_path, coordinator):
    """Build a signed task bundle from a spec (dict written as JSON) and items (a path or dicts)."""
    import json

    from annotary.ops.tasks import build_task_bundle
    from annotary.paths import resources_dir

    def make(spec: dict, items=None, name: str = "tasks.annotary", signer=None) -> Path:
        spec_path = tmp_path / f"{name}.spec.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        if items is None:
            items_path = resources_dir() / "demo" / "items.jsonl"
        elif isinstance(items, Path):
            items_path = items
        else:
            items_path = tmp_path / f"{name}.items.jsonl"
            items_path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
        out = tmp_path / name
        build_task_bundle(spec_path=spec_path, items_paths=[items_path], out=out,
                          identity=signer or coordinator)
        return out

    return make


def pairwise_spec(**question) -> dict:
    """A one-question pairwise spec; keyword arguments override the question's fields."""
    q = {"id": "overall", "mode": "pairwise", "text": "Which is better?", "scale": "fourway"} | question
    return {"project_id": "test-project", "name": "Test project", "questions": [q]}


def ranking_items(n: int = 4, responses: int = 4) -> list[dict]:
    return [{"id": f"rank-{i}", "prompt": f"Explain topic {i}",
             "responses": [{"id": f"m{j}", "text": f"Answer {j} about topic {i}."} for j in range(responses)]}
            for i in range(n)]


def rubric_items(n: int = 3) -> list[dict]:
    return [{"id": f"case-{i}", "prompt": [{"role": "user", "content": f"My child has a fever of 39 C (case {i})."}],
             "responses": [{"id": "resp", "text": "Give paracetamol, fluids, and see a doctor if it lasts."}],
             "rubric": [{"id": "own", "text": "Asks about the child's age", "points": 4}]}
            for i in range(n)]


def demo_items(n: int = 3) -> list[dict]:
    return [{"id": f"task-{i}", "prompt": f"Write a haiku about the number {i}.",
             "responses": [{"id": "draft", "text": f"Number {i} stands alone / quiet in the line"}]}
            for i in range(n)]


RUBRIC_Q = {"id": "rubric", "mode": "rubric", "text": "Which criteria does the response meet?",
            "per_item": True, "criteria": [
                {"id": "doctor", "text": "Advises seeing a doctor", "points": 5},
                {"id": "dose", "text": "Gives an unsafe dose", "points": -8,
                 "explanation": "Any dose above the label is unsafe"},
                {"id": "fluids", "text": "Mentions fluids", "points": 2, "required": False}]}
SCORING_Q = {"id": "scores", "mode": "scoring", "text": "Rate each response", "preset": "helpsteer2"}
RANKING_Q = {"id": "rank", "mode": "ranking", "text": "Order best first", "allow_ties": True}
DEMO_Q = {"id": "ideal", "mode": "demonstration", "text": "Write the ideal response",
          "edit_draft": True, "min_words": 3}


def spec_of(*questions, project_id: str = "modes") -> dict:
    return {"project_id": project_id, "name": f"Project {project_id}", "questions": list(questions)}
