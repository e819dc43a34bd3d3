"""Read-only queries over a store, for flows, screens and commands."""

from __future__ import annotations

import json
from dataclasses import dataclass

from annotary.core.adjudication import Case
from annotary.core.items import Item
from annotary.core.labels import Label
from annotary.core.spec import Spec
from annotary.store import Store


@dataclass(frozen=True)
class ProjectInfo:
    id: str
    name: str
    spec: Spec
    guidelines: str
    guidelines_version: str
    coordinator_key_id: str | None
    coordinator_name: str | None
    round: int
    total: int
    done: int
    opened_at: str | None
    kind: str = "tasks"  # "adjudication": a reviewer's project of cases to decide
    instance_id: str | None = None  # the project instance its coordinator made (None: not known yet)


def _project(store: Store, row, annotator: str | None) -> ProjectInfo:
    total = store.one("SELECT count(*) FROM items WHERE project_id=?", (row["id"],))[0]
    done = 0
    if annotator:
        done = store.one(
            "SELECT count(DISTINCT item_id) FROM labels WHERE project_id=? AND annotator=?"
            " AND retracted=0",
            (row["id"], annotator),
        )[0]
    return ProjectInfo(
        id=row["id"], name=row["name"], spec=Spec.model_validate_json(row["spec"]),
        guidelines=row["guidelines"], guidelines_version=row["guidelines_version"],
        coordinator_key_id=row["coordinator_key_id"], coordinator_name=row["coordinator_name"],
        round=row["round"], total=total, done=done, opened_at=row["opened_at"],
        kind=row["kind"], instance_id=row["instance_id"],
    )


def projects(store: Store, annotator: str | None = None) -> list[ProjectInfo]:
    """Every project, most recently opened first."""
    rows = store.query("SELECT * FROM projects ORDER BY coalesce(opened_at, created_at) DESC")
    return [_project(store, r, annotator) for r in rows]


def project(store: Store, project_id: str, annotator: str | None = None) -> ProjectInfo | None:
    row = store.one("SELECT * FROM projects WHERE id=?", (project_id,))
    return _project(store, row, annotator) if row else None


def item_ids(store: Store, project_id: str) -> list[str]:
    """Item ids in bundle order."""
    rows = store.conn.execute(
        "SELECT id FROM items WHERE project_id=? ORDER BY seq", (project_id,)
    ).fetchall()
    return [r[0] for r in rows]


def item(store: Store, project_id: str, item_id: str) -> Item:
    row = store.one("SELECT data FROM items WHERE project_id=? AND id=?", (project_id, item_id))
    if row is None:
        raise KeyError(item_id)
    return Item.model_validate_json(row[0])


CURRENT = """
    SELECT l.data FROM labels l
    WHERE l.project_id=? AND l.annotator=? AND l.retracted=0 {extra}
      AND l.revision = (SELECT max(revision) FROM labels m
                        WHERE m.project_id=l.project_id AND m.item_id=l.item_id
                          AND m.question_id=l.question_id AND m.annotator=l.annotator
                          AND m.retracted=0)
    ORDER BY l.id
"""


def current_labels(store: Store, project_id: str, annotator: str, item_id: str | None = None) -> list[Label]:
    """The latest non-retracted revision of each (item, question) label of one annotator."""
    sql = CURRENT.format(extra="AND l.item_id=?" if item_id is not None else "")
    params = (project_id, annotator, item_id) if item_id is not None else (project_id, annotator)
    return [Label.model_validate_json(r[0]) for r in store.conn.execute(sql, params)]


def labeled_item_ids(store: Store, project_id: str, annotator: str) -> set[str]:
    rows = store.conn.execute(
        "SELECT DISTINCT item_id FROM labels WHERE project_id=? AND annotator=? AND retracted=0",
        (project_id, annotator),
    )
    return {r[0] for r in rows}


def flagged_item_ids(store: Store, project_id: str, annotator: str) -> set[str]:
    sql = CURRENT.format(extra="AND json_array_length(l.data, '$.flags') > 0").replace(
        "SELECT l.data", "SELECT DISTINCT l.item_id")
    return {r[0] for r in store.conn.execute(sql, (project_id, annotator))}


def label_revisions(store: Store, project_id: str, annotator: str, item_id: str) -> list[Label]:
    """Every stored revision (retracted ones included), oldest first."""
    rows = store.query(
        "SELECT data FROM labels WHERE project_id=? AND annotator=? AND item_id=?"
        " ORDER BY question_id, revision",
        (project_id, annotator, item_id),
    )
    return [Label.model_validate_json(r[0]) for r in rows]


def retracted_latest(store: Store, project_id: str, annotator: str, item_id: str) -> list[Label]:
    """Per question, the newest revision when that revision was retracted (undone)."""
    rows = store.query(
        "SELECT l.data FROM labels l WHERE l.project_id=? AND l.annotator=? AND l.item_id=?"
        " AND l.retracted=1 AND l.revision=(SELECT max(revision) FROM labels m"
        " WHERE m.project_id=l.project_id AND m.item_id=l.item_id AND m.question_id=l.question_id"
        " AND m.annotator=l.annotator)",
        (project_id, annotator, item_id),
    )
    return [Label.model_validate_json(r[0]) for r in rows]


def draft(store: Store, project_id: str, item_id: str, annotator: str) -> dict | None:
    row = store.one(
        "SELECT data FROM drafts WHERE project_id=? AND item_id=? AND annotator=?",
        (project_id, item_id, annotator),
    )
    return json.loads(row[0]) if row else None


def bundle_log(store: Store, project_id: str | None = None) -> list[dict]:
    sql = "SELECT * FROM bundle_log" + (" WHERE project_id=?" if project_id else "") + " ORDER BY id"
    rows = store.query(sql, (project_id,) if project_id else ())
    return [dict(r) | {"counts": json.loads(r["counts"])} for r in rows]


def setting(store: Store, key: str, default=None):
    row = store.one("SELECT value FROM settings WHERE key=?", (key,))
    return json.loads(row[0]) if row else default


def assets(store: Store, project_id: str, prefix: str = "") -> dict[str, bytes]:
    """Files that came with the project's bundles (guideline images), by path without prefix."""
    rows = store.query("SELECT name, data FROM assets WHERE project_id=? AND name LIKE ?",
                       (project_id, prefix + "%"))
    return {r["name"][len(prefix):]: bytes(r["data"]) for r in rows}


def cases(store: Store, project_id: str) -> dict[tuple[str, str], Case]:
    """(item, question) -> the case a reviewer decides."""
    rows = store.conn.execute("SELECT item_id, question_id, data FROM cases WHERE project_id=?",
                              (project_id,))
    return {(r[0], r[1]): Case.model_validate_json(r[2]) for r in rows}
