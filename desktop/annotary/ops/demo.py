"""The bundled demo projects: built from resources/demo* and imported on first use."""

from __future__ import annotations

import tempfile
from pathlib import Path

from annotary.bundles.identity import Identity
from annotary.core.spec import load_spec_file
from annotary.ops.importing import import_tasks
from annotary.ops.tasks import build_task_bundle
from annotary.paths import resources_dir
from annotary.store import Store

# the pairwise demo opens first; the others show every other mode
DEMOS = ("demo", "demo-ranking", "demo-scoring", "demo-rubric", "demo-demonstration")


def demo_dir(name: str = "demo") -> Path:
    return resources_dir() / name


def ensure_demos(store: Store, identity: Identity) -> list[str]:
    """Import every demo not yet in the store (signed by the local identity); their project ids."""
    ids = []
    for name in DEMOS:
        folder = demo_dir(name)
        spec = load_spec_file(folder / "spec.toml")
        ids.append(spec.resolved_project_id)
        if store.one("SELECT 1 FROM projects WHERE id=?", (spec.resolved_project_id,)):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / f"{name}.annotary"
            build_task_bundle(spec_path=folder / "spec.toml", items_paths=[folder / "items.jsonl"],
                              out=out, identity=identity, guidelines_path=folder / "guidelines.md")
            import_tasks(store, out, trust_new_key=True)
    return ids
