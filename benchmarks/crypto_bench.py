"""Confidential bundles: import of 100k items plain vs encrypted (age), and verify's peak memory on a hostile file.

Run with `.venv/bin/python benchmarks/crypto_bench.py` (`--items 5000` for a quick run). It prints
figures and ratios against the goals; it never fails because of a timing.

1. **Import, plain vs encrypted.** N pairwise items (bench.py's generator) signed into one task
   bundle, and the same items into a second bundle encrypted to the annotator (age, ssh-ed25519).
   Each is imported into a fresh store in a process of its own (`load_tasks` + `import_tasks`, the
   clock started after the imports of Python modules), alternating plain and encrypted (which goes
   first alternates too), `--runs` times each; the medians are compared (goal: encrypted at most 1.10 times plain). The
   decryption alone (into the private temporary file) is timed too.
2. **Verify on the worst hostile file.** The file of issue 12's first point: a 12 MB zip of four
   511 MiB members, about 150:1 (under the ratio limit), no manifest. `annotary verify` runs on it
   in a process of its own; its peak RSS (VmHWM) is reported against the process's own baseline
   once Annotary's modules are imported (goal: under 100 MB above it). The same file encrypted to
   the process's identity too: decryption streams to disk, so the peak should not grow.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from common import REPO, SOURCE_TREE, MiB, pairwise_spec  # noqa: E402  (puts the source tree on the path)

GOAL_RATIO = 1.10
GOAL_HOSTILE_MB = 100.0


def child_env(home: Path) -> dict[str, str]:
    env = os.environ | {"ANNOTARY_HOME": str(home)}
    env.pop("ANNOTARY_PASSPHRASE", None)
    if SOURCE_TREE:
        env["PYTHONPATH"] = str(REPO / "desktop") + os.pathsep + env.get("PYTHONPATH", "")
    return env


IMPORT_CHILD = """
import json, sys, time
from annotary.ops.importing import import_tasks, load_tasks
from annotary.store import open_store
bundle, db = sys.argv[1:3]
store = open_store(db)
start = time.perf_counter()
tasks = load_tasks(bundle)
change = import_tasks(store, tasks, trust_new_key=True)
seconds = time.perf_counter() - start
store.close()
print(json.dumps({"seconds": seconds, "items": change.counts["items"]}))
"""

DECRYPT_CHILD = """
import json, sys, time
from annotary.bundles.zipsafe import DEFAULT_LIMITS
from annotary.ops.bundling import local_unseal
from annotary.bundles.sealed import unsealed
start = time.perf_counter()
with unsealed(__import__("pathlib").Path(sys.argv[1]), local_unseal(), max_bytes=DEFAULT_LIMITS.max_file_bytes) as p:
    size = p.stat().st_size
print(json.dumps({"seconds": time.perf_counter() - start, "bytes": size}))
"""

VERIFY_CHILD = """
import json, sys
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
from annotary.cli.main import cli
import annotary.ops.verify, annotary.bundles.sealed
base = hwm()
try:
    cli.main(args=["verify", sys.argv[1]], prog_name="annotary")
    code = 0
except SystemExit as e:
    code = e.code
print(json.dumps({"baseline_mb": base, "peak_mb": hwm(), "exit": code}))
"""


def run_child(code: str, args: list[str], home: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env=child_env(home), timeout=3600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise SystemExit(f"bench child failed ({done.returncode}): {done.stderr.strip()[-600:]}")
    return json.loads(lines[-1]) | {"stderr": done.stderr.strip()}


def make_identity(home: Path, name: str, role: str):
    from annotary.bundles.identity import create_identity

    home.mkdir(parents=True, exist_ok=True)
    return create_identity(home, name=name, role=role)


def build_bundles(root: Path, n: int, annotator_home: Path) -> tuple[Path, Path]:
    from bench import write_items

    from annotary.ops.roster import export_card
    from annotary.ops.sealing import Encryption
    from annotary.ops.tasks import build_task_bundle

    coordinator = make_identity(root / "coordinator", "Bench Coordinator", "coordinator")
    annotator = make_identity(annotator_home, "Bench Annotator", "annotator")
    card = root / "annotator.card.json"
    export_card(identity=annotator, out=card)
    spec = root / "spec.toml"
    spec.write_text(pairwise_spec("bench-crypto", "Encryption benchmark"), encoding="utf-8")
    items = root / "items.jsonl"
    write_items(items, n)
    plain, sealed = root / "plain.annotary", root / "sealed.annotary"
    build_task_bundle(spec_path=spec, items_paths=[items], out=plain, identity=coordinator)
    build_task_bundle(spec_path=spec, items_paths=[items], out=sealed, identity=coordinator,
                      encryption=Encryption(encrypt_to=[card]))
    return plain, sealed


def hostile_zip(path: Path) -> Path:
    """Four members of 511 MiB each, mostly zeros with a little noise per MiB, no manifest."""
    noise = os.urandom(6 * 1024)
    block = noise + bytes(MiB - len(noise))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for n in range(4):
            info = zipfile.ZipInfo(f"m{n}.bin")
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w", force_zip64=True) as member:
                for _ in range(511):
                    member.write(block)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-hostile", action="store_true", help="Skip the hostile file (2 GiB to deflate).")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="Build the bundles in DIR and keep them; a later run with the same DIR and "
                             "--items reuses them (building 100k items twice takes minutes).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="annotary-crypto-bench-") as tmp:
        root = Path(tmp)
        built = args.keep / str(args.items) if args.keep else root
        home = built / "annotator"
        t = time.perf_counter()
        if (built / "sealed.annotary").exists():
            plain, sealed = built / "plain.annotary", built / "sealed.annotary"
        else:
            built.mkdir(parents=True, exist_ok=True)
            plain, sealed = build_bundles(built, args.items, home)
        print(f"{'bundles of ' + format(args.items, ',') + ' items built':<44} {time.perf_counter() - t:8.2f} s  "
              f"(plain {plain.stat().st_size / MiB:.1f} MiB, encrypted {sealed.stat().st_size / MiB:.1f} MiB)")
        times: dict[str, list[float]] = {"plain": [], "encrypted": []}
        for run in range(args.runs):
            pair = [("plain", plain), ("encrypted", sealed)]
            for kind, bundle in pair if run % 2 == 0 else pair[::-1]:  # neither always goes first
                got = run_child(IMPORT_CHILD, [str(bundle), str(root / f"{kind}-{run}.db")], home)
                assert got["items"] == args.items, got
                times[kind].append(got["seconds"])
        decrypt = run_child(DECRYPT_CHILD, [str(sealed)], home)
        p, s = statistics.median(times["plain"]), statistics.median(times["encrypted"])
        print(f"{'import, plain (median of ' + str(args.runs) + ')':<44} {p:8.2f} s  "
              f"(runs {', '.join(f'{x:.2f}' for x in times['plain'])})")
        print(f"{'import, encrypted (median of ' + str(args.runs) + ')':<44} {s:8.2f} s  "
              f"(runs {', '.join(f'{x:.2f}' for x in times['encrypted'])})")
        print(f"{'  encrypted / plain':<44} {s / p:8.3f}    (goal <= {GOAL_RATIO:.2f})")
        print(f"{'  of which decryption to the private file':<44} {decrypt['seconds']:8.2f} s  "
              f"({decrypt['bytes'] / MiB:.1f} MiB; 1 + decryption / plain = {1 + decrypt['seconds'] / p:.3f}, "
              "steadier on a shared machine)")
        if args.no_hostile:
            return
        t = time.perf_counter()
        bomb = hostile_zip(root / "four-511.annotary")
        print(f"{'hostile file built':<44} {time.perf_counter() - t:8.2f} s  ({bomb.stat().st_size / MiB:.1f} MiB, "
              f"4 x 511 MiB inflated, no manifest)")
        from annotary.bundles.identity import load_identity
        from annotary.bundles.sealed import Recipient, seal

        sealed_bomb = root / "four-511-encrypted.annotary"
        seal(bomb, sealed_bomb, [Recipient.of(load_identity(home))])
        for label, path in (("verify on it", bomb), ("verify on it, encrypted", sealed_bomb)):
            got = run_child(VERIFY_CHILD, [str(path)], home)
            above = got["peak_mb"] - got["baseline_mb"]
            print(f"{label:<44} {above:8.1f} MiB above the baseline of {got['baseline_mb']:.0f} MiB "
                  f"(goal < {GOAL_HOSTILE_MB:.0f}; exit {got['exit']}: {got['stderr'][:90]})")


if __name__ == "__main__":
    main()
