"""Labels from outside the roster: non-human raters (LLM judges, reward models) and published human labels."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from annotary.bundles.records import iter_jsonl_dicts
from annotary.core.changes import Change
from annotary.core.coordination import RaterLabel
from annotary.core.errors import AnnotaryError, BundleError, LabelError, describe_validation
from annotary.core.labels import Label, check_label_fits
from annotary.core.spec import ID_PATTERN
from annotary.ops.project import item_skeletons, project_info
from annotary.store import Store
from annotary.store.db import now_iso


def rater_id(name: str, *, human: bool = False) -> str:
    """The labels' annotator id: "rater:NAME" never counts toward human consensus, "human:NAME" does."""
    if not re.match(ID_PATTERN, name):
        raise AnnotaryError(f"rater name {name!r}: use letters, digits, '.', '_' or '-' (at most 64)")
    return f"{'human' if human else 'rater'}:{name}"


def import_rater_labels(store: Store, *, rater: str, path: str | Path, human: bool = False) -> Change:
    """Add a rater's labels (one JSON object a line, see RaterLabel); a bad line refuses the whole file.

    Importing the same file again changes nothing; a changed answer becomes a new revision."""
    path = Path(path)
    info = project_info(store)
    who = rater_id(rater, human=human)
    known = store.one("SELECT 1 FROM raters WHERE project_id=? AND id=?", (info.id, who))
    try:
        data = path.read_bytes()
    except OSError as err:
        raise LabelError(f"{path.name}: cannot read ({err.strerror or err})") from None
    items = item_skeletons(store, info.id)
    questions = {q.id: q for q in info.spec.questions}
    current = {(r[0], r[1]): (r[2], r[3]) for r in store.query(
        "SELECT item_id, question_id, max(revision), data FROM labels WHERE project_id=? AND annotator=?"
        " GROUP BY item_id, question_id", (info.id, who))}
    now = datetime.now(UTC)
    rows, seen, same = [], {}, 0
    try:
        lines = list(iter_jsonl_dicts(data, path.name))
    except BundleError as err:
        raise LabelError(err.message) from None
    if not lines:
        raise LabelError(f"{path.name}: no labels")
    for n, raw in lines:
        at = f"{path.name} line {n}"
        try:
            row = RaterLabel.model_validate(raw)
        except ValidationError as err:
            raise LabelError(f"{at}: {describe_validation(err)}") from None
        item = items.get(row.item_id)
        if item is None:
            raise LabelError(f"{at}: item_id: no item {row.item_id!r} in project {info.id!r}")
        if row.question_id not in questions:
            raise LabelError(f"{at}: question_id: no question {row.question_id!r} in the spec")
        key = (row.item_id, row.question_id)
        if key in seen:
            raise LabelError(f"{at}: item {row.item_id!r}, question {row.question_id!r} again (first at line {seen[key]})")
        seen[key] = n
        q = questions[row.question_id]
        # a probability on the question's confidence scale, as a person would have given it
        conf = None if row.confidence is None else 1 + round(row.confidence * (q.confidence_scale - 1))
        rev, old = current.get(key, (0, None))
        label = Label(project_id=info.id, item_id=row.item_id, question_id=row.question_id, annotator=who,
                      revision=rev + 1, created_at=now, submitted_at=now, duration_ms=0,
                      shown_order=[r.id for r in item.responses], answer=row.answer,
                      rationale=row.rationale, confidence=conf, spec_version=info.spec.version(),
                      guidelines_version=info.guidelines_version)
        try:
            check_label_fits(label, info.spec, item)
        except LabelError as err:
            raise LabelError(f"{at}: {err.message}") from None
        if old is not None and _same(old, label):
            same += 1
            continue
        rows.append((info.id, row.item_id, row.question_id, who, label.revision, label.model_dump_json(),
                     now.isoformat(), f"file:{hashlib.sha256(data).hexdigest()}"))
    with store.atomic():
        if known is None:
            store.conn.execute("INSERT INTO raters (project_id, id, name, human, added_at) VALUES (?,?,?,?,?)",
                               (info.id, who, rater, int(human), now_iso()))
        store.conn.executemany(
            "INSERT INTO labels (project_id, item_id, question_id, annotator, revision, data, submitted_at,"
            " source) VALUES (?,?,?,?,?,?,?,?)", rows)
    what = "human annotator (outside the roster)" if human else "non-human rater"
    return Change(op="rater-import", project_id=info.id, counts={"labels": len(rows), "unchanged": same},
                  message=f"{who} ({what}): {len(rows)} labels added, {same} unchanged")


def _same(old_json: str, new: Label) -> bool:
    old = Label.model_validate_json(old_json)
    return (old.answer, old.confidence, old.rationale) == (new.answer, new.confidence, new.rationale)
