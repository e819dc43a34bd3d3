"""A coordinator's project file: create it from a spec and datasets, open it, change its guidelines."""

from __future__ import annotations

import itertools
import json
import os
import secrets
from collections import Counter
from pathlib import Path

from annotary.bundles.identity import Identity
from annotary.core.changes import Change
from annotary.core.errors import (
    AnnotaryError,
    ItemError,
    SpecError,
)
from annotary.core.items import Item
from annotary.core.spec import Spec, load_spec_file
from annotary.ops import queries
from annotary.ops.queries import ProjectInfo
from annotary.ops.sources import (
    ANSWER,  # noqa: F401  (the answers' adapter, used by other operations)
    Sources,
    read_sources,
    rejected_line,
    stream_sources,
    write_rejected,
)
from annotary.store import Store, open_store
from annotary.store.db import now_iso, open_elsewhere
from annotary.store.migrations import SKELETON_PATHS, SKELETON_RESPONSES

MARK = "coordinator_project"
INSERT_CHUNK = 2000  # items read, checked and written at a time  # settings key naming the project a coordinator's file holds


def open_project(path: str | Path) -> Store:
    """Open an existing coordinator project file (never creates one)."""
    path = Path(path)
    if not path.is_file():
        raise AnnotaryError(f"{path}: no such project file (create one with `annotary project create`)")
    store = open_store(path)
    if queries.setting(store, MARK) is None:
        store.close()
        raise AnnotaryError(f"{path.name}: not a coordinator project (this looks like an annotator's store)")
    return store


def project_info(store: Store) -> ProjectInfo:
    return queries.project(store, queries.setting(store, MARK))


def load_items(store: Store, project_id: str) -> dict[str, Item]:
    rows = store.conn.execute("SELECT id, data FROM items WHERE project_id=? ORDER BY seq", (project_id,))
    return {r[0]: Item.model_validate_json(r[1]) for r in rows}


SKELETONS = "SELECT id, skeleton FROM items WHERE project_id=? ORDER BY seq"  # from an index (0005)
_RUBRIC, _CHOSEN, _FIRST_TURN = (SKELETON_PATHS.index(p) for p in ("$.rubric", "$.rubric_criteria", "$.prompt[0].role"))
# read whole: gold and calibration items, and items with more responses than a skeleton holds
WHOLE = ("SELECT id, data FROM items WHERE project_id=? AND (skeleton IS NULL"
         f" OR json_extract(skeleton, '$[{SKELETON_RESPONSES}]') IS NOT NULL)")
# conversations, as far as the skeletons tell (items without one are read whole by the caller)
SKELETON_CONVERSATIONS = f"SELECT id FROM items WHERE project_id=? AND json_extract(skeleton, '$[{_FIRST_TURN}]') IS NOT NULL"


def item_skeletons(store: Store, project_id: str) -> dict[str, Item]:
    """The project's items without their texts: ids, kind, response ids, rubric criteria (gold and
    calibration items whole). Enough to check labels and compute figures, in a fraction of the time
    parsing every item takes: the skeletons come from an index, and items of one shape share it."""
    return _skeletons(store, project_id, store.tuples(SKELETONS, (project_id,)), named=True)


# the items of one shape, and the others: from the skeleton index, which the planner would rather
# not use for a count (it then computes every item's skeleton from its text, ten times slower)
SHAPE_COUNTS = ("SELECT skeleton, id FROM items INDEXED BY items_skeleton WHERE project_id=?"
                " GROUP BY skeleton ORDER BY count(*) DESC LIMIT 1")
OTHER_SHAPES = "SELECT id, skeleton FROM items INDEXED BY items_skeleton WHERE project_id=? AND skeleton IS NOT ? LIMIT ?"
# one row, the ids as one JSON array: a tenth of the cost of a row per id
ASSIGNED_SKELETONS = "SELECT json_group_array(item_id) FROM assignments WHERE project_id=? AND annotator=?"
MAX_OTHER_SHAPES = 50_000  # items kept apart from the common shape; past it, each annotator's are read


class AssignedSkeletons:
    """assigned_skeletons for one annotator after another (a merge of many bundles): the items'
    shapes are read once, the most common one kept as one object and the items of every other
    shape (gold and calibration items whole) by id, at most MAX_OTHER_SHAPES of them; each
    annotator then costs the ids of their assigned items, not a pass over the project's."""

    def __init__(self, store: Store, project_id: str):
        self.project_id = project_id
        common = store.one(SHAPE_COUNTS, (project_id,))
        self.common: Item | None = None
        self.others: dict[str, Item] | None = None
        if common is None or common[0] is None:
            return  # no items, or mostly gold: read per annotator
        rows = store.tuples(OTHER_SHAPES, (project_id, common[0], MAX_OTHER_SHAPES + 1)).fetchall()
        self.common = _skeletons(store, project_id, [(common[1], common[0])], named=False)[common[1]]
        if len(rows) <= MAX_OTHER_SHAPES and self.common is not None:  # None: too many responses to skeleton
            self.others = _skeletons(store, project_id, rows, named=False)

    def __call__(self, store: Store, annotator: str) -> dict[str, Item]:
        """item id -> skeleton of every item assigned to `annotator`, each of one shape the very
        same object (its id that of some item of the shape)."""
        if self.others is None:
            return _skeletons(store, self.project_id, store.tuples(_ASSIGNED_IN_ORDER, (self.project_id, annotator)),
                              named=False)
        out = dict.fromkeys(json.loads(store.one(ASSIGNED_SKELETONS, (self.project_id, annotator))[0]), self.common)
        for iid, item in self.others.items():
            if iid in out:
                out[iid] = item
        return out  # type: ignore[return-value]  (common is set with others)


# an annotator's assigned items' skeletons, for projects whose items have many shapes
_ASSIGNED_IN_ORDER = """
    SELECT i.id, i.skeleton FROM assignments a JOIN items i ON i.project_id=a.project_id AND i.id=a.item_id
    WHERE a.project_id=? AND a.annotator=? ORDER BY i.seq
"""


def assigned_skeletons(store: Store, project_id: str, annotator: str) -> dict[str, Item]:
    """item_skeletons of the items assigned to one annotator, each of one shape the very same
    object (its id is that of some item of the shape): what checking their labels needs, in
    memory bounded by their number (and MAX_OTHER_SHAPES), not the project's."""
    return AssignedSkeletons(store, project_id)(store, annotator)


def _skeletons(store: Store, project_id: str, rows, *, named: bool) -> dict[str, Item]:
    out: dict[str, Item | None] = {}
    shapes: dict[str, Item | None] = {}
    whole = False
    for iid, skeleton in rows:
        base = None if skeleton is None else shapes.get(skeleton, False)
        if base is False:  # a shape not seen yet: most datasets have a handful
            parts = json.loads(skeleton)
            responses = parts[:SKELETON_RESPONSES]
            base = shapes[skeleton] = None if parts[SKELETON_RESPONSES] is not None else Item.model_validate({
                "id": iid, "prompt": "", "responses": [{"id": r, "text": ""} for r in responses if r is not None],
                "rubric": parts[_RUBRIC], "rubric_criteria": parts[_CHOSEN]})
        if base is None:
            out[iid], whole = None, True  # filled below, keeping the items' order
        else:
            out[iid] = _renamed(base, iid) if named else base
    if whole:
        for iid, data in store.conn.execute(WHOLE, (project_id,)):
            if iid in out:
                out[iid] = Item.model_validate_json(data)
    return out  # type: ignore[return-value]  (every None was filled)


def _renamed(base: Item, item_id: str) -> Item:
    """A shallow copy of a validated item under another id: model_copy's work without its
    per-call overhead (a third of loading 200k skeletons). The parts are shared: never change them."""
    item = Item.__new__(Item)
    object.__setattr__(item, "__dict__", {**base.__dict__, "id": item_id})
    object.__setattr__(item, "__pydantic_fields_set__", base.__pydantic_fields_set__)
    object.__setattr__(item, "__pydantic_extra__", None)
    object.__setattr__(item, "__pydantic_private__", None)
    return item


def read_source_items(paths: list[str | Path], spec: Spec, fmt: str = "auto",
                      kind: str | None = None) -> tuple[list[Item], list[str]]:
    """Items of dataset files, each checked against the spec, and which shape each file was read as.

    `kind` turns every item into a gold or calibration item (which then needs gold answers)."""
    found = read_sources(paths, spec, fmt, kind=kind)
    return found.items, found.shapes


def read_guidelines(path: str | Path | None) -> str:
    if path is None:
        return ""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise SpecError(f"{path}: cannot read guidelines ({err})") from None


def insert_items(store: Store, project_id: str, items: list[Item]) -> None:
    seq = store.one("SELECT coalesce(max(seq), 0) FROM items WHERE project_id=?", (project_id,))[0]
    store.conn.executemany(
        "INSERT INTO items (project_id, id, seq, kind, data) VALUES (?,?,?,?,?)",
        [(project_id, it.id, seq + n, it.kind, it.model_dump_json(exclude_defaults=True))
         for n, it in enumerate(items, 1)])


def new_instance_id() -> str:
    """A project instance's id: 128 random bits, so two projects never share one, whatever their id."""
    return secrets.token_hex(16)


def create_project(*, spec_path: str | Path, items_paths: list[str | Path], out: str | Path,
                   identity: Identity, guidelines_path: str | Path | None = None,
                   fmt: str = "auto", force: bool = False, skip_invalid: bool = False,
                   responses: list[str | Path] = (), keep_source_responses: bool = False) -> Change:
    """Read and check everything, then write the project file whole (a failure leaves no file).

    `responses`, `keep_source_responses`, `skip_invalid`: as ops.sources.read_sources; the rows
    set aside are listed in OUT.rejected.jsonl."""
    out = Path(out)
    if out.exists() and not force:
        raise AnnotaryError(f"{out}: already exists (pass --force to replace it)")
    _refuse_if_open(out)
    spec = load_spec_file(spec_path)
    if guidelines_path is None:
        default = Path(spec_path).with_name("guidelines.md")
        guidelines_path = default if default.exists() else None
    guidelines = read_guidelines(guidelines_path)
    found = Sources([], [])
    items = stream_sources(found, list(items_paths), spec, fmt, skip_invalid=skip_invalid,
                           responses=list(responses), keep_source_responses=keep_source_responses)
    pid = spec.resolved_project_id
    tmp = out.with_name(f".{out.name}.creating")
    _remove_db(tmp)
    store = open_store(tmp)
    try:
        with store.atomic():
            store.conn.execute(
                "INSERT INTO projects (id, name, spec, guidelines, guidelines_version,"
                " coordinator_key_id, coordinator_public_key, coordinator_name, round, created_at, instance_id)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (pid, spec.name, spec.model_dump_json(), guidelines, spec.guidelines_version,
                 identity.key_id, identity.public_key, identity.name, 1, now_iso(), new_instance_id()))
            kinds = Counter()
            # read, checked and written a chunk at a time: the dataset is never in memory whole
            while chunk := list(itertools.islice(items, INSERT_CHUNK)):
                insert_items(store, pid, chunk)
                kinds.update(i.kind for i in chunk)
            if not kinds:
                raise ItemError("no items to put in the project")
            store.conn.execute("INSERT INTO settings (key, value) VALUES (?, ?)", (MARK, f'"{pid}"'))
    except BaseException:
        store.close()
        _remove_db(tmp)
        raise
    store.close()  # checkpoints the WAL into the file before it is moved
    try:
        _refuse_if_open(out)  # opened while the items were read
    except AnnotaryError:
        _remove_db(tmp)
        raise
    _remove_db(out)
    os.replace(tmp, out)
    listed = write_rejected(out, found.rejected) if skip_invalid else None
    total = sum(kinds.values())
    kinds = {k: kinds[k] for k in ("normal", "gold", "calibration")}
    left = f"\n{rejected_line(found.rejected, listed)}" if listed else ""
    return Change(op="create", project_id=pid,
                  counts={"items": total, **kinds, **({"rejected": len(found.rejected)} if skip_invalid else {})},
                  message=f"created {out.name}: project {pid!r}, {total} items "
                          f"({kinds['gold']} gold, {kinds['calibration']} calibration); "
                          f"read {'; '.join(found.shapes)}{found.summary}{left}")


def _refuse_if_open(out: Path) -> None:
    """Replacing a project file someone has open would pull it and its WAL files from under them."""
    if open_elsewhere(out):
        raise AnnotaryError(f"{out.name} is in use (open in a workspace or a running command); close it "
                            "before replacing it")


def _remove_db(path: Path) -> None:
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        p.unlink(missing_ok=True)


def set_guidelines(store: Store, *, guidelines_path: str | Path, version: str) -> Change:
    """New guidelines for the next round: labels record the version they were made under."""
    info = project_info(store)
    version = version.strip()
    if not version:
        raise SpecError("the guidelines version is empty")
    if version == info.guidelines_version:
        raise SpecError(f"the guidelines are already version {version!r}; give the new text a new version")
    text = read_guidelines(guidelines_path)
    spec = info.spec.model_copy(update={"guidelines_version": version})
    with store.atomic():
        store.conn.execute("UPDATE projects SET spec=?, guidelines=?, guidelines_version=? WHERE id=?",
                           (spec.model_dump_json(), text, version, info.id))
    return Change(op="guidelines", project_id=info.id, counts={},
                  message=f"guidelines version {version} set; the next round's bundles carry it")
