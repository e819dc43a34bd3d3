"""Competence-guided routing: Dawid–Skene estimates choose which items get one more person, never an answer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from annotary.analysis.competence import posterior_of
from annotary.analysis.triage import answer_parts, competence_reason
from annotary.app import cli
from annotary.bundles.identity import create_identity
from annotary.ops.identity import make_identity
from annotary.ops.project import create_project, open_project, project_info
from annotary.ops.raters import import_rater_labels
from annotary.ops.roster import add_members, export_card
from annotary.ops.triage import answer_posterior, competence_questions, fit_estimates, load_holdings
from tests.coordinator.test_quality import write_rows

SPEC = {"project_id": "routing", "name": "Routing", "questions": [
    {"id": "better", "mode": "pairwise", "text": "Which response is better?", "scale": "tie"}]}
OTHER = {"A": "B", "B": "tie", "tie": "A"}


def truth(n: int) -> str:
    return ("A", "B", "tie", "A")[n % 4]


def answers() -> dict[str, dict[str, str]]:
    """Per person, item -> choice. Ada and Bo are always right on the 40 shared items, Cy and Eve
    often wrong; then lone answers (Ada's, Cy's, and Dee's, who shares nothing), a split, and an
    item where two weak people outvote Ada."""
    out: dict[str, dict[str, str]] = {p: {} for p in ("ada", "bo", "cy", "eve", "dee")}
    for n in range(40):
        iid = f"i{n:02}"
        out["ada"][iid] = out["bo"][iid] = truth(n)
        out["cy"][iid] = truth(n) if n % 2 else OTHER[truth(n)]
        out["eve"][iid] = truth(n) if n % 3 else OTHER[truth(n)]
    for n in range(40, 45):
        out["ada"][f"i{n}"] = truth(n)
    for n in range(45, 50):
        out["cy"][f"i{n}"] = truth(n)
    out["dee"] |= {"i50": "A", "i51": "B"}
    out["ada"]["i52"], out["bo"]["i52"] = "A", "B"
    out["ada"]["i53"], out["cy"]["i53"], out["eve"]["i53"] = "A", "B", "B"
    return out


def pairwise(choice: str) -> dict:
    return {"mode": "pairwise", "choice": choice}


def make_project(folder: Path, items: int, *, annotators: int = 3, digits: int = 2) -> Path:
    """A pairwise project of `items` items coordinated by this test's identity, with annotators in its roster."""
    me = make_identity(name="Coordinator Cho", role="coordinator", overwrite=True)
    folder.mkdir(exist_ok=True)
    spec = folder / "spec.json"
    spec.write_text(json.dumps(SPEC))
    rows = write_rows(folder / "items.jsonl", [
        {"id": f"i{n:0{digits}}", "prompt": f"Question number {n}",
         "responses": [{"id": "r1", "text": f"first answer {n}"}, {"id": "r2", "text": f"second answer {n}"}]}
        for n in range(items)])
    db = folder / "project.db"
    create_project(spec_path=spec, items_paths=[rows], out=db, identity=me)
    store = open_project(db)
    cards = []
    for i in range(annotators):
        p = create_identity(folder / f"p{i}", name=f"Person {i}", role="annotator")
        cards.append(folder / f"p{i}.card.json")
        export_card(identity=p, out=cards[-1])
    if cards:
        add_members(store, cards=cards)
    store.close()
    return db


def import_answers(db: Path, who: str, given: dict[str, tuple[str, float | None]], human: bool = True) -> None:
    """One rater's labels: item -> (choice, confidence or None)."""
    store = open_project(db)
    rows = [{"item_id": iid, "question_id": "better", "answer": pairwise(c), **({"confidence": p} if p else {})}
            for iid, (c, p) in given.items()]
    import_rater_labels(store, rater=who, path=write_rows(db.parent / f"{who}.jsonl", rows), human=human)
    store.close()


@pytest.fixture
def project(tmp_path):
    """56 items (i54, i55 unlabelled); the five people's labels imported; three annotators in the roster."""
    db = make_project(tmp_path / "routing", 56)
    for who, given in answers().items():
        import_answers(db, who, {iid: (c, None) for iid, c in given.items()})
    return db


def run(db, *args, ok=True):
    r = CliRunner().invoke(cli, ["project", "assign", str(db), "--out-dir", str(db.parent / "out"), *args])
    assert (r.exit_code == 0) == ok, r.output
    return r


def rounds(db) -> list[int]:
    store = open_project(db)
    try:
        return [r[0] for r in store.query("SELECT round FROM rounds WHERE project_id='routing'")]
    finally:
        store.close()


def test_posterior_of_a_lone_answer_by_hand():
    confusion = np.array([[[0.9, 0.1], [0.2, 0.8]]])
    assert posterior_of(confusion, np.array([0.5, 0.5]), [(0, 0)]) == pytest.approx([0.45 / 0.55, 0.1 / 0.55])
    # two ratings multiply their likelihoods
    two = np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.6, 0.4], [0.4, 0.6]]])
    got = posterior_of(two, np.array([0.7, 0.3]), [(0, 0), (1, 1)])
    a, b = 0.7 * 0.9 * 0.4, 0.3 * 0.2 * 0.6
    assert got == pytest.approx([a / (a + b), b / (a + b)])


def test_competence_reasons_by_hand():
    a, b = {"q": answer_parts(pairwise("A"))}, {"q": answer_parts(pairwise("B"))}
    kw = {"questions": ["q"], "min_posterior": 0.9}
    assert competence_reason([], None, **kw) == (True, "first person: no one has labelled it")
    assert competence_reason([a], 0.95, **kw) == (False, "settled: Dawid–Skene posterior of the answer at least 0.9")
    assert competence_reason([a], 0.6, **kw) == (True, "second person: Dawid–Skene posterior of the answer below 0.9")
    assert competence_reason([a], None, **kw) == (
        True, "second person: no Dawid–Skene estimate for the people who answered")
    # a split has no human answer to weigh: whatever the estimates say, one more person
    assert competence_reason([a, b], 0.99, **kw) == (True, "third person: two people split")
    assert competence_reason([a, b, a], 0.5, **kw) == (
        False, "held: at the most people per item (3) without agreement")
    assert competence_reason([a, b, b], 0.99, **kw)[0] is False


def test_competence_round_sends_what_the_estimates_doubt(project):
    store = open_project(project)
    info = project_info(store)
    holdings = load_holdings(store, info)
    qs = competence_questions(info)
    fits = fit_estimates(holdings, qs)
    store.close()
    assert set(fits[("better", "choice")].raters) == {"human:ada", "human:bo", "human:cy", "human:eve"}
    post = {iid: answer_posterior(fits, holdings, iid, list(holdings.people.get(iid, {})), qs)
            for iid in ("i40", "i45", "i50")}
    assert post["i40"] > 0.9 > post["i45"] and post["i50"] is None  # Ada's lone answer; Cy's; Dee's

    data = json.loads(run(project, "--competence", "--json").output)
    assert data["reasons"] == {
        "second person: Dawid–Skene posterior of the answer below 0.9": 5,
        "first person: no one has labelled it": 2,
        "second person: no Dawid–Skene estimate for the people who answered": 2,
        "third person: two people split": 1,
        "settled: Dawid–Skene posterior of the answer at least 0.9": 38,
        # i53, and the shared items where Cy and Eve are both wrong: two against two, four people already
        "held: at the most people per item (3) without agreement": 8}
    store = open_project(project)
    sent = sorted(r[0] for r in store.query("SELECT item_id FROM assignments WHERE round=1 AND kind='normal'"))
    (settings,) = store.one("SELECT settings FROM rounds WHERE round=1")
    store.close()
    assert sent == ["i45", "i46", "i47", "i48", "i49", "i50", "i51", "i52", "i54", "i55"]
    assert json.loads(settings)["competence"]["min_posterior"] == 0.9
    # every sent item is waiting for its answer: nothing qualifies, one line, exit 2, no empty round
    r = run(project, "--competence", ok=False)
    assert r.exit_code == 2 and r.stderr.startswith("error: nothing to send under competence routing: ")
    assert "10 held: waiting for an answer already assigned" in r.stderr and len(r.stderr.splitlines()) == 1
    assert rounds(project) == [1]


def test_a_higher_threshold_sends_more(project):
    data = json.loads(run(project, "--competence", "--min-posterior", "0.999", "--json").output)
    assert data["reasons"]["second person: Dawid–Skene posterior of the answer below 0.999"] == 10
    assert "settled: Dawid–Skene posterior of the answer at least 0.999" in data["reasons"]


def test_refusals_leave_no_round(project, tmp_path):
    for args, words in [(["--min-posterior", "0.8", "--overlap", "2"], "--min-posterior is for a competence round"),
                        (["--competence", "--min-posterior", "1.5"], "minimum posterior 1.5 must be above 0"),
                        (["--competence", "--triage", "x"], "choose one of --competence, --triage and --adaptive"),
                        (["--competence", "--adaptive"], "choose one of --competence, --triage and --adaptive")]:
        r = run(project, *args, ok=False)
        assert r.exit_code == 2 and words in r.stderr and len(r.stderr.splitlines()) == 1
    assert rounds(project) == []
    # no estimates: lone answers only
    db = make_project(tmp_path / "lone", 6, annotators=1)
    import_answers(db, "ada", {f"i{n:02}": ("A", None) for n in range(6)})
    r = run(db, "--competence", ok=False)
    assert r.exit_code == 2 and "no Dawid–Skene estimates yet" in r.stderr
    store = open_project(db)
    assert store.query("SELECT count(*) FROM rounds")[0][0] == 0
    store.close()


def test_an_export_after_routing_keeps_the_human_majority(project, tmp_path):
    store = open_project(project)
    info = project_info(store)
    holdings = load_holdings(store, info)
    qs = competence_questions(info)
    fit = fit_estimates(holdings, qs)[("better", "choice")]
    store.close()
    # on i53 the estimates side with Ada; the two others' majority is B
    given = [(fit.raters[f"human:{p}"], fit.categories[c]) for p, c in (("ada", "A"), ("cy", "B"), ("eve", "B"))]
    post = posterior_of(fit.confusion, fit.prior, given)
    assert post[fit.categories["A"]] > post[fit.categories["B"]]
    run(project, "--competence")
    out = tmp_path / "prefs"
    r = CliRunner().invoke(cli, ["dataset", "export", str(project), "--format", "trl-preference", "--out", str(out)])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    i53 = [row for row in rows if row["prompt"] == "Question number 53"]
    assert [row["chosen"] for row in i53] == ["second answer 53"]  # B, the people's majority
    card = (out / "README.md").read_text()
    assert "Dawid–Skene" in card and "round 1" in card and "advisory" in card
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["competence_rounds"] == [{"round": 1, "min_posterior": 0.9}]
