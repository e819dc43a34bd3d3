"""Append-only named migrations. A shipped step is never edited; add a new one instead."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # loaded when a store is made or updated (annotary.store.db._sqlite_utils)
    import sqlite_utils


def _0001_initial(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE projects (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            spec TEXT NOT NULL,
            guidelines TEXT NOT NULL DEFAULT '',
            guidelines_version TEXT NOT NULL,
            coordinator_key_id TEXT,
            coordinator_public_key TEXT,
            coordinator_name TEXT,
            round INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            opened_at TEXT
        );
        CREATE TABLE items (
            project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            kind TEXT NOT NULL DEFAULT 'normal',
            data TEXT NOT NULL,
            PRIMARY KEY (project_id, id)
        );
        CREATE UNIQUE INDEX items_seq ON items(project_id, seq);
        CREATE TABLE labels (
            id INTEGER PRIMARY KEY,
            project_id TEXT NOT NULL,
            item_id TEXT NOT NULL,
            question_id TEXT NOT NULL,
            annotator TEXT NOT NULL,
            revision INTEGER NOT NULL,
            retracted INTEGER NOT NULL DEFAULT 0,
            data TEXT NOT NULL,
            submitted_at TEXT NOT NULL,
            FOREIGN KEY (project_id, item_id) REFERENCES items(project_id, id) ON DELETE CASCADE
        );
        CREATE UNIQUE INDEX labels_rev
            ON labels(project_id, item_id, question_id, annotator, revision);
        CREATE TABLE drafts (
            project_id TEXT NOT NULL,
            item_id TEXT NOT NULL,
            annotator TEXT NOT NULL,
            data TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (project_id, item_id, annotator),
            FOREIGN KEY (project_id, item_id) REFERENCES items(project_id, id) ON DELETE CASCADE
        );
        CREATE TABLE journal (
            id INTEGER PRIMARY KEY,
            project_id TEXT NOT NULL,
            op TEXT NOT NULL,
            payload TEXT NOT NULL,
            undone INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        );
        CREATE INDEX journal_project ON journal(project_id, id);
        CREATE TABLE bundle_log (
            id INTEGER PRIMARY KEY,
            sha256 TEXT NOT NULL,
            kind TEXT NOT NULL,
            bundle_id TEXT NOT NULL,
            project_id TEXT NOT NULL,
            signer_key_id TEXT NOT NULL,
            signer_name TEXT NOT NULL,
            file_name TEXT NOT NULL,
            imported_at TEXT NOT NULL,
            counts TEXT NOT NULL
        );
        CREATE INDEX bundle_log_sha ON bundle_log(sha256);
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """
    )


def _0002_assets(db: sqlite_utils.Database) -> None:
    """Files that travel with a project's bundles, such as the guidelines' images."""
    db.executescript(
        """
        CREATE TABLE assets (
            project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (project_id, name)
        );
        """
    )


def _0003_coordinator(db: sqlite_utils.Database) -> None:
    """A coordinator's project: roster, outside raters, rounds, assignments, label provenance."""
    db.executescript(
        """
        CREATE TABLE roster (
            project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            key_id TEXT NOT NULL,
            name TEXT NOT NULL,
            role TEXT NOT NULL,
            public_key TEXT NOT NULL,
            card TEXT NOT NULL,
            rate_per_hour REAL,
            added_at TEXT NOT NULL,
            removed_at TEXT,
            PRIMARY KEY (project_id, key_id)
        );
        CREATE TABLE raters (
            project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            id TEXT NOT NULL,
            name TEXT NOT NULL,
            human INTEGER NOT NULL DEFAULT 0,
            added_at TEXT NOT NULL,
            PRIMARY KEY (project_id, id)
        );
        CREATE TABLE rounds (
            project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            round INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            guidelines_version TEXT NOT NULL,
            settings TEXT NOT NULL,
            counts TEXT NOT NULL,
            PRIMARY KEY (project_id, round)
        );
        CREATE TABLE assignments (
            project_id TEXT NOT NULL,
            item_id TEXT NOT NULL,
            annotator TEXT NOT NULL,
            round INTEGER NOT NULL,
            kind TEXT NOT NULL,
            PRIMARY KEY (project_id, item_id, annotator),
            FOREIGN KEY (project_id, item_id) REFERENCES items(project_id, id) ON DELETE CASCADE
        );
        CREATE INDEX assignments_annotator ON assignments(project_id, annotator, item_id);
        CREATE INDEX labels_annotator ON labels(project_id, annotator, item_id);
        -- where a label came from: bundle:<bundle_log id> (merge) or file:<sha256> (labels import)
        ALTER TABLE labels ADD COLUMN source TEXT;
        ALTER TABLE bundle_log ADD COLUMN details TEXT NOT NULL DEFAULT '{}';
        """
    )


def _0004_adjudication(db: sqlite_utils.Database) -> None:
    """Reviewers: the cases they receive, the cases sent out, and the decisions merged back."""
    db.executescript(
        """
        ALTER TABLE projects ADD COLUMN kind TEXT NOT NULL DEFAULT 'tasks';
        CREATE TABLE cases (
            project_id TEXT NOT NULL,
            item_id TEXT NOT NULL,
            question_id TEXT NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (project_id, item_id, question_id),
            FOREIGN KEY (project_id, item_id) REFERENCES items(project_id, id) ON DELETE CASCADE
        );
        CREATE TABLE adjudications (
            project_id TEXT NOT NULL,
            bundle_id TEXT NOT NULL,
            reviewer TEXT NOT NULL,
            item_id TEXT NOT NULL,
            question_id TEXT NOT NULL,
            reason TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (project_id, reviewer, item_id, question_id, bundle_id)
        );
        CREATE TABLE decisions (
            project_id TEXT NOT NULL,
            item_id TEXT NOT NULL,
            question_id TEXT NOT NULL,
            reviewer TEXT NOT NULL,
            revision INTEGER NOT NULL,
            data TEXT NOT NULL,
            merged_at TEXT NOT NULL,
            PRIMARY KEY (project_id, item_id, question_id, reviewer, revision)
        );
        """
    )


SKELETON_RESPONSES = 9  # items with more responses (rare) are read whole
# [the ids of the first ten responses (null-padded), rubric, rubric_criteria, the first turn's role
# (null unless the prompt is a conversation)]: one json_extract, so one parse of the item per write
SKELETON_PATHS = [*(f"$.responses[{i}].id" for i in range(SKELETON_RESPONSES + 1)),
                  "$.rubric", "$.rubric_criteria", "$.prompt[0].role"]


def _0005_item_skeletons(db: sqlite_utils.Database) -> None:
    """What figures and checks need of an item without its texts, kept in an index (SKELETON_PATHS).
    A generated column, so no write path can forget it; NULL for gold and calibration items,
    which are read whole (as are items with a tenth response). Reading the index instead of every
    item's text makes loading 100k items' skeletons several times faster."""
    paths = ", ".join(f"'{p}'" for p in SKELETON_PATHS)
    db.executescript(
        f"""
        ALTER TABLE items ADD COLUMN skeleton TEXT AS (
            CASE WHEN kind='normal' THEN json_extract(data, {paths}) END) VIRTUAL;
        CREATE INDEX items_skeleton ON items(project_id, seq, id, skeleton);
        """
    )


# what figures need of a label: its verdict, [answer, guidelines version] (equal verdicts are
# equal answers), and its facts, [the response shown first, confidence]
LABEL_VERDICT = ("$.answer", "$.guidelines_version")
LABEL_FACTS = ("$.shown_order[0]", "$.confidence")


def _0006_label_facts(db: sqlite_utils.Database) -> None:
    """What figures need of a label (LABEL_VERDICT, LABEL_FACTS), kept in the index labels are
    looked up by annotator with. Generated columns, taken with json_extract when a label is
    written; the current labels of a project (newest revision per item, question and annotator)
    are then read from the index in its order, without parsing any label's JSON."""
    verdict, facts = (", ".join(f"'{p}'" for p in paths) for paths in (LABEL_VERDICT, LABEL_FACTS))
    db.executescript(
        f"""
        ALTER TABLE labels ADD COLUMN verdict TEXT AS (json_extract(data, {verdict})) VIRTUAL;
        ALTER TABLE labels ADD COLUMN facts TEXT AS (json_extract(data, {facts})) VIRTUAL;
        DROP INDEX labels_annotator;
        CREATE INDEX labels_current ON labels(project_id, annotator, item_id, question_id, revision,
                                              retracted, verdict, facts);
        """
    )


def _0007_project_instance(db: sqlite_utils.Database) -> None:
    """Each project instance its own random id, so bundles of two projects that share a project id
    are told apart. A coordinator's project made before this step gets one now (its bundles from
    now on carry it); a project imported by an annotator or reviewer gets the id its coordinator's
    next bundle carries (NULL until then: its bundles then carry none, as before)."""
    db.executescript(
        """
        ALTER TABLE projects ADD COLUMN instance_id TEXT;
        UPDATE projects SET instance_id = lower(hex(randomblob(16)))
            WHERE id IN (SELECT json_extract(value, '$') FROM settings WHERE key = 'coordinator_project');
        """
    )


MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("0001_initial", _0001_initial),
    ("0002_assets", _0002_assets),
    ("0003_coordinator", _0003_coordinator),
    ("0004_adjudication", _0004_adjudication),
    ("0005_item_skeletons", _0005_item_skeletons),
    ("0006_label_facts", _0006_label_facts),
    ("0007_project_instance", _0007_project_instance),
]
