"""Refused exports say why in one line and leave nothing behind; a full disk leaves no partial export."""

from __future__ import annotations

import errno
import json
import sys

import pytest
from click.testing import CliRunner

from annotary.app import cli
from annotary.core.errors import AnnotaryError
from annotary.ops import export as export_ops
from annotary.ops.export import export_dataset
from tests.conftest import spec_of
from tests.exports.conftest import OVERALL_Q, TIE, build


def refused(where, pattern, call):
    before = sorted(p.name for p in where.iterdir())
    with pytest.raises(AnnotaryError, match=pattern) as err:
        call()
    assert "\n" not in str(err.value)
    assert sorted(p.name for p in where.iterdir()) == before  # no folder, no temporary left
    return err.value


def test_a_format_that_does_not_fit_the_question(pairs, care, where):
    refused(where, "format ranking-pairs does not fit question 'overall': it is a pairwise question",
            lambda: export_dataset(pairs, out=where / "x", fmt="ranking-pairs", question="overall"))
    refused(where, "format attributes is made from scoring questions; this project has none",
            lambda: export_dataset(care, out=where / "x", fmt="attributes"))
    refused(where, r"several questions fit \(overall, strength\); choose one with --question",
            lambda: export_dataset(pairs, out=where / "x", fmt="trl-preference"))
    refused(where, "no question 'nope' in the spec",
            lambda: export_dataset(pairs, out=where / "x", fmt="trl-kto", question="nope"))
    refused(where, "unknown format 'dpo'", lambda: export_dataset(pairs, out=where / "x", fmt="dpo"))
    refused(where, "unknown provenance 'expert'", lambda: export_dataset(
        pairs, out=where / "x", fmt="trl-kto", question="overall", min_provenance="expert"))


def test_an_empty_selection(pairs, coordinator, where):
    refused(where, "nothing to export: every final answer of question 'strength' is left out by the filters",
            lambda: export_dataset(pairs, out=where / "x", fmt="trl-preference", question="strength",
                                   min_provenance="adjudicated"))
    other = {**OVERALL_Q, "id": "other"}
    items = [{"id": "t0", "prompt": "Q?", "responses": [{"id": "a", "text": "x"}, {"id": "b", "text": "y"}]}]
    store = build(where / "tiny", spec_of(OVERALL_Q, other, project_id="tiny"), items,
                  {"h1": [("t0", "overall", TIE)], "h2": [("t0", "overall", TIE)]}, coordinator)
    # an answer is there, but a tie gives no preference row
    refused(where, r"nothing to export: every answer was left out \(1 tie\)",
            lambda: export_dataset(store, out=where / "x", fmt="trl-preference", question="overall"))
    refused(where, "question 'other' has no final answers yet",
            lambda: export_dataset(store, out=where / "x", fmt="sft", question="other"))
    store.close()


def test_an_existing_output_needs_force(pairs, where):
    out = where / "prefs"
    export_dataset(pairs, out=out, fmt="trl-preference", question="overall")
    first = (out / "manifest.json").read_bytes()
    refused(where, "already exists \\(pass --force to replace it\\)",
            lambda: export_dataset(pairs, out=out, fmt="sft", question="overall"))
    assert (out / "manifest.json").read_bytes() == first
    export_dataset(pairs, out=out, fmt="sft", question="overall", force=True)
    assert json.loads((out / "manifest.json").read_text())["export"]["format"] == "sft"
    assert sorted(p.name for p in where.iterdir()) == ["prefs"]  # the old export is gone
    (where / "file.jsonl").write_text("mine")
    export_dataset(pairs, out=where / "file.jsonl", fmt="sft", question="overall", force=True)
    assert (where / "file.jsonl" / "train.jsonl").is_file()


def test_force_never_replaces_a_folder_that_is_not_an_export(pairs, where):
    home = where / "mine"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work")
    refused(where, "a folder that is not an Annotary export; refusing to replace it",
            lambda: export_dataset(pairs, out=home, fmt="sft", question="overall", force=True))
    assert (home / "thesis.tex").read_text() == "years of work"


@pytest.mark.parametrize("fail_at", [0, 1])  # the data file's first write, or the next file's
@pytest.mark.parametrize("parquet", [False, True])
def test_a_full_disk_leaves_no_partial_export(pairs, where, monkeypatch, parquet, fail_at):
    out = where / "prefs"
    export_dataset(pairs, out=out, fmt="trl-kto", question="overall")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    written = []

    def full(f, data):
        if len(written) >= fail_at:
            f.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(len(data))
        f.write(data)

    monkeypatch.setattr(export_ops, "_put", full)
    for target, force in ((where / "new", False), (out, True)):
        err = refused(where, "cannot write the export \\(No space left on device\\); nothing was written",
                      lambda t=target, f=force: export_dataset(pairs, out=t, fmt="trl-kto", question="overall",
                                                                parquet=parquet, force=f))
        assert str(err).startswith(str(target))
        written.clear()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the earlier export is untouched


def test_parquet_without_pyarrow(pairs, where, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    refused(where, "--parquet needs pyarrow: pip install 'annotary\\[parquet\\]'",
            lambda: export_dataset(pairs, out=where / "x", fmt="sft", question="overall", parquet=True))


def test_missing_folders_are_made_and_unmade_on_failure(pairs, where, monkeypatch):
    export_dataset(pairs, out=where / "a" / "b" / "sft", fmt="sft", question="overall")
    assert (where / "a" / "b" / "sft" / "train.jsonl").is_file()
    (where / "file").write_text("not a folder")
    refused(where, "file: not a folder",
            lambda: export_dataset(pairs, out=where / "file" / "x", fmt="sft", question="overall"))

    def full(f, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export_ops, "_put", full)
    refused(where, "No space left on device",
            lambda: export_dataset(pairs, out=where / "c" / "d" / "sft", fmt="sft", question="overall"))


# --- the command ----------------------------------------------------------------------------------

def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_cli_export_and_refusals(pairs_master, where):
    db = pairs_master.path
    out = where / "prefs"
    r = run("dataset", "export", db, "--format", "trl-preference", "--question", "overall", "--out", out,
            "--min-provenance", "majority", "--ties", "keep", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["rows"] == 6 and data["by_provenance"]["majority"] == 1 and data["out"] == str(out)
    r = run("dataset", "export", db, "--format", "sft", "--question", "overall", "--out", where / "sft",
            "--parquet", "--exclude-flagged", "--min-agreement", "0.5")
    assert r.exit_code == 0 and r.output.startswith(f"wrote {where / 'sft'}: 4 sft rows"), r.output
    for args, text in [
        (("--format", "sft", "--question", "overall", "--out", out), "already exists (pass --force"),
        (("--format", "rubric", "--out", where / "r"), "format rubric is made from rubric questions"),
        (("--format", "dpo", "--out", where / "r"), "Invalid value for '--format'"),
        (("--format", "sft", "--question", "overall", "--min-agreement", "2", "--out", where / "r"),
         "Invalid value for '--min-agreement'"),
    ]:
        r = run("dataset", "export", db, *args)
        assert r.exit_code == 2, r.output
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], r.stderr
    assert "Example:" in run("dataset", "export", "--help").output
