"""Exporting an annotator's current labels (a reviewer's decisions) as a signed bundle."""

from __future__ import annotations

from pathlib import Path

from annotary.bundles.bundle import write_bundle
from annotary.bundles.identity import Identity
from annotary.bundles.records import dump_jsonl
from annotary.bundles.sealed import Recipient
from annotary.core.adjudication import Decision
from annotary.core.changes import Change
from annotary.core.errors import LabelError
from annotary.core.labels import Label
from annotary.ops import queries
from annotary.ops.bundling import instance_fields
from annotary.ops.sealing import (
    DEFAULT_CHOICE,
    Encryption,
    came_sealed,
    coordinator_recipient,
    recipients,
    seal_options,
    sealed_text,
)
from annotary.store import Store


def export_results(store: Store, *, project_id: str, identity: Identity, out: str | Path,
                   encryption: Encryption = DEFAULT_CHOICE) -> Change:
    """Write every current label of this annotator in the project, signed with their key;
    encrypted to the project's coordinator (see export_recipients)."""
    info = queries.project(store, project_id)
    if info is None:
        raise LabelError(f"no project {project_id!r} in this store")
    labels = queries.current_labels(store, project_id, identity.key_id)
    out = Path(out)
    chosen = export_recipients(store, info, identity, encryption, out.name)
    if info.kind == "adjudication":
        return _export_decisions(store, info, labels, identity, out, chosen)
    write_bundle(
        out, kind="results", project_id=project_id, project_name=info.name, identity=identity,
        round=info.round, **instance_fields(info),
        members={
            "spec.json": info.spec.model_dump_json(indent=2).encode(),
            "results.jsonl": dump_jsonl(labels),
        },
        counts={"results.jsonl": len(labels)},
        **seal_options(chosen),
    )
    items = len({lab.item_id for lab in labels})
    return Change(op="export", project_id=project_id, counts={"labels": len(labels), "items": items},
                  message=f"wrote {out.name}{sealed_text(chosen)}: {len(labels)} labels of {items} items")


def export_recipients(store: Store, info, identity: Identity, encryption: Encryption, what: str) -> list[Recipient]:
    """Who an annotator's (a reviewer's) export is encrypted to: by default, when the project is
    confidential or its task bundle came encrypted, to the coordinator named in it (and the
    annotator); none with --plaintext."""
    coordinator = coordinator_recipient(store, info.id)
    return recipients(encryption, signer=identity, readers=[coordinator] if coordinator else [],
                      confidential=info.spec.confidential, by_default=came_sealed(store, info.id), what=what)


def export_default(store: Store, project_id: str) -> str | None:
    """The coordinator's name when the project's results go encrypted to them by default (its
    task bundle came encrypted, or it is confidential); None when they go signed only."""
    info = queries.project(store, project_id)
    coordinator = coordinator_recipient(store, project_id)
    if info is None or coordinator is None:
        return None
    return coordinator.name if info.spec.confidential or came_sealed(store, project_id) else None


def decisions_of(store: Store, project_id: str, labels: list[Label]) -> list[Decision]:
    """A reviewer's current labels as decisions: which annotator answer (if any) was adopted
    unchanged, and whether the decision overrides a majority."""
    cases = queries.cases(store, project_id)
    out = []
    for lab in labels:
        case = cases.get((lab.item_id, lab.question_id))
        if case is None or lab.answer is None:
            continue
        given = [a.answer for a in case.answers]
        out.append(Decision(
            item_id=lab.item_id, question_id=lab.question_id, reviewer=lab.annotator,
            revision=lab.revision, decided_at=lab.submitted_at, answer=lab.answer,
            adopted=given.index(lab.answer) if lab.answer in given else None,
            overrides_majority=case.majority is not None and lab.answer != given[case.majority],
            reason=lab.rationale, duration_ms=lab.duration_ms))
    return out


def _export_decisions(store: Store, info, labels: list[Label], identity: Identity, out: Path,
                      chosen: list[Recipient]) -> Change:
    decisions = decisions_of(store, info.id, labels)
    write_bundle(
        out, kind="decisions", project_id=info.id, project_name=info.name, identity=identity,
        round=info.round, **instance_fields(info),
        members={"spec.json": info.spec.model_dump_json(indent=2).encode(),
                 "decisions.jsonl": dump_jsonl(decisions)},
        counts={"decisions.jsonl": len(decisions)},
        **seal_options(chosen),
    )
    items = len({d.item_id for d in decisions})
    return Change(op="export", project_id=info.id, counts={"decisions": len(decisions), "items": items},
                  message=f"wrote {out.name}{sealed_text(chosen)}: {len(decisions)} decisions on {items} items")
