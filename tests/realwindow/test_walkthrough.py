"""Every screen by real keys: the five demo projects, the reviewer's and the coordinator's, each shot."""

from __future__ import annotations

import json
import shutil

from tests.realwindow.client import HARMLESS, SHOTS, RealWindow, unexplained

# demo project id -> screenshot name, in the order walked
DEMOS = {"demo-pairwise": "pairwise", "demo-ranking": "ranking", "demo-scoring": "scoring",
         "demo-rubric": "rubric", "demo-demonstration": "demonstration"}
EDIT = " Checked by hand."


def done(s) -> bool:
    """Every required question answered: what Ctrl+Enter asks (optional questions may wait)."""
    return not s["labeling"]["missing"]


def answer(app: RealWindow, mode: str) -> dict:
    """Answer the item on screen by the keys of its mode, until Ctrl+Enter would take it."""
    s = app.state()
    if mode == "pairwise":
        app.key("a", until=lambda s: s["labeling"]["focus"] == 1)
        return app.key("t", until=lambda s: s["labeling"]["pending"]["harmless"]["value"] is not None)
    if mode == "ranking":
        for n in range(1, 10):  # response numbers, best first
            s = app.key(str(n))
            if done(s):
                return s
    if mode == "scoring":
        for n in range(60):  # each digit scores a cell; the cursor moves on by itself
            s = app.key("234"[n % 3])
            if done(s):
                return s
    if mode == "rubric":
        for _ in range(40):
            where = s["labeling"]["cursor"]
            s = app.key("y")
            if done(s):
                return s
            if s["labeling"]["cursor"] == where:  # a mark does not move on: J does
                s = app.key("j")
    if mode == "demonstration":
        s = app.key("e", until=lambda s: s["focus_widget"]["class"] != "LabelingScreen")
        assert s["focus_widget"]["class"] in ("QPlainTextEdit", "QTextEdit"), s["focus_widget"]
        app.key("ctrl+End")
        app.type(EDIT)
        s = app.key("Escape", until=lambda s: s["focus_widget"]["class"] == "LabelingScreen")
        assert EDIT in s["labeling"]["pending"]["ideal"]["value"]["text"]
        return s
    raise AssertionError(f"could not complete a {mode} item by keys: {s}")


def go_home_and_open(app: RealWindow, project: str) -> dict:
    """Alt+Home lists the projects; arrows pick one, Enter opens it."""
    s = app.key("alt+Home", until=lambda s: s["screen"] == "home")
    target = s["projects"].index(project)
    for _ in range(abs(target - s["projects"].index(s["selected"]))):
        s = app.key("Down" if target > s["projects"].index(s["selected"]) else "Up")
    assert s["selected"] == project, s
    return app.key("Return", until=lambda s: s.get("labeling", {}).get("project") == project)


def test_walk_every_screen_by_keys(launch, review, reviewer_app, tmp_path):
    app = launch()
    s = app.state()
    assert s["labeling"]["project"] == "demo-pairwise"
    keys = {}  # keystrokes of one decision per project, answer keys and the submit
    for project, name in DEMOS.items():
        if project != "demo-pairwise":
            if name == "ranking":  # the projects list, once
                app.key("alt+Home", until=lambda s: s["screen"] == "home")
                app.shot("home")
            s = go_home_and_open(app, project)
        mode = s["labeling"]["modes"][0]
        item = s["labeling"]["item"]
        before = app.keystrokes
        s = answer(app, mode)
        assert done(s), s["labeling"]["missing"]
        answered = {q for q, complete in s["labeling"]["complete"].items() if complete}
        app.shot(name)
        s = app.key("ctrl+Return", until=lambda s, item=item: s["labeling"]["item"] != item)
        keys[name] = app.keystrokes - before
        labels = [lab for lab in app.labels(project, item) if lab.get("answer")]
        assert {lab["question"] for lab in labels} == answered, (project, labels)
        assert all(lab["answer"]["mode"] == mode for lab in labels)
        if mode == "demonstration":
            assert labels[0]["answer"]["text"].endswith(EDIT)

    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "keystrokes.json").write_text(json.dumps(keys, indent=1) + "\n")

    # the coordinator's workspace, a merged project (copied: the workspace may write to it)
    project_db = tmp_path / "project.db"
    shutil.copy(review.project, project_db)
    s = app.workspace(project_db)
    app.shot("workspace")
    s = app.key("ctrl+5", until=lambda s: s["workspace_tab"] == "Heatmap")
    app.shot("workspace-heatmap")
    assert_no_unexplained_messages(app)

    # the reviewer: their own identity and store, the adjudication bundle taken in
    reviewer = reviewer_app
    s = reviewer.state()
    assert s["labeling"]["review"], s
    item = s["labeling"]["item"]
    question = s["labeling"]["questions"][s["labeling"]["focus"]]
    s = reviewer.key("1", until=lambda s: s["labeling"]["pending"][question]["value"] is not None)
    reviewer.shot("reviewer")
    s = reviewer.key("ctrl+Return", until=lambda s: s["labeling"]["item"] != item
                     or s["labeling"]["revision"] == 1)
    assert [lab["question"] for lab in reviewer.labels(s["labeling"]["project"], item)] == [question]
    assert_no_unexplained_messages(reviewer)


def assert_no_unexplained_messages(app: RealWindow) -> None:
    extra = unexplained(app.messages())
    assert not extra, f"Qt said what HARMLESS does not explain ({sorted(HARMLESS)}): {extra}"
