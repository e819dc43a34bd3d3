"""Hostile result bundles against merge, import and verify: refused whole, one line, exit 2, the
store byte-identical, and memory bounded however large the file claims to be."""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotary.bundles.bundle import read_bundle, write_bundle
from annotary.core.labels import Label
from annotary.ops.merge import merge_results
from tests.coordinator.conftest import PID
from tests.ops.badbundles import (
    assert_one_line,
    assert_unchanged,
    checkpoint,
    entries_of,
    resign,
    rewrite,
    snapshot,
)

ROOT = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024


def labels_of(path: Path) -> list[Label]:
    return read_bundle(path).records("results.jsonl", Label)


def results_bundle(path: Path, who, lines: list[bytes]) -> Path:
    write_bundle(path, kind="results", project_id=PID, project_name="x", identity=who,
                 members={"results.jsonl": b"".join(line.rstrip(b"\n") + b"\n" for line in lines)})
    return path


def db_state(store) -> dict:
    checkpoint(store)
    return snapshot(store)


# ---------------------------------------------------------------------------------------------
# the 12 MB zip of four 511 MiB members


def _deflated_member(block: bytes, repeat: int) -> tuple[bytes, int, int]:
    """(raw deflate data, crc32, size) of `block` repeated, compressed once: each full flush
    resets the compressor, so every repetition compresses to the same bytes."""
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    seg = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    assert seg == again
    data = seg * repeat + c.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(repeat):
        crc = zlib.crc32(block, crc)
    return data, crc, len(block) * repeat


def _write_raw_zip(path: Path, members: list[tuple[str, bytes, int, int]]) -> Path:
    """A zip written by hand: deflated members given as (name, raw data, crc32, size)."""
    with path.open("wb") as f:
        central = []
        for name, data, crc, size in members:
            offset = f.tell()
            raw = name.encode()
            f.write(struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(data), size,
                                len(raw), 0) + raw)
            f.write(data)
            central.append(struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc,
                                       len(data), size, len(raw), 0, 0, 0, 0, 0, offset) + raw)
        start = f.tell()
        cd = b"".join(central)
        f.write(cd)
        f.write(struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(central), len(central), len(cd), start, 0))
    return path


@pytest.fixture(scope="module")
def four_511(tmp_path_factory) -> Path:
    """Four members of 511 MiB each, about 165:1 (under the ratio limit), no manifest: 12 MB."""
    block = os.urandom(6 * 1024) + bytes(MiB - 6 * 1024)
    data, crc, size = _deflated_member(block, 511)
    path = tmp_path_factory.mktemp("hostile") / "four-511.annotary"
    _write_raw_zip(path, [(f"m{n}.bin", data, crc, size) for n in range(4)])
    assert path.stat().st_size < 20 * MiB
    with zipfile.ZipFile(path) as zf:
        assert [i.file_size for i in zf.infolist()] == [511 * MiB] * 4
    return path


MEASURE = """
import sys
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
from annotary.cli.main import cli
import annotary.ops.merge, annotary.ops.verify, annotary.ops.importing
base = hwm()
try:
    cli.main(args=sys.argv[1:], prog_name="annotary")
    code = 0
except SystemExit as e:
    code = e.code
print(f"HWM {code} {hwm() - base}")
"""


def run_measured(args: list[str], home: Path) -> tuple[int, int, str]:
    """(exit code, peak memory above the baseline in bytes, stderr) of one command, run alone."""
    env = os.environ | {"ANNOTARY_HOME": str(home), "PYTHONPATH": str(ROOT / "desktop")}
    out = subprocess.run([sys.executable, "-c", MEASURE, *args], capture_output=True, text=True, env=env,
                         timeout=300)
    last = [line for line in out.stdout.splitlines() if line.startswith("HWM ")]
    assert last, out.stderr[-2000:]
    _, code, grown = last[-1].split()
    return int(code), int(grown), out.stderr


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="VmHWM is read from /proc")
@pytest.mark.parametrize("command", ["verify", "import", "merge"])
def test_four_511_mib_members_refused_before_inflating(command, four_511, world, tmp_path):
    home = tmp_path / "cli-home"
    home.mkdir(exist_ok=True)
    project = tmp_path / "project.db"
    store = world.copy(tmp_path)
    before = db_state(store)
    args = {"verify": ["verify", str(four_511)], "import": ["import", str(four_511)],
            "merge": ["merge", str(project), str(four_511)]}[command]
    code, grown, err = run_measured(args, home)
    assert code == 2, err
    assert_one_line(err.strip())
    assert "has no manifest.json" in err
    assert grown < 100 * MiB, f"{command}: peak memory grew {grown / MiB:.0f} MiB"
    assert_unchanged(before, db_state(store))


def test_a_signed_member_of_511_mib_is_verified_streaming(world, tmp_path):
    """Verify checks every hash: a genuine 511 MiB member is streamed, never held."""
    block = os.urandom(6 * 1024) + bytes(MiB - 6 * 1024)
    data, crc, size = _deflated_member(block, 511)
    digest = hashlib.sha256()
    for _ in range(511):
        digest.update(block)
    small = tmp_path / "small.annotary"
    write_bundle(small, kind="results", project_id=PID, project_name="x", identity=world.people[0],
                 members={"results.jsonl": b"", "big.bin": b"placeholder"})

    def edit(doc):
        for m in doc["members"]:
            if m["name"] == "big.bin":
                m["size"], m["sha256"] = size, digest.hexdigest()
    signed = resign(small, tmp_path / "signed.annotary", world.people[0], edit)
    parts = {i.filename: d for i, d in entries_of(signed) if i.filename != "big.bin"}
    raw = [(name, zlib.compress(body, 6)[2:-4], zlib.crc32(body), len(body)) for name, body in parts.items()]
    path = _write_raw_zip(tmp_path / "big.annotary", [*raw, ("big.bin", data, crc, size)])
    home = tmp_path / "cli-home"
    home.mkdir(exist_ok=True)
    code, grown, err = run_measured(["verify", str(path)], home)
    assert code == 0, err
    assert grown < 100 * MiB, f"verify: peak memory grew {grown / MiB:.0f} MiB"


# ---------------------------------------------------------------------------------------------
# one line, exit 2, nothing changed: through the command line


def cli(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = os.environ | {"ANNOTARY_HOME": str(home), "PYTHONPATH": str(ROOT / "desktop")}
    return subprocess.run([sys.executable, "-m", "annotary", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def hostile_manifest(src: Path, dest: Path, manifest: bytes) -> Path:
    entries = [(i.filename, manifest if i.filename == "manifest.json" else d) for i, d in entries_of(src)]
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, d in entries:
            zf.writestr(name, d)
    return dest


@pytest.mark.parametrize("case", ["deep-array", "deep-object", "duplicate-project-id"])
def test_hostile_manifest_refused_by_every_command(case, world, tmp_path):
    src = world.results[0]
    raw = {i.filename: d for i, d in entries_of(src)}["manifest.json"]
    if case == "deep-array":
        path = hostile_manifest(src, tmp_path / "deep.annotary", b"[" * 100000)
        reason = "nested more than"
    elif case == "deep-object":
        path = hostile_manifest(src, tmp_path / "deep.annotary", b'{"a":' * 50000 + b"1" + b"}" * 50000)
        reason = "nested more than"
    else:
        # "project_id": "other" first, then the right one: the last would win in a lax reader
        text = raw.decode().replace('"project_id": "', '"project_id": "other", "project_id": "', 1)
        assert text.count('"project_id"') == 2
        path = rewrite(src, tmp_path / "dup.annotary", replace={
            "manifest.json": text.encode(), "manifest.sig": world.people[0].sign(text.encode())})
        reason = 'key "project_id" appears twice'
    store = world.copy(tmp_path)
    before = db_state(store)
    home = tmp_path / "cli-home"
    for args in (["verify", str(path)], ["import", str(path)], ["merge", str(tmp_path / "project.db"), str(path)]):
        out = cli(*args, home=home)
        assert out.returncode == 2, (args, out.stderr)
        assert_one_line(out.stderr.strip())
        assert reason in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert_unchanged(before, db_state(store))


def _label_lines(world) -> list[bytes]:
    return [lab.model_dump_json().encode() for lab in labels_of(world.results[0])]


def _edited(line: bytes, **changes) -> bytes:
    doc = json.loads(line)
    for key, value in changes.items():
        target, *path = key.split("__")
        node = doc
        for p in path[:-1] if path else []:
            node = node[p]
        if path:
            node[target][path[-1]] = value
        else:
            doc[target] = value
    return json.dumps(doc).encode()


@pytest.mark.parametrize("case,reason", [
    ("revision-1e30", r"results\.jsonl line 2: not valid JSON \(number 1000000000000000000000000000000\.\.\. is out"),
    ("revision-1e20", r"results\.jsonl line 2: not valid JSON \(number 100000000000000000000\.\.\. is out of range"),
    ("revision-2e31", r"results\.jsonl line 2: revision: Input should be less than or equal to 2147483647"),
    ("revision-2e63", r"results\.jsonl line 2: not valid JSON \(number 9223372036854775808 is out of range\)"),
    ("duration-huge", r"results\.jsonl line 2: duration_ms: Input should be less than or equal to"),
    ("unknown-question", r"results\.jsonl line 2: label of item .*question 'nope': question_id: not in the spec"),
    ("choice-off-scale", r"results\.jsonl line 2: label of item .*answer\.choice: 'both_bad' is not on a"),
    ("strength-10", r"results\.jsonl line 2: answer\.pairwise\.strength: Input should be less than or equal to 9"),
    ("duplicate-key", r'results\.jsonl line 2: not valid JSON \(key "revision" appears twice'),
    ("deep-line", r"results\.jsonl line 2: not valid JSON \(nested more than 64 levels deep\)"),
    ("nan", r"results\.jsonl line 2: not valid JSON \(NaN is not allowed"),
])
def test_one_bad_label_refuses_the_whole_bundle(case, reason, world, tmp_path):
    lines = _label_lines(world)
    second = lines[1]
    bad = {
        "revision-1e30": lambda: _edited(second, revision=10**30),
        "revision-1e20": lambda: _edited(second, revision=10**20),
        "revision-2e63": lambda: _edited(second, revision=2**63),
        "revision-2e31": lambda: _edited(second, revision=2**31),
        "duration-huge": lambda: _edited(second, duration_ms=10**15),
        "unknown-question": lambda: _edited(second, question_id="nope"),
        "choice-off-scale": lambda: _edited(second, answer={"mode": "pairwise", "choice": "both_bad"}),
        "strength-10": lambda: _edited(second, answer={"mode": "pairwise", "choice": "A", "strength": 10}),
        "duplicate-key": lambda: second[:-1] + b',"revision":7}',
        "deep-line": lambda: second[:-1] + b',"x":' + b"[" * 5000 + b"]" * 5000 + b"}",
        "nan": lambda: second[:-1] + b',"x":NaN}',
    }[case]()
    path = results_bundle(tmp_path / f"{case}.annotary", world.people[0], [lines[0], bad, *lines[2:]])
    store = world.copy(tmp_path)
    before = db_state(store)
    out = cli("merge", str(tmp_path / "project.db"), str(path), home=tmp_path / "cli-home")
    assert out.returncode == 2, out.stderr
    assert_one_line(out.stderr.strip())
    assert out.stdout == ""
    assert re.search(reason, out.stderr), out.stderr
    assert_unchanged(before, db_state(store))


def test_in_a_batch_each_bundle_stands_alone(world, tmp_path):
    lines = _label_lines(world)
    deep = hostile_manifest(world.results[2], tmp_path / "deep.annotary", b"[" * 100000)
    off = results_bundle(tmp_path / "off.annotary", world.people[0],
                         [lines[0], _edited(lines[1], question_id="nope"), *lines[2:]])
    store = world.copy(tmp_path)
    out = cli("merge", str(tmp_path / "project.db"), str(world.results[1]), str(deep), str(off),
              str(world.results[0]), home=tmp_path / "cli-home")
    assert out.returncode == 2
    errors = out.stderr.strip().splitlines()
    assert len(errors) == 2 and errors[0].startswith("error: deep.annotary: refused: ")
    assert errors[1].startswith("error: off.annotary: refused: results.jsonl line 2")
    merged = out.stdout.strip().splitlines()
    assert len(merged) == 2 and "accepted" in merged[0] and "accepted" in merged[1]
    names = [r[0] for r in store.tuples("SELECT file_name FROM bundle_log ORDER BY id")]
    assert names == [world.results[1].name, world.results[0].name]


def test_a_rezipped_copy_is_already_merged(world, tmp_path):
    store = world.copy(tmp_path)
    (first,) = merge_results(store, paths=[world.results[0]])
    assert first.refusal is None and first.accepted
    # the same signed members, in another order and stored rather than deflated: other bytes
    entries = entries_of(world.results[0])
    copy = tmp_path / "copy.annotary"
    with zipfile.ZipFile(copy, "w", zipfile.ZIP_STORED) as zf:
        for info, data in reversed(entries):
            zf.writestr(info.filename, data)
    assert hashlib.sha256(copy.read_bytes()).digest() != hashlib.sha256(world.results[0].read_bytes()).digest()
    before = db_state(store)
    (again,) = merge_results(store, paths=[copy])
    assert again.already_merged and again.refusal is None
    assert_unchanged(before, db_state(store))
    assert store.one("SELECT count(*) FROM bundle_log")[0] == 1


def test_a_rezipped_task_bundle_is_already_imported(world, tmp_path):
    from annotary.ops.importing import import_tasks, preview_tasks
    from annotary.store import open_store

    tasks = world.assignment.bundles[0].path
    store = open_store(tmp_path / "annotator.db")
    import_tasks(store, tasks, trust_new_key=True)
    copy = tmp_path / "copy.annotary"
    with zipfile.ZipFile(copy, "w", zipfile.ZIP_STORED) as zf:
        for info, data in reversed(entries_of(tasks)):
            zf.writestr(info.filename, data)
    assert preview_tasks(store, copy).already_imported
    before = db_state(store)
    change = import_tasks(store, copy, trust_new_key=True)
    assert "already imported" in change.message
    assert_unchanged(before, db_state(store))
    assert store.one("SELECT count(*) FROM bundle_log")[0] == 1


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_merge_of_mutated_labels_refuses_whole_or_merges(world, tmp_path_factory, data):
    """Signed bundles of mutated labels: each merges whole or is refused whole, in one line."""
    folder = tmp_path_factory.mktemp("fuzz-merge")
    lines = [json.loads(line) for line in _label_lines(world)]
    at = data.draw(st.integers(0, len(lines) - 1))
    record = lines[at]
    key = data.draw(st.sampled_from(sorted(record)))
    if key == "answer" and isinstance(record["answer"], dict) and data.draw(st.booleans()):
        inner = data.draw(st.sampled_from(sorted(record["answer"])))
        record["answer"] = record["answer"] | {inner: data.draw(JSON)}
    else:
        record[key] = data.draw(JSON)
    path = results_bundle(folder / "m.annotary", world.people[0], [json.dumps(r).encode() for r in lines])
    store = world.copy(folder)
    before = db_state(store)
    (report,) = merge_results(store, paths=[path])
    if report.refusal is not None:
        assert "\n" not in report.refusal and "\r" not in report.refusal
        assert_unchanged(before, db_state(store))
    else:
        assert report.accepted + report.replaced + report.ignored + report.refused == len(lines)
    store.close()
