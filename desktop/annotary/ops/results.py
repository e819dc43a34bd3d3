"""Exporting an annotator's current labels as a signed result bundle."""

from __future__ import annotations

from pathlib import Path

from annotary.bundles.bundle import write_bundle
from annotary.bundles.identity import Identity
from annotary.bundles.records import dump_jsonl
from annotary.core.changes import Change
from annotary.core.errors import LabelError
from annotary.ops import queries
from annotary.store import Store


def export_results(store: Store, *, project_id: str, identity: Identity, out: str | Path) -> Change:
    """Write every current label of this annotator in the project, signed with their key."""
    info = queries.project(store, project_id)
    if info is None:
        raise LabelError(f"no project {project_id!r} in this store")
    labels = queries.current_labels(store, project_id, identity.key_id)
    out = Path(out)
    write_bundle(
        out, kind="results", project_id=project_id, project_name=info.name, identity=identity,
        round=info.round,
        members={
            "spec.json": info.spec.model_dump_json(indent=2).encode(),
            "results.jsonl": dump_jsonl(labels),
        },
        counts={"results.jsonl": len(labels)},
    )
    items = len({lab.item_id for lab in labels})
    return Change(op="export", project_id=project_id, counts={"labels": len(labels), "items": items},
                  message=f"wrote {out.name}: {len(labels)} labels of {items} items")
