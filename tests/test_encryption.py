"""Confidential bundles from the command line: encrypted to their recipients (age), opened by them
alone, interoperable with the `age` command, and keys that may be protected by a passphrase."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import zipfile
from pathlib import Path

import pyrage
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotary.app import cli
from annotary.bundles.bundle import open_bundle
from annotary.bundles.identity import KEY_FILE, load_identity
from annotary.bundles.sealed import AGE_HEADER, Recipient, Unseal, is_sealed
from annotary.core.errors import BundleError
from annotary.ops import identity as identity_ops
from annotary.paths import resources_dir

DEMO = resources_dir() / "demo"
PID = "demo-pairwise"
AGE = shutil.which("age")
needs_age = pytest.mark.skipif(AGE is None, reason="the `age` command is not installed (apt-get install age)")


@pytest.fixture(autouse=True)
def fresh_session():
    identity_ops.forget_passphrase()
    yield
    identity_ops.forget_passphrase()


class People:
    """Three people, each with their own data folder (identity and store)."""

    def __init__(self, root: Path):
        self.root = root
        self.homes = {}
        for who, role in (("coord", "coordinator"), ("ada", "annotator"), ("eve", "annotator")):
            home = root / who
            home.mkdir()
            self.homes[who] = home
            self.ok(who, "identity", "create", "--name", who.title(), "--role", role)
            self.ok(who, "identity", "export", "--out", root / f"{who}.card.json")

    def run(self, who: str, *args, env: dict | None = None):
        environ = {"ANNOTARY_HOME": str(self.homes[who]), "ANNOTARY_PASSPHRASE": None,
                   "ANNOTARY_NEW_PASSPHRASE": None} | (env or {})
        identity_ops.forget_passphrase()  # each command is a process of its own
        return CliRunner().invoke(cli, [str(a) for a in args], env=environ, catch_exceptions=False)

    def ok(self, who: str, *args, env: dict | None = None) -> str:
        result = self.run(who, *args, env=env)
        assert result.exit_code == 0, (args, result.output)
        return result.stdout

    def refused(self, who: str, *args, env: dict | None = None) -> str:
        """A user error: exit 2 and one line on stderr."""
        result = self.run(who, *args, env=env)
        assert result.exit_code == 2, (args, result.output)
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        return lines[0]

    def card(self, who: str) -> Path:
        return self.root / f"{who}.card.json"

    def identity(self, who: str):
        return load_identity(self.homes[who])

    def store_dump(self, who: str) -> list[str]:
        path = self.homes[who] / "annotary.db"
        if not path.exists():
            return []
        with sqlite3.connect(path) as conn:
            return list(conn.iterdump())

    def leftovers(self, who: str) -> list[Path]:
        """Anything a decryption left in the private temporary folder."""
        tmp = self.homes[who] / "tmp"
        return list(tmp.rglob("*")) if tmp.exists() else []


@pytest.fixture
def people(tmp_path) -> People:
    return People(tmp_path)


def build(people: People, out: Path, *options) -> str:
    return people.ok("coord", "tasks", "build", DEMO / "spec.toml", DEMO / "items.jsonl", "--out", out, *options)


def is_zip(path: Path) -> bool:
    return path.read_bytes()[:4] == b"PK\x03\x04"


def test_a_task_bundle_encrypted_to_a_card_is_read_by_its_recipients_only(people, tmp_path):
    bundle = tmp_path / "round1.annotary"
    said = build(people, bundle, "--encrypt-to", people.card("ada"))
    assert "encrypted to Ada, Coord" in said
    assert bundle.read_bytes().startswith(AGE_HEADER) and is_sealed(bundle)
    assert b"demo-pairwise" not in bundle.read_bytes()  # nothing of the project readable in transit

    # the annotator and the coordinator open it; it is verified inside as any bundle
    for who in ("ada", "coord"):
        out = people.ok(who, "verify", bundle)
        assert out.startswith("OK round1.annotary: tasks bundle of project 'demo-pairwise'")
        assert "encrypted (age), opened with your key" in out
    assert "imported round1.annotary: 32 new items" in people.ok("ada", "import", bundle, "--trust")
    assert people.leftovers("ada") == []

    # someone else: one line, their store unchanged
    people.ok("eve", "projects")
    before = people.store_dump("eve")
    for command in (("import", bundle, "--trust"), ("verify", bundle)):
        line = people.refused("eve", *command)
        assert line == (f"error: round1.annotary: encrypted for someone else: your key "
                        f"{people.identity('eve').key_id} (Eve) is not one of its recipients")
    assert people.store_dump("eve") == before
    assert people.leftovers("eve") == []


def test_results_of_an_encrypted_task_bundle_go_back_encrypted_to_the_coordinator(people, tmp_path):
    tasks = tmp_path / "round1.annotary"
    build(people, tasks, "--encrypt-to", people.card("ada"))
    people.ok("ada", "import", tasks, "--trust")
    results = tmp_path / "ada.results.annotary"
    said = people.ok("ada", "results", "export", "--project", PID, "--out", results)
    assert "encrypted to Coord, Ada" in said and is_sealed(results)
    assert "results bundle" in people.ok("coord", "verify", results)
    assert "encrypted for someone else" in people.refused("eve", "verify", results)
    # asked for in plaintext: a signed zip as before
    plain = tmp_path / "ada.plain.annotary"
    people.ok("ada", "results", "export", "--project", PID, "--out", plain, "--plaintext")
    assert is_zip(plain)
    line = people.refused("ada", "results", "export", "--project", PID, "--out", plain, "--plaintext",
                          "--encrypt")
    assert "--plaintext and --encrypt-to (or --encrypt) exclude each other" in line


def test_results_of_a_plaintext_task_bundle_stay_plaintext_unless_asked(people, tmp_path):
    tasks = tmp_path / "round1.annotary"
    build(people, tasks)
    assert is_zip(tasks)
    people.ok("ada", "import", tasks, "--trust")
    plain, sealed = tmp_path / "plain.annotary", tmp_path / "sealed.annotary"
    people.ok("ada", "results", "export", "--project", PID, "--out", plain)
    assert is_zip(plain)
    people.ok("ada", "results", "export", "--project", PID, "--out", sealed, "--encrypt")
    assert is_sealed(sealed)
    assert "OK sealed.annotary" in people.ok("coord", "verify", sealed)


def confidential_spec(tmp_path: Path) -> Path:
    spec = tmp_path / "spec.toml"
    spec.write_text("confidential = true\n" + (DEMO / "spec.toml").read_text(encoding="utf-8"), encoding="utf-8")
    shutil.copy(DEMO / "guidelines.md", tmp_path / "guidelines.md")
    return spec


def test_a_confidential_spec_refuses_a_plaintext_task_bundle_unless_asked(people, tmp_path):
    spec = confidential_spec(tmp_path)
    out = tmp_path / "round1.annotary"
    line = people.refused("coord", "tasks", "build", spec, DEMO / "items.jsonl", "--out", out)
    assert line == ("error: round1.annotary: the project is confidential: name who may read it with "
                    "--encrypt-to CARD.json, or write it unencrypted with --plaintext")
    assert not out.exists()
    people.ok("coord", "tasks", "build", spec, DEMO / "items.jsonl", "--out", out, "--plaintext")
    assert is_zip(out)
    people.ok("coord", "tasks", "build", spec, DEMO / "items.jsonl", "--out", out, "--encrypt-to",
              people.card("ada"))
    assert is_sealed(out)
    # the annotator's results of a confidential project are encrypted by default too
    people.ok("ada", "import", out, "--trust")
    results = tmp_path / "r.annotary"
    people.ok("ada", "results", "export", "--project", PID, "--out", results)
    assert is_sealed(results)


def test_identity_show_openssh_is_an_age_recipient(people):
    line = people.ok("ada", "identity", "show", "--openssh").strip()
    ident = people.identity("ada")
    assert line.startswith("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA")
    assert line.split()[:2] == Recipient.of(ident).line.split()
    assert line.split()[2] == "Ada"
    pyrage.ssh.Recipient.from_str(line)  # age takes it as it is


def openssh_private_key(people: People, who: str, path: Path) -> Path:
    """The person's private key in OpenSSH form, as `age -i` reads it."""
    key = people.identity(who).private()
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    return path


@needs_age
def test_a_bundle_encrypted_by_annotary_decrypts_with_age(people, tmp_path):
    bundle = tmp_path / "round1.annotary"
    build(people, bundle, "--encrypt-to", people.card("ada"))
    key = openssh_private_key(people, "ada", tmp_path / "ada_ed25519")
    out = tmp_path / "round1.zip"
    subprocess.run([AGE, "-d", "-i", str(key), "-o", str(out), str(bundle)], check=True, timeout=60)
    with zipfile.ZipFile(out) as zf:
        assert {"manifest.json", "manifest.sig", "spec.json", "items.jsonl"} <= set(zf.namelist())
    # the signed zip inside verifies as a plain bundle anywhere
    assert "OK round1.zip" in people.ok("eve", "verify", out)
    # and a key that is not a recipient cannot open it
    other = openssh_private_key(people, "eve", tmp_path / "eve_ed25519")
    denied = subprocess.run([AGE, "-d", "-i", str(other), str(bundle)], capture_output=True, timeout=60)
    assert denied.returncode != 0


@needs_age
@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
def test_a_signed_bundle_encrypted_by_age_imports(people, tmp_path, armor):
    plain = tmp_path / "round1.plain.annotary"
    build(people, plain)
    recipients = tmp_path / "recipients.txt"
    recipients.write_text(people.ok("ada", "identity", "show", "--openssh"))
    sealed = tmp_path / "round1.annotary"
    subprocess.run([AGE, *(["-a"] if armor else []), "-R", str(recipients), "-o", str(sealed), str(plain)],
                   check=True, timeout=60)
    assert is_sealed(sealed)
    assert "imported round1.annotary: 32 new items" in people.ok("ada", "import", sealed, "--trust")
    assert people.leftovers("ada") == []


def seal_bytes(data: bytes, *recipients: Recipient) -> bytes:
    return pyrage.encrypt(data, [pyrage.ssh.Recipient.from_str(r.line) for r in recipients])


@pytest.mark.parametrize("case", ["garbage-after-header", "truncated", "not-a-zip-inside", "bad-stanza"])
def test_a_hostile_age_file_is_refused_in_one_line_with_nothing_left(people, tmp_path, case):
    ada = Recipient.of(people.identity("ada"))
    good = tmp_path / "good.annotary"
    build(people, good, "--encrypt-to", people.card("ada"))
    path = tmp_path / "hostile.annotary"
    if case == "garbage-after-header":
        path.write_bytes(AGE_HEADER + os.urandom(4096))
    elif case == "truncated":
        path.write_bytes(good.read_bytes()[:-100])
    elif case == "not-a-zip-inside":
        path.write_bytes(seal_bytes(b"just some words, not a bundle\n" * 100, ada))
    else:
        path.write_bytes(AGE_HEADER + b"-> ssh-ed25519 AAAA !!!\n--- x\n" + os.urandom(64))
    people.ok("ada", "projects")
    before = people.store_dump("ada")
    for command in (("import", path, "--trust"), ("verify", path)):
        assert people.refused("ada", *command).startswith("error: hostile.annotary: ")
    assert people.store_dump("ada") == before
    assert people.leftovers("ada") == []


def test_decryption_is_private_streaming_and_always_removed(people, tmp_path):
    bundle = tmp_path / "round1.annotary"
    build(people, bundle, "--encrypt-to", people.card("ada"))
    ada = people.identity("ada")
    workdir = tmp_path / "work"
    unseal = Unseal(identity=lambda: ada, workdir=workdir)
    with open_bundle(bundle, unseal=unseal) as reader:
        plain = reader.path
        assert reader.sealed and reader.source == bundle and plain != bundle
        assert plain.name == bundle.name  # messages name the file given
        assert stat.S_IMODE(plain.stat().st_mode) == 0o600
        assert stat.S_IMODE(plain.parent.stat().st_mode) == 0o700
        assert plain.parent.parent == workdir
        assert reader.manifest.project_id == PID
    assert not plain.exists() and list(workdir.iterdir()) == []
    # removed on an error inside the block as well
    with pytest.raises(RuntimeError), open_bundle(bundle, unseal=unseal) as reader:
        plain = reader.path
        raise RuntimeError("stop")
    assert not plain.exists() and list(workdir.iterdir()) == []
    # no identity to open it with: one line
    with pytest.raises(BundleError, match="^round1.annotary: encrypted .age., and there is no identity"):
        open_bundle(bundle, unseal=Unseal(identity=lambda: None, workdir=workdir))
    with pytest.raises(BundleError, match="no identity"):
        open_bundle(bundle)


def test_a_passphrase_protects_the_key_file(people, tmp_path):
    key_file = people.homes["ada"] / KEY_FILE
    plain_key = key_file.read_bytes()
    said = people.ok("ada", "identity", "passphrase", "set", env={"ANNOTARY_NEW_PASSPHRASE": "correct horse"})
    assert "now protected by a passphrase" in said
    protected = key_file.read_bytes()
    assert protected.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") and protected != plain_key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # a copied key file alone is of no use: it does not load without the passphrase
    with pytest.raises(TypeError, match="encrypted"):
        serialization.load_pem_private_key(protected, password=None)

    # the public side needs no passphrase
    assert "Ada (annotator)" in people.ok("ada", "identity", "show")
    # signing and decrypting do
    tasks = tmp_path / "round1.annotary"
    build(people, tasks, "--encrypt-to", people.card("ada"))
    line = people.refused("ada", "import", tasks, "--trust")
    assert "protected by a passphrase" in line
    assert "wrong passphrase" in people.refused("ada", "import", tasks, "--trust",
                                                env={"ANNOTARY_PASSPHRASE": "wrong horse"})
    good = {"ANNOTARY_PASSPHRASE": "correct horse"}
    people.ok("ada", "import", tasks, "--trust", env=good)
    out = tmp_path / "r.annotary"
    assert "protected by a passphrase" in people.refused("ada", "results", "export", "--project", PID,
                                                         "--out", out)
    people.ok("ada", "results", "export", "--project", PID, "--out", out, env=good)
    assert "OK r.annotary" in people.ok("coord", "verify", out)

    # too short a passphrase is refused, the key file unchanged
    assert "at least 8 characters" in people.refused("ada", "identity", "passphrase", "set",
                                                     env=good | {"ANNOTARY_NEW_PASSPHRASE": "short"})
    assert key_file.read_bytes() == protected
    # removed: the key loads without one again, and is the same key
    assert "no longer protected" in people.ok("ada", "identity", "passphrase", "remove", env=good)
    assert load_identity(people.homes["ada"]).private_key is not None
    assert load_identity(people.homes["ada"]).key_id == people.identity("ada").key_id
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_the_passphrase_is_asked_once_per_session(people, monkeypatch):
    monkeypatch.setenv("ANNOTARY_HOME", str(people.homes["ada"]))
    monkeypatch.delenv("ANNOTARY_PASSPHRASE", raising=False)
    people.ok("ada", "identity", "passphrase", "set", env={"ANNOTARY_NEW_PASSPHRASE": "correct horse"})
    identity_ops.forget_passphrase()
    asked = []
    identity_ops.set_passphrase_prompt(lambda: asked.append(1) or "correct horse")
    try:
        for _ in range(3):
            identity_ops.require_identity().sign(b"x")
    finally:
        identity_ops.set_passphrase_prompt(None)
    assert asked == [1]
    # a wrong answer is not kept
    identity_ops.forget_passphrase()
    identity_ops.set_passphrase_prompt(lambda: "wrong horse")
    try:
        with pytest.raises(Exception, match="wrong passphrase"):
            identity_ops.require_identity().sign(b"x")
    finally:
        identity_ops.set_passphrase_prompt(None)
    with pytest.raises(Exception, match="protected by a passphrase"):
        identity_ops.require_identity().sign(b"x")


def test_verify_says_the_project_instance(people, tmp_path):
    bundle = tmp_path / "round1.annotary"
    build(people, bundle)
    out = people.ok("ada", "verify", bundle)
    # a bundle of no project instance (tasks build, or made before instances existed)
    assert "\nproject made before instance ids; matched on project id only\n" in out


def test_the_app_takes_an_encrypted_bundle_for_a_bundle(people, tmp_path):
    from annotary.app import file_kind

    bundle = tmp_path / "round1.annotary"
    build(people, bundle, "--encrypt-to", people.card("ada"))
    assert file_kind(bundle) == "bundle"


def test_a_private_folder_left_by_a_killed_process_goes_after_a_day(tmp_path):
    from annotary.bundles.sealed import PREFIX, STALE_SECONDS, private_folder

    work = tmp_path / "work"
    work.mkdir()
    stale, recent = work / f"{PREFIX}stale", work / f"{PREFIX}recent"
    for folder in (stale, recent):
        folder.mkdir()
        (folder / "round1.annotary").write_bytes(b"PK")
    old = os.stat(stale).st_mtime - STALE_SECONDS - 60
    os.utime(stale, (old, old))
    with private_folder(work) as mine:
        assert mine.is_dir() and mine.name.startswith(PREFIX)
    assert not stale.exists() and recent.exists() and not mine.exists()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tail=st.binary(max_size=2048), armored=st.booleans())
def test_any_age_looking_file_gives_only_a_bundle_error(tmp_path, tail, armored):
    from annotary.bundles.identity import create_identity

    home = tmp_path / "fuzz-home"
    ident = load_identity(home) or create_identity(home, name="Fuzz", role="annotator")
    path = tmp_path / "fuzz.annotary"
    path.write_bytes((b"-----BEGIN AGE ENCRYPTED FILE-----\n" if armored else AGE_HEADER) + tail)
    work = tmp_path / "fuzz-work"
    with pytest.raises(BundleError):
        open_bundle(path, unseal=Unseal(identity=lambda: ident, workdir=work))
    assert not work.exists() or list(work.iterdir()) == []
