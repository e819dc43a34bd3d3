"""Labeling operations: submit an item, undo and redo submits, drafts, settings."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pydantic import ValidationError

from annotary.core.changes import Change
from annotary.core.errors import LabelError, describe_validation
from annotary.core.labels import Answer, Label, check_label_fits
from annotary.ops import queries
from annotary.store import Store
from annotary.store.db import now_iso


def submit_item(
    store: Store,
    *,
    project_id: str,
    item_id: str,
    annotator: str,
    shown_order: list[str],
    answers: dict[str, Answer | None],
    rationales: dict[str, str] | None = None,
    confidences: dict[str, int] | None = None,
    flags: list[str] | tuple[str, ...] = (),
    skip_reason: str | None = None,
    started_at: datetime | None = None,
    duration_ms: int = 0,
) -> Change:
    """Store one new revision of every answered question of an item, in one transaction."""
    info = queries.project(store, project_id)
    if info is None:
        raise LabelError(f"no project {project_id!r} in this store")
    spec = info.spec
    try:
        item = queries.item(store, project_id, item_id)
    except KeyError:
        raise LabelError(f"no item {item_id!r} in project {project_id!r}") from None
    rationales = rationales or {}
    confidences = confidences or {}
    skip_reason = (skip_reason or "").strip() or None
    if skip_reason is None:
        missing = [q.id for q in spec.questions if q.required and answers.get(q.id) is None]
        if missing:
            raise LabelError(f"item {item_id!r}: no answer to {', '.join(missing)}")
    now = datetime.now(UTC)
    labels = []
    for q in spec.questions:
        answer = None if skip_reason else answers.get(q.id)
        if answer is None and not skip_reason:
            continue  # an optional question left unanswered
        rationale = (rationales.get(q.id) or "").strip() or None
        prev = store.one(
            "SELECT max(revision) FROM labels WHERE project_id=? AND item_id=? AND question_id=?"
            " AND annotator=?",
            (project_id, item_id, q.id, annotator),
        )[0]
        first = store.one(
            "SELECT data FROM labels WHERE project_id=? AND item_id=? AND question_id=?"
            " AND annotator=? ORDER BY revision LIMIT 1",
            (project_id, item_id, q.id, annotator),
        )
        created = Label.model_validate_json(first[0]).created_at if first else (started_at or now)
        try:
            label = Label(
                project_id=project_id, item_id=item_id, question_id=q.id, annotator=annotator,
                revision=(prev or 0) + 1, created_at=created, submitted_at=now,
                duration_ms=max(0, int(duration_ms)), shown_order=list(shown_order), answer=answer,
                rationale=rationale, confidence=confidences.get(q.id), flags=sorted(set(flags)),
                skip_reason=skip_reason, spec_version=spec.version(),
                guidelines_version=info.guidelines_version,
            )
        except ValidationError as err:  # e.g. a confidence outside 1..9: the caller's input
            raise LabelError(
                f"label of item {item_id!r}, question {q.id!r}: {describe_validation(err)}"
            ) from None
        check_label_fits(label, spec, item)
        labels.append(label)
    ids = []
    with store.atomic():
        for label in labels:
            cur = store.conn.execute(
                "INSERT INTO labels (project_id, item_id, question_id, annotator, revision, data,"
                " submitted_at) VALUES (?,?,?,?,?,?,?)",
                (project_id, item_id, label.question_id, annotator, label.revision,
                 label.model_dump_json(), label.submitted_at.isoformat()),
            )
            ids.append(cur.lastrowid)
        # a new change ends the redo history
        store.conn.execute("UPDATE journal SET undone=2 WHERE project_id=? AND undone=1", (project_id,))
        _journal(store, project_id, "submit", {"item_id": item_id, "label_ids": ids})
        store.conn.execute(
            "DELETE FROM drafts WHERE project_id=? AND item_id=? AND annotator=?",
            (project_id, item_id, annotator),
        )
    revision = max((lab.revision for lab in labels), default=1)
    return Change(op="submit", project_id=project_id, item_ids=(item_id,),
                  counts={"labels": len(labels), "revision": revision},
                  message=f"item {item_id} saved (revision {revision})")


def _journal(store: Store, project_id: str, op: str, payload: dict) -> None:
    store.conn.execute(
        "INSERT INTO journal (project_id, op, payload, created_at) VALUES (?,?,?,?)",
        (project_id, op, json.dumps(payload), now_iso()),
    )


def undo(store: Store, *, project_id: str) -> Change | None:
    """Retract the labels of the last submit not yet undone; None when there is nothing to undo."""
    with store.atomic():
        row = store.one(
            "SELECT id, op, payload FROM journal WHERE project_id=? AND undone=0 ORDER BY id DESC LIMIT 1",
            (project_id,),
        )
        if row is None:
            return None
        payload = json.loads(row["payload"])
        _set_retracted(store, payload["label_ids"], 1)
        store.conn.execute("UPDATE journal SET undone=1 WHERE id=?", (row["id"],))
    return Change(op="undo", project_id=project_id, item_ids=(payload["item_id"],),
                  message=f"submit of item {payload['item_id']} undone")


def redo(store: Store, *, project_id: str) -> Change | None:
    """Restore the most recently undone submit; None when there is nothing to redo."""
    with store.atomic():
        row = store.one(
            # undo walks newest-first, so the oldest undone entry is the one undone last
            "SELECT id, payload FROM journal WHERE project_id=? AND undone=1 ORDER BY id ASC LIMIT 1",
            (project_id,),
        )
        if row is None:
            return None
        payload = json.loads(row["payload"])
        _set_retracted(store, payload["label_ids"], 0)
        store.conn.execute("UPDATE journal SET undone=0 WHERE id=?", (row["id"],))
    return Change(op="redo", project_id=project_id, item_ids=(payload["item_id"],),
                  message=f"submit of item {payload['item_id']} redone")


def _set_retracted(store: Store, label_ids: list[int], value: int) -> None:
    store.conn.executemany("UPDATE labels SET retracted=? WHERE id=?", [(value, i) for i in label_ids])


def save_draft(store: Store, *, project_id: str, item_id: str, annotator: str, data: dict | None) -> None:
    """Autosave an unsubmitted answer; None clears it."""
    with store.atomic():
        if data is None:
            store.conn.execute(
                "DELETE FROM drafts WHERE project_id=? AND item_id=? AND annotator=?",
                (project_id, item_id, annotator),
            )
        else:
            store.conn.execute(
                "INSERT INTO drafts (project_id, item_id, annotator, data, updated_at) VALUES (?,?,?,?,?)"
                " ON CONFLICT(project_id, item_id, annotator) DO UPDATE SET data=excluded.data,"
                " updated_at=excluded.updated_at",
                (project_id, item_id, annotator, json.dumps(data), now_iso()),
            )


def set_setting(store: Store, *, key: str, value) -> None:
    with store.atomic():
        store.conn.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, json.dumps(value)),
        )


def mark_opened(store: Store, *, project_id: str) -> None:
    if store.read_only:  # a read-only store is only read: opening a project leaves no trace
        return
    with store.atomic():
        store.conn.execute("UPDATE projects SET opened_at=? WHERE id=?", (now_iso(), project_id))
