"""Building a signed task bundle from a spec and source datasets."""

from __future__ import annotations

from pathlib import Path

from annotary.bundles.bundle import write_bundle
from annotary.bundles.identity import Identity
from annotary.bundles.records import dump_jsonl
from annotary.core.changes import Change
from annotary.core.errors import ItemError, SpecError
from annotary.core.items import check_item_fits
from annotary.core.spec import load_spec_file
from annotary.datasets.readers import read_items


def build_task_bundle(
    *,
    spec_path: str | Path,
    items_paths: list[str | Path],
    out: str | Path,
    identity: Identity,
    guidelines_path: str | Path | None = None,
    fmt: str = "auto",
    round: int = 1,
) -> Change:
    """Read, check and sign: every item must fit every question of the spec."""
    spec = load_spec_file(spec_path)
    spec_path = Path(spec_path)
    if guidelines_path is None:
        default = spec_path.with_name("guidelines.md")
        guidelines_path = default if default.exists() else None
    guidelines = ""
    if guidelines_path is not None:
        try:
            guidelines = Path(guidelines_path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise SpecError(f"{guidelines_path}: cannot read guidelines ({err})") from None
    items, seen, shapes = [], {}, []
    for source in items_paths:
        result = read_items(source, fmt=fmt)
        shapes.append(f"{Path(source).name}: {result.shape}")
        for item in result.items:
            if item.id in seen:
                raise ItemError(f"{Path(source).name}: duplicate item id {item.id!r} (also in {seen[item.id]})")
            seen[item.id] = Path(source).name
            check_item_fits(item, spec, where=f"{Path(source).name}: ")
            items.append(item)
    if not items:
        raise ItemError("no items to put in the bundle")
    out = Path(out)
    write_bundle(
        out, kind="tasks", project_id=spec.resolved_project_id, project_name=spec.name,
        identity=identity, round=round,
        members={
            "spec.json": spec.model_dump_json(indent=2).encode(),
            "guidelines.md": guidelines.encode("utf-8"),
            "items.jsonl": dump_jsonl(i.model_dump(mode="json", exclude_defaults=True) for i in items),
        },
        counts={"items.jsonl": len(items)},
    )
    return Change(op="build", project_id=spec.resolved_project_id, counts={"items": len(items)},
                  message=f"wrote {out.name}: {len(items)} items ({'; '.join(shapes)})")
