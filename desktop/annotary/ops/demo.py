"""The bundled demo project: built from resources/demo and imported on first use."""

from __future__ import annotations

import tempfile
from pathlib import Path

from annotary.bundles.identity import Identity
from annotary.core.spec import load_spec_file
from annotary.ops.importing import import_tasks
from annotary.ops.tasks import build_task_bundle
from annotary.paths import resources_dir
from annotary.store import Store


def demo_dir() -> Path:
    return resources_dir() / "demo"


def ensure_demo(store: Store, identity: Identity) -> str:
    """Import the demo (signed by the local identity) unless it is there; return its project id."""
    spec = load_spec_file(demo_dir() / "spec.toml")
    project_id = spec.resolved_project_id
    if store.one("SELECT 1 FROM projects WHERE id=?", (project_id,)):
        return project_id
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo.annotary"
        build_task_bundle(spec_path=demo_dir() / "spec.toml", items_paths=[demo_dir() / "items.jsonl"],
                          out=out, identity=identity, guidelines_path=demo_dir() / "guidelines.md")
        import_tasks(store, out, trust_new_key=True)
    return project_id
