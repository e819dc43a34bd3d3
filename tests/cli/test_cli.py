"""The `annotary` command line end to end: identity, tasks build, import, projects, export, verify."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import stat
import subprocess
import zipfile
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from annotary.app import cli
from annotary.flows.labeling import LabelingFlow
from annotary.ops import queries
from tests.conftest import FIXTURES

PAIRWISE_TOML = """\
project_id = "{pid}"
name = "CLI {pid}"

[[questions]]
id = "helpful"
mode = "pairwise"
text = "Which response is more helpful?"
scale = "fourway"
"""

DEMONSTRATION_TOML = """\
project_id = "{pid}"
name = "CLI {pid}"

[[questions]]
id = "helpful"
mode = "demonstration"
text = "Write the ideal answer."
"""

SHAPES = [
    # (fixture file, shape auto-detection must name, items, spec)
    ("item/items.jsonl", "item", 4, DEMONSTRATION_TOML),
    ("trl/preference-standard.jsonl", "trl-preference", 3, PAIRWISE_TOML),
    ("trl/preference-conversational.jsonl", "trl-preference", 3, PAIRWISE_TOML),
    ("trl/preference-implicit.jsonl", "trl-preference", 2, PAIRWISE_TOML),
    ("hh-rlhf/harmless-base-test.sample.jsonl", "hh-rlhf", 5, PAIRWISE_TOML),
    ("pandalm/testset-v1.sample.json", "pandalm", 10, PAIRWISE_TOML),
    ("llmbar/natural.sample.json", "llmbar", 10, PAIRWISE_TOML),
]


def run(*args: str, ok: bool = True):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, (args, result.output)
    return result


def user_error(*args: str) -> str:
    """The command fails as a user error: exit 2, one stderr line "error: ...", nothing on stdout."""
    result = run(*args, ok=False)
    assert result.exit_code == 2, (args, result.output)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.fixture
def me(annotary_home):
    run("identity", "create", "--name", "Dr. Ada Lee", "--role", "annotator")
    return json.loads(run("identity", "show", "--json").stdout)


def write_spec(folder: Path, template: str, pid: str) -> Path:
    path = folder / f"{pid}.toml"
    path.write_text(template.format(pid=pid), encoding="utf-8")
    return path


# -- identity ---------------------------------------------------------------------------------


def test_identity_create_and_show(annotary_home):
    out = run("identity", "create", "--name", "Dr. Ada Lee", "--role", "reviewer").stdout
    assert "created identity Dr. Ada Lee (reviewer)" in out

    key = annotary_home / "identity.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in key.read_bytes()

    data = json.loads(run("identity", "show", "--json").stdout)
    assert data["name"] == "Dr. Ada Lee" and data["role"] == "reviewer"
    assert re.fullmatch(r"[0-9a-f]{16}", data["key_id"])
    assert re.fullmatch(r"([0-9A-F]{4} ){7}[0-9A-F]{4}", data["fingerprint"])
    assert f"key id {data['key_id']}" in out and data["fingerprint"] in out

    text = run("identity", "show").stdout
    assert "Dr. Ada Lee (reviewer)" in text and data["key_id"] in text and data["fingerprint"] in text

    pem = run("identity", "show", "--pem").stdout
    assert pem.startswith("-----BEGIN PUBLIC KEY-----\n") and pem.endswith("-----END PUBLIC KEY-----\n")
    assert "PRIVATE" not in pem
    # the PEM holds the same key as the JSON
    from cryptography.hazmat.primitives import serialization

    raw = serialization.load_pem_public_key(pem.encode()).public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert hashlib.sha256(raw).hexdigest()[:16] == data["key_id"]


def test_identity_is_made_once(annotary_home, me):
    message = user_error("identity", "create", "--name", "Someone Else")
    assert "already exists" in message
    assert json.loads(run("identity", "show", "--json").stdout)["key_id"] == me["key_id"]
    run("identity", "create", "--name", "Someone Else", "--force")
    assert json.loads(run("identity", "show", "--json").stdout)["key_id"] != me["key_id"]


def test_identity_show_without_identity(annotary_home):
    assert "no identity yet" in user_error("identity", "show")
    assert "no identity yet" in user_error("identity", "show", "--pem")


def test_identity_refuses_a_bad_role(annotary_home):
    result = run("identity", "create", "--name", "X", "--role", "admin", ok=False)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert not (annotary_home / "identity.key").exists()


# -- tasks build ------------------------------------------------------------------------------


@pytest.mark.parametrize(("source", "shape", "count", "template"), SHAPES,
                         ids=[s[0].split("/")[1] for s in SHAPES])
def test_tasks_build_each_shape_then_import(me, tmp_path, source, shape, count, template, store):
    pid = "cli-" + re.sub(r"[^a-z0-9]+", "-", Path(source).stem.lower()).strip("-")
    spec = write_spec(tmp_path, template, pid)
    out = tmp_path / f"{pid}.annotary"
    text = run("tasks", "build", spec, FIXTURES / source, "--out", out).stdout
    # auto-detection says which shape it chose
    assert f"wrote {out.name}: {count} items ({Path(source).name}: {shape})" in text

    report = json.loads(run("verify", out, "--json").stdout)
    assert report["kind"] == "tasks" and report["project_id"] == pid
    assert report["counts"] == {"items": count} and report["signer_key_id"] == me["key_id"]

    imported = json.loads(run("import", out, "--trust", "--json").stdout)
    assert imported["project_id"] == pid and imported["added"] == count
    assert len(queries.item_ids(store, pid)) == count


def test_tasks_build_json_and_gzip(me, tmp_path):
    spec = write_spec(tmp_path, PAIRWISE_TOML, "cli-gz")
    gz = tmp_path / "hh.jsonl.gz"
    gz.write_bytes(gzip.compress((FIXTURES / "hh-rlhf/harmless-base-test.sample.jsonl").read_bytes()))
    out = tmp_path / "gz.annotary"
    data = json.loads(run("tasks", "build", spec, gz, "--out", out, "--json").stdout)
    assert data["items"] == 5 and Path(data["out"]) == out


def test_tasks_build_refuses_an_item_the_spec_cannot_ask(me, tmp_path):
    # q-4 of the native fixture has no responses: a pairwise question cannot be asked of it
    spec = write_spec(tmp_path, PAIRWISE_TOML, "cli-refused")
    out = tmp_path / "refused.annotary"
    message = user_error("tasks", "build", spec, FIXTURES / "item/items.jsonl", "--out", out)
    assert "'q-4'" in message and "compares 2 responses, item has 0" in message
    assert not out.exists()


def test_tasks_build_needs_an_identity(annotary_home, tmp_path):
    spec = write_spec(tmp_path, PAIRWISE_TOML, "cli-noid")
    message = user_error("tasks", "build", spec, FIXTURES / "llmbar/natural.sample.json",
                         "--out", tmp_path / "x.annotary")
    assert "no identity yet" in message


# -- import -----------------------------------------------------------------------------------


def test_import_without_trust_is_refused_off_a_terminal(me, demo_bundle, coordinator, store):
    message = user_error("import", demo_bundle)
    assert coordinator.fingerprint in message and "--trust" in message
    assert queries.projects(store) == []


def test_import_with_trust_then_again(me, demo_bundle, store):
    first = run("import", demo_bundle, "--trust").stdout
    assert "32 new items" in first and "Demo" in first
    second = run("import", demo_bundle, "--trust")
    assert "already imported; nothing changed" in second.stdout
    assert len(queries.bundle_log(store, "demo-pairwise")) == 1
    assert len(queries.item_ids(store, "demo-pairwise")) == 32
    # once pinned, --trust is no longer needed for the same coordinator
    third = run("import", demo_bundle)
    assert "already imported" in third.stdout


def test_import_json(me, demo_bundle):
    data = json.loads(run("import", demo_bundle, "--trust", "--json").stdout)
    assert data["project_id"] == "demo-pairwise"
    assert (data["items"], data["added"], data["updated"]) == (32, 32, 0)


# -- projects, export, verify -----------------------------------------------------------------


def label(store, annotator: str, n: int) -> list[str]:
    flow = LabelingFlow(store, "demo-pairwise", annotator)
    flow.start()
    done = []
    for _ in range(n):
        done.append(flow.current.item.id)
        flow.choose("A")
        flow.choose("tie")
        assert flow.submit().ok
    return done


def test_projects(me, demo_bundle, store):
    assert "no projects yet" in run("projects").stdout
    assert json.loads(run("projects", "--json").stdout) == []
    run("import", demo_bundle, "--trust")
    label(store, me["key_id"], 2)
    data = json.loads(run("projects", "--json").stdout)
    assert data == [{"id": "demo-pairwise", "name": "Demo — which answer is better?", "done": 2,
                     "total": 32, "round": 1, "coordinator": "Coordinator Cho"}]
    text = run("projects").stdout
    assert "demo-pairwise" in text and "2/32" in text


@pytest.fixture
def exported(me, demo_bundle, store, tmp_path):
    run("import", demo_bundle, "--trust")
    items = label(store, me["key_id"], 3)
    out = tmp_path / "results.annotary"
    data = json.loads(run("results", "export", "--project", "demo-pairwise", "--out", out,
                          "--json").stdout)
    assert data == {"out": str(out), "labels": 6, "items": 3}
    return out, items


def test_results_export_and_verify(me, exported):
    out, items = exported
    result = run("verify", out, "--json")
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["kind"] == "results" and report["project_id"] == "demo-pairwise"
    assert report["signer_key_id"] == me["key_id"] and report["fingerprint"] == me["fingerprint"]
    assert report["signer_name"] == "Dr. Ada Lee" and report["signer_role"] == "annotator"
    assert report["counts"] == {"labels": 6} and report["format_version"] == 1
    assert report["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert {"bundle_id", "round", "created_at", "members", "project_name", "file"} <= set(report)

    text = run("verify", out).stdout
    assert text.startswith(f"OK {out.name}: results bundle of project 'demo-pairwise'")
    assert me["fingerprint"] in text

    with zipfile.ZipFile(out) as zf:
        labels = [json.loads(line) for line in zf.read("results.jsonl").splitlines()]
    assert sorted({lab["item_id"] for lab in labels}) == sorted(items)
    assert {lab["annotator"] for lab in labels} == {me["key_id"]}


def test_results_export_text_and_unknown_project(me, exported, tmp_path):
    out = tmp_path / "again.annotary"
    text = run("results", "export", "--project", "demo-pairwise", "--out", out).stdout
    assert f"wrote {out.name}: 6 labels of 3 items" in text
    assert "no project 'nope'" in user_error("results", "export", "--project", "nope",
                                             "--out", tmp_path / "n.annotary")
    assert not (tmp_path / "n.annotary").exists()


def test_verify_refuses_a_tampered_results_bundle(exported, tmp_path):
    out, _ = exported
    tampered = tmp_path / "tampered.annotary"
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "results.jsonl":
                data = data.replace(b'"choice":"tie"', b'"choice":"A"', 1)
                assert data != src.read(info)
            dst.writestr(info, data)
    assert "does not match its hash" in user_error("verify", tampered)
    assert "does not match its hash" in user_error("verify", tampered, "--json")


# -- help -------------------------------------------------------------------------------------


def command_paths(group: click.Group, prefix=()):
    """Every command as click finds it (loading the modules of the lazily listed ones)."""
    yield prefix
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            yield from command_paths(command, (*prefix, name))
        else:
            yield (*prefix, name)


HELP_PATHS = list(command_paths(cli))


def test_every_command_is_listed():
    assert {" ".join(p) for p in HELP_PATHS} >= {
        "", "identity", "identity create", "identity show", "tasks", "tasks build", "import",
        "results", "results export", "verify", "projects", "open", "demo"}


@pytest.mark.parametrize("path", HELP_PATHS, ids=[" ".join(p) or "annotary" for p in HELP_PATHS])
def test_help_has_an_example(path):
    text = run(*path, "--help").stdout
    assert "Example" in text
    # the example is a real command line of this program
    assert re.search(r"^\s+annotary " + re.escape(" ".join(path)), text, re.M), text


# -- stock OpenSSL can check what the CLI signed ----------------------------------------------


def openssl3() -> str | None:
    exe = shutil.which("openssl")
    if exe is None:
        return None
    version = subprocess.run([exe, "version"], capture_output=True, text=True).stdout
    return exe if re.match(r"OpenSSL 3\.", version) else None


@pytest.mark.skipif(openssl3() is None, reason="needs the openssl 3 command (pkeyutl -rawin)")
def test_openssl_verifies_an_exported_results_bundle(exported, tmp_path):
    out, _ = exported
    work = tmp_path / "check"
    work.mkdir()
    with zipfile.ZipFile(out) as zf:
        zf.extract("manifest.json", work)
        zf.extract("manifest.sig", work)
    (work / "signer.pem").write_text(run("identity", "show", "--pem").stdout)

    def openssl_verify():
        return subprocess.run(
            [openssl3(), "pkeyutl", "-verify", "-pubin", "-inkey", "signer.pem", "-rawin",
             "-in", "manifest.json", "-sigfile", "manifest.sig"],
            cwd=work, capture_output=True, text=True)

    ok = openssl_verify()
    assert ok.returncode == 0, ok.stderr
    assert "Signature Verified Successfully" in ok.stdout

    # and the manifest's member hashes are those of the files, as `sha256sum` would say
    manifest = json.loads((work / "manifest.json").read_text())
    with zipfile.ZipFile(out) as zf:
        for member in manifest["members"]:
            assert hashlib.sha256(zf.read(member["name"])).hexdigest() == member["sha256"]

    # a changed manifest no longer verifies
    (work / "manifest.json").write_bytes((work / "manifest.json").read_bytes().replace(b'"round": 1', b'"round": 2'))
    bad = openssl_verify()
    assert bad.returncode != 0 and "Signature Verified Successfully" not in bad.stdout
