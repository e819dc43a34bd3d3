"""Source datasets read into items that fit a spec: model completions joined in, bad rows refused or set aside."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from annotary.core.errors import ItemError, LabelError, describe_validation
from annotary.core.items import Item, check_item_fits
from annotary.core.labels import Answer, check_answer_fits
from annotary.core.spec import Spec
from annotary.datasets.readers import ItemStream, RowError
from annotary.datasets.responses import Completion, read_completions, source_keys, with_completions

ANSWER = TypeAdapter(Answer)
SKIP_HINT = ("pass --skip-invalid to leave out the rows that cannot become items (they are listed, "
             "with their line and reason, in OUT.rejected.jsonl)")


@dataclass
class Sources:
    """Items read and checked, which shape each file was read as, and the rows set aside."""

    items: list[Item]
    shapes: list[str]
    rejected: list[dict] = field(default_factory=list)  # file, line (or index, row), reason, record or item
    joined: list[str] = field(default_factory=list)  # per responses file: how many it gave, how many items lack one

    @property
    def summary(self) -> str:
        """What the responses files gave, for a command's message ('' without them)."""
        return f"; responses: {', '.join(self.joined)}" if self.joined else ""


def check_gold(item: Item, spec: Spec, where: str = "") -> None:
    """Every gold answer must be an answer its question accepts for this item."""
    at = f"{where}item {item.id!r}"
    if item.kind in ("gold", "calibration") and not item.gold:
        raise ItemError(f"{at}: gold: a {item.kind} item needs the expert answers")
    for qid, raw in (item.gold or {}).items():
        try:
            answer = ANSWER.validate_python(raw)
        except ValidationError as err:
            raise ItemError(f"{at}: gold.{qid}: {describe_validation(err)}") from None
        try:
            check_answer_fits(spec.question(qid), answer, item, f"{at}: gold.{qid}")
        except LabelError as err:
            raise ItemError(err.message) from None


def read_sources(paths: list[str | Path], spec: Spec, fmt: str = "auto", *, kind: str | None = None,
                 skip_invalid: bool = False, responses: list[str | Path] = (),
                 keep_source_responses: bool = False, gold: bool = True) -> Sources:
    """Read dataset files into items, each checked against the spec.

    `responses`: files of model completions (datasets.responses) joined to the items by item id or
    the source's own id; then an item's responses are those completions, in the order of the files
    (with `keep_source_responses`, after the source's own). `kind` turns every item into a gold or
    calibration item; `gold` checks gold answers. A row that cannot become an item that fits is a
    RowError naming it, or with `skip_invalid` set aside in Sources.rejected."""
    found = Sources([], [])
    found.items = list(stream_sources(found, paths, spec, fmt, kind=kind, skip_invalid=skip_invalid,
                                      responses=responses, keep_source_responses=keep_source_responses,
                                      gold=gold))
    return found


def stream_sources(found: Sources, paths: list[str | Path], spec: Spec, fmt: str = "auto", *,
                   kind: str | None = None, skip_invalid: bool = False, responses: list[str | Path] = (),
                   keep_source_responses: bool = False, gold: bool = True) -> Iterator[Item]:
    """read_sources' items one by one as the files are read (JSON Lines line by line), so a large
    dataset is never in memory whole; FOUND's shapes, rejected rows and joined responses are filled
    as they become known, complete once the items are. With `responses` the items are read whole
    first (a completion may name any of them)."""
    rejected, shapes, names = found.rejected, found.shapes, []
    seen: dict[str, int] = {}  # item id -> file number << 32 | row (readers.ItemStream)

    def refuse(message: str, entry: dict) -> None:
        if not skip_invalid:
            raise RowError(message)
        rejected.append(entry)

    def read() -> Iterator[tuple[Item, str, str]]:  # item, file name, row
        for no, source in enumerate(paths):
            name = Path(source).name
            names.append(name)
            stream = ItemStream(source, fmt, skip_bad=skip_invalid, allow_empty=skip_invalid, seen=seen,
                                file_no=no)
            for item, row in stream:
                owner = seen[item.id] >> 32
                if owner != no:
                    why = f"duplicate item id {item.id!r} (also in {names[owner]})"
                    refuse(f"{name} {row}: {why}", _entry(name, row, why, item))
                    continue
                yield item, name, row
            shapes.append(f"{name}: {stream.shape}, {stream.count} items")
            rejected.extend({"file": name, r.kind: r.number, "reason": r.reason, "record": r.record}
                            for r in stream.refused)

    got: Iterable[tuple[Item, str, str]] = read()
    missing: dict[str, list[str]] = {}
    if responses:
        got, missing = _join(list(got), responses, skip_invalid, keep_source_responses, rejected, refuse,
                             found.joined)

    count = 0
    for item, name, row in got:
        if kind is not None:
            item = item.model_copy(update={"kind": kind})
        try:
            check_item_fits(item, spec)
            if gold:
                check_gold(item, spec)
        except ItemError as err:
            why = err.message
            if item.id in missing:
                why += f" (no response for it in {', '.join(missing[item.id])})"
            refuse(f"{name} {row}: {why}", _entry(name, row, why, item))
            continue
        count += 1
        yield item
    order = {Path(f).name: n for n, f in enumerate([*paths, *responses])}
    rejected.sort(key=lambda e: (order.get(e["file"], len(order)),
                                 next((e[k] for k in ("line", "index", "row") if k in e), 0)))
    if not count and rejected:
        first = rejected[0]
        where = " ".join(f"{k} {first[k]}" for k in ("line", "index", "row") if k in first)
        raise ItemError(f"no row became an item that fits the spec: {len(rejected)} refused; first: "
                        f"{first['file']} {where}: {first['reason']}")


def _entry(name: str, row: str, reason: str, item: Item | None = None, record=None) -> dict:
    kind, number = row.split(" ", 1)
    entry = {"file": name, kind: int(number), "reason": reason}
    if item is not None:
        entry |= {"item_id": item.id, "item": item.model_dump(mode="json", exclude_defaults=True)}
    else:
        entry["record"] = record
    return entry


def _join(got, paths, skip_invalid, keep_source, rejected, refuse, joined):
    """The items with their completions; which responses files had none for an item."""
    index: dict[str, int] = {}
    for n, (item, _, _) in enumerate(got):
        for key in source_keys(item):
            index.setdefault(key, n)
    found: list[list[Completion]] = [[] for _ in got]
    files = []
    for path in paths:
        name = Path(path).name
        files.append(name)
        read = read_completions(path, skip_bad=skip_invalid)
        rejected += [{"file": n, r.kind: r.number, "reason": r.reason, "record": r.record} for n, r in read.refused]
        for c in read.rows:
            at = index.get(c.target)
            if at is None:
                why = f"no item with id or prompt_id {c.target!r} in the datasets"
                refuse(f"{c.where}: {why}", {"file": name, c.kind: c.number, "reason": why, "target": c.target})
                continue
            found[at].append(c)
        joined.append(f"{len(read.rows)} from {name}")
    out, missing = [], {}
    for (item, name, row), completions in zip(got, found, strict=True):
        have = {c.file for c in completions}
        if gaps := [f for f in files if f not in have]:
            missing[item.id] = gaps
        try:
            item = with_completions(item, completions, keep_source=keep_source)
        except ItemError as err:
            refuse(f"{name} {row}: {err.message}", _entry(name, row, err.message, item))
            continue
        out.append((item, name, row))
    lacking = {f: sum(1 for gaps in missing.values() if f in gaps) for f in files}
    joined[:] = [f"{j} ({lacking[f]} item{'s' if lacking[f] != 1 else ''} without one)" if lacking[f] else j
                 for j, f in zip(joined, files, strict=True)]
    return out, missing


def rejected_path(out: str | Path) -> Path:
    return Path(f"{out}.rejected.jsonl")


def write_rejected(out: str | Path, rejected: list[dict]) -> Path | None:
    """OUT.rejected.jsonl: one JSON line per row set aside (file, line, reason, the record or item as
    read); an earlier list for OUT is removed when nothing was set aside this time."""
    path = rejected_path(out)
    if not rejected:
        path.unlink(missing_ok=True)
        return None
    tmp = path.with_name(f".{path.name}.writing")
    with open(tmp, "w", encoding="utf-8") as f:
        for entry in rejected:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path


def rejected_line(rejected: list[dict], path: Path | None) -> str:
    """The one-line summary of the rows set aside."""
    n = len(rejected)
    return f"left out {n} row{'s' if n != 1 else ''} that cannot become items: see {path}" if n else ""
