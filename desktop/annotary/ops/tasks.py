"""Building a signed task bundle from a spec and source datasets."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from annotary.bundles.bundle import write_bundle
from annotary.bundles.identity import Identity
from annotary.bundles.records import dump_jsonl
from annotary.core.changes import Change
from annotary.core.errors import ItemError, SpecError
from annotary.core.spec import load_spec_file
from annotary.ops.bundling import GUIDELINE_ASSETS
from annotary.ops.sealing import DEFAULT_CHOICE, Encryption, recipients, seal_options, sealed_text
from annotary.ops.sources import Sources, rejected_line, stream_sources, write_rejected

IMAGE_TYPES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp")
IMAGE_LINK = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def guideline_images(path: Path, markdown: str) -> dict[str, bytes]:
    """The local images the guidelines show, by the relative path they are linked with.

    They travel inside the signed bundle; remote images are left out (the app loads nothing
    from the network) and a missing local one is refused, so the expert never sees a hole."""
    found = {}
    for link in IMAGE_LINK.findall(markdown):
        if "://" in link or link.startswith(("data:", "#")):
            continue
        rel = PurePosixPath(link)
        if rel.is_absolute() or ".." in rel.parts or rel.suffix.lower() not in IMAGE_TYPES:
            raise SpecError(f"{path.name}: image {link!r} must be a relative path to a picture "
                            f"beside the guidelines ({', '.join(IMAGE_TYPES)})")
        try:
            found[str(rel)] = (path.parent / rel).read_bytes()
        except OSError:
            raise SpecError(f"{path.name}: image {link!r} not found beside the guidelines") from None
    return found


def build_task_bundle(
    *,
    spec_path: str | Path,
    items_paths: list[str | Path],
    out: str | Path,
    identity: Identity,
    guidelines_path: str | Path | None = None,
    fmt: str = "auto",
    round: int = 1,
    skip_invalid: bool = False,
    responses: list[str | Path] = (),
    keep_source_responses: bool = False,
    encryption: Encryption = DEFAULT_CHOICE,
) -> Change:
    """Read, check and sign: every item must fit every question of the spec.

    `responses`, `keep_source_responses`, `skip_invalid`: as ops.sources.read_sources; the rows
    set aside are listed in OUT.rejected.jsonl."""
    spec = load_spec_file(spec_path)
    chosen = recipients(encryption, signer=identity, readers=[], confidential=spec.confidential,
                        what=Path(out).name)
    spec_path = Path(spec_path)
    if guidelines_path is None:
        default = spec_path.with_name("guidelines.md")
        guidelines_path = default if default.exists() else None
    guidelines, images = "", {}
    if guidelines_path is not None:
        try:
            guidelines = Path(guidelines_path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise SpecError(f"{guidelines_path}: cannot read guidelines ({err})") from None
        images = guideline_images(Path(guidelines_path), guidelines)
    found = Sources([], [])
    # each item is written out as it is read and checked: the dataset is never in memory as items
    data, count = bytearray(), 0
    for item in stream_sources(found, list(items_paths), spec, fmt, skip_invalid=skip_invalid,
                               responses=list(responses), keep_source_responses=keep_source_responses, gold=False):
        data += dump_jsonl([item.model_dump(mode="json", exclude_defaults=True)])
        count += 1
    if not count:
        raise ItemError("no items to put in the bundle")
    out = Path(out)
    write_bundle(
        out, kind="tasks", project_id=spec.resolved_project_id, project_name=spec.name,
        identity=identity, round=round,
        members={
            "spec.json": spec.model_dump_json(indent=2).encode(),
            "guidelines.md": guidelines.encode("utf-8"),
            **{f"{GUIDELINE_ASSETS}{name}": data for name, data in images.items()},
            "items.jsonl": data,
        },
        counts={"items.jsonl": count},
        **seal_options(chosen),
    )
    listed = write_rejected(out, found.rejected) if skip_invalid else None
    left = f"\n{rejected_line(found.rejected, listed)}" if listed else ""
    return Change(op="build", project_id=spec.resolved_project_id,
                  counts={"items": count, **({"rejected": len(found.rejected)} if skip_invalid else {})},
                  message=f"wrote {out.name}{sealed_text(chosen)}: {count} items ({'; '.join(s.rsplit(', ', 1)[0] for s in found.shapes)}){found.summary}{left}")
