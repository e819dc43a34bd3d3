"""The README's coordinator sequence runs as written, command by command, with the annotators'
and the reviewer's work done in between (as they would, on their own machines)."""

from __future__ import annotations

import re
import shlex
import shutil

from click.testing import CliRunner

from annotary.app import cli
from annotary.bundles.identity import create_identity
from annotary.ops.importing import import_tasks
from annotary.ops.results import export_results
from annotary.ops.roster import export_card
from annotary.store import open_store
from tests.adjudication.test_adjudication import decide_all
from tests.conftest import ROOT
from tests.coordinator.conftest import DEMO, PID, gold_items, label_everything


def readme_sequence() -> list[str]:
    """The commands of the README's coordinator block, comments and [optional] parts left out."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Coordinators and reviewers", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    lines = [re.sub(r"\s+#.*$", "", line) for line in block.splitlines()]
    return [re.sub(r"\s*\[[^\]]*\]", "", line).strip() for line in lines if line.startswith("annotary ")]


def test_the_readme_coordinator_sequence_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def run(line: str):
        args = shlex.split(line)[1:]
        if "round1-results/*.annotary" in args:  # the shell's glob
            at = args.index("round1-results/*.annotary")
            args[at:at + 1] = sorted(str(p) for p in (tmp_path / "round1-results").glob("*.annotary"))
        result = runner.invoke(cli, args, catch_exceptions=False)
        assert result.exit_code == 0, f"{line}\n{result.output}"
        return result.output

    run("annotary identity create --name 'Coordinator Cho' --role coordinator")
    people = {name: create_identity(tmp_path / name, name=name.title(), role=role)
              for name, role in (("ada", "annotator"), ("bo", "annotator"), ("rae", "reviewer"))}
    for name, ident in people.items():
        export_card(identity=ident, out=tmp_path / f"{name}.card.json")
    shutil.copy(DEMO / "spec.toml", tmp_path / "spec.toml")
    # the data holds a few gold items (kind "gold", with the expert's answer) for --gold-fraction
    gold = gold_items(tmp_path / "gold.jsonl", 20).read_text()
    (tmp_path / "data.jsonl").write_text((DEMO / "items.jsonl").read_text() + gold)

    commands = readme_sequence()
    assert any(c.startswith("annotary adjudication create") for c in commands)
    for line in commands:
        if line.startswith("annotary merge project.db round1-results/"):
            (tmp_path / "round1-results").mkdir()
            for who, name in enumerate(("ada", "bo")):
                store = open_store(tmp_path / f"{name}.db")
                bundle = next((tmp_path / "round1").glob(f"*-{name}-*.annotary"))
                import_tasks(store, bundle, trust_new_key=True)
                label_everything(store, people[name], who)
                export_results(store, project_id=PID, identity=people[name],
                               out=tmp_path / "round1-results" / f"{name}.annotary")
                store.close()
        if line.startswith("annotary merge project.db rae-decisions"):
            store = open_store(tmp_path / "rae.db")
            import_tasks(store, tmp_path / "review.annotary", trust_new_key=True)
            assert decide_all(store, people["rae"]) > 0
            export_results(store, project_id=PID, identity=people["rae"], out=tmp_path / "rae-decisions.annotary")
            store.close()
        out = run(line)
        if line.startswith("annotary adjudication create"):
            assert "conflicts still undecided" in out
    card = (tmp_path / "prefs" / "README.md").read_text()
    assert "| adjudicated |" in card and "nobody has decided yet" not in card
