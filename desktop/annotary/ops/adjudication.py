"""Adjudication on the coordinator's side: send conflicts to a reviewer, merge the decisions."""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path

from annotary.bundles.bundle import write_bundle
from annotary.bundles.identity import Identity
from annotary.bundles.records import dump_jsonl
from annotary.core.adjudication import Case, CaseAnswer, Decision
from annotary.core.changes import Change
from annotary.core.errors import AnnotaryError, BundleError, LabelError, TrustError
from annotary.core.labels import check_answer_fits
from annotary.core.spec import Requirement
from annotary.ops import queries
from annotary.ops.annotate import set_setting
from annotary.ops.assign import task_view
from annotary.ops.bundling import check_instance, instance_fields, logged_before, open_local
from annotary.ops.merge import MergeReport
from annotary.ops.project import ANSWER, item_skeletons, project_info
from annotary.ops.quality import QualityReport, load_raters, quality_report
from annotary.ops.roster import members, read_card
from annotary.ops.sealing import (
    DEFAULT_CHOICE,
    Encryption,
    recipients,
    roster_recipient,
    seal_options,
    sealed_text,
)
from annotary.store import Store
from annotary.store.db import now_iso

SHOW_NAMES = "adjudication.show_names"  # project setting: names or pseudonyms for reviewers


def set_show_names(store: Store, *, show: bool) -> Change:
    set_setting(store, key=SHOW_NAMES, value=show)
    return Change(op="setting", message=f"reviewers see annotators' {'names' if show else 'pseudonyms'}")


def _reviewer(store: Store, reviewer: str) -> str:
    """The key id of an active reviewer of the roster, given a key id or a card file."""
    key = reviewer
    if Path(reviewer).suffix == ".json" and Path(reviewer).exists():
        key = read_card(reviewer).key_id
    for m in members(store, active_only=True):
        if m.key_id == key:
            if m.role != "reviewer":
                raise TrustError(f"{m.name} ({key}) is in the roster as {m.role}, not reviewer")
            return key
    card = reviewer if Path(reviewer).suffix == ".json" else "REVIEWER.card.json"
    project = store.path if store.path is not None else "PROJECT.db"
    raise TrustError(f"no active reviewer with key {key} in the roster; add their card first: "
                     f"annotary roster add {project} {card}")


def _review_spec(spec):
    """The annotators' questions, for a decision: none required (only the cases are), a reason
    box everywhere, no confidence."""
    questions = [q.model_copy(update={"required": False, "rationale": Requirement.optional,
                                      "confidence": Requirement.off}) for q in spec.questions]
    return spec.model_copy(update={"questions": questions})


def _majority(answers: list) -> int | None:
    given = [a for a in answers if a is not None]
    for i, a in enumerate(answers):
        if a is not None and given.count(a) * 2 > len(answers):
            return i
    return None


def _figures(report: QualityReport, question_id: str) -> dict[str, float | None]:
    out = {}
    for v in report.variables:
        if v.question_id == question_id:
            for name in ("alpha", "fleiss_kappa", "percent_agreement", "kendall_w"):
                value = getattr(v, name)
                if value is not None:
                    out[f"{v.variable} {name}"] = round(value, 4)
    return out


def create_adjudication(store: Store, *, identity: Identity, reviewer: str, out: str | Path,
                        include: str = "conflicts", audit_sample: float = 0.0,
                        seed: int | None = None, encryption: Encryption = DEFAULT_CHOICE) -> Change:
    """A signed bundle of the conflicted cases (and a sample of agreed ones to audit) for one
    reviewer, each with every annotator's answer, rationale, confidence and time."""
    if include not in ("conflicts", "all"):
        raise AnnotaryError(f"--include is conflicts or all, not {include!r}")
    if not 0 <= audit_sample <= 1:
        raise AnnotaryError("--audit-sample is a share between 0 and 1")
    info = project_info(store)
    if identity.key_id != info.coordinator_key_id:
        raise TrustError(f"only the project's coordinator ({info.coordinator_name}) signs its bundles")
    key = _reviewer(store, reviewer)
    out = Path(out)
    readers = recipients(encryption, signer=identity, readers=[roster_recipient(store, info.id, key)],
                         confidential=info.spec.confidential, what=out.name)
    report = quality_report(store)
    agreed = [c for c in report.consensus if c.status == "agreed" and not c.decided]
    chosen = {(c.item_id, c.question_id): "conflict" for c in report.conflicts}
    decided = len(report.decided)
    settled = f"; {decided} decided by a reviewer already" if decided else ""
    if include == "all":
        chosen.update({(c.item_id, c.question_id): "audit" for c in agreed})
    elif audit_sample:
        rng = random.Random(seed)
        k = round(len(agreed) * audit_sample)
        chosen.update({(c.item_id, c.question_id): "audit" for c in rng.sample(agreed, k)})
    if not chosen:
        raise AnnotaryError(f"nothing to adjudicate: no undecided conflicts{settled} (add --audit-sample "
                            "or --include all)")
    show = bool(queries.setting(store, SHOW_NAMES, False))
    raters = load_raters(store, info.id)
    consensus = {(c.item_id, c.question_id): c for c in report.consensus}
    labels = {}
    for who in report.humans:
        for lab in queries.current_labels(store, info.id, who):
            labels.setdefault((lab.item_id, lab.question_id), []).append(lab)
    pseudonym = {who: f"Annotator {n}" for n, who in enumerate(report.humans, 1)}
    cases = []
    for (item_id, qid), why in chosen.items():
        given = labels.get((item_id, qid), [])
        answers = [CaseAnswer(who=raters.names.get(lab.annotator, lab.annotator) if show
                              else pseudonym[lab.annotator],
                              answer=lab.answer, rationale=lab.rationale, confidence=lab.confidence,
                              duration_ms=lab.duration_ms, flags=lab.flags, skip_reason=lab.skip_reason,
                              shown_order=lab.shown_order) for lab in given]
        if not answers:
            continue
        c = consensus.get((item_id, qid))
        tried = ANSWER.validate_python(c.value) if c is not None and c.value else None
        cases.append(Case(item_id=item_id, question_id=qid, reason=why, answers=answers,
                          consensus=tried, majority=_majority([a.answer for a in answers]),
                          support=c.support if c else None, agreement=_figures(report, qid)))
    order = {iid: n for n, iid in enumerate(item_skeletons(store, info.id))}
    cases.sort(key=lambda c: (order.get(c.item_id, 0), c.question_id))
    item_ids = list(dict.fromkeys(c.item_id for c in cases))
    rows = {r[0]: r[1] for r in store.conn.execute(
        f"SELECT id, data FROM items WHERE project_id=? AND id IN ({','.join('?' * len(item_ids))})",
        (info.id, *item_ids))}
    items = "".join(task_view("normal", rows[i]) + "\n" for i in item_ids).encode()
    bundle_id = uuid.uuid4().hex
    write_bundle(out, kind="adjudication", project_id=info.id, project_name=info.name,
                 identity=identity, round=info.round, bundle_id=bundle_id, **instance_fields(info),
                 members={"spec.json": _review_spec(info.spec).model_dump_json(indent=2).encode(),
                          "guidelines.md": info.guidelines.encode("utf-8"),
                          "items.jsonl": items, "cases.jsonl": dump_jsonl(cases)},
                 counts={"items.jsonl": len(item_ids), "cases.jsonl": len(cases)}, **seal_options(readers))
    with store.atomic():
        store.conn.executemany(
            "INSERT OR IGNORE INTO adjudications (project_id, bundle_id, reviewer, item_id, question_id,"
            " reason, created_at) VALUES (?,?,?,?,?,?,?)",
            [(info.id, bundle_id, key, c.item_id, c.question_id, c.reason, now_iso()) for c in cases])
    conflicts = sum(1 for c in cases if c.reason == "conflict")
    return Change(op="adjudication", project_id=info.id,
                  counts={"cases": len(cases), "conflicts": conflicts, "audit": len(cases) - conflicts,
                          "items": len(item_ids), "decided": decided},
                  message=f"wrote {out.name}{sealed_text(readers)}: {len(cases)} cases ({conflicts} conflicts "
                          f"still undecided{settled}) on {len(item_ids)} items for reviewer {key}")


def merge_decisions(store: Store, *, path: str | Path) -> MergeReport:
    """Merge a reviewer's signed decisions: only from an active reviewer of the roster, only for
    cases sent to them; newer revisions replace older ones; the same bundle twice adds nothing."""
    path = Path(path)
    info = project_info(store)
    with open_local(path, expect_kind="decisions") as bundle:
        m = bundle.manifest
        report = MergeReport(str(path), sha256=bundle.sha256, signer=m.producer.key_id,
                             signer_name=m.producer.name)
        if m.project_id != info.id:
            raise TrustError(f"{path.name}: decisions for project {m.project_id!r}, not {info.id!r}: refused")
        check_instance(path.name, m, info)
        reviewer = _reviewer(store, m.producer.key_id)
        if logged_before(store, sha256=bundle.sha256, key=bundle.key):
            report.already_merged = True
            return report
        if not bundle.has("decisions.jsonl"):
            raise BundleError(f"{path.name}: bundle has no decisions.jsonl")
        decisions = [(n, d) for n, d, _ in bundle.records("decisions.jsonl", Decision)]
        for name in bundle.names():  # a signed bundle is one unit: every member checked
            if name != "decisions.jsonl":
                for _ in bundle.chunks(name):
                    pass
    sent = {(r[0], r[1]) for r in store.conn.execute(
        "SELECT item_id, question_id FROM adjudications WHERE project_id=? AND reviewer=?",
        (info.id, reviewer))}
    items = item_skeletons(store, info.id)
    rows = []
    for n, d in decisions:
        at = f"{path.name}: decisions.jsonl line {n}"
        if d.reviewer != reviewer:
            raise TrustError(f"{at}: a decision signed by {reviewer} claims reviewer {d.reviewer}: refused")
        if (d.item_id, d.question_id) not in sent:
            raise TrustError(f"{at}: item {d.item_id!r}, question {d.question_id!r} was not sent to "
                             "this reviewer: refused")
        q = info.spec.question(d.question_id)
        if q.mode != "demonstration":
            try:
                check_answer_fits(q, d.answer, items[d.item_id], at)
            except LabelError as err:
                raise TrustError(f"{err}: refused") from None
        if d.overrides_majority and not (d.reason or "").strip():
            raise TrustError(f"{at}: overrides the majority without a reason: refused")
        rows.append(d)
    report.labels = len(rows)
    with store.atomic():
        for d in rows:
            have = store.one("SELECT max(revision) FROM decisions WHERE project_id=? AND item_id=?"
                             " AND question_id=? AND reviewer=?", (info.id, d.item_id, d.question_id, reviewer))[0]
            if have is not None and d.revision <= have:
                report.ignored += 1
                continue
            store.conn.execute(
                "INSERT INTO decisions (project_id, item_id, question_id, reviewer, revision, data,"
                " merged_at) VALUES (?,?,?,?,?,?,?)",
                (info.id, d.item_id, d.question_id, reviewer, d.revision, d.model_dump_json(), now_iso()))
            if have is None:
                report.accepted += 1
            else:
                report.replaced += 1
        counts = {"accepted": report.accepted, "replaced": report.replaced, "ignored": report.ignored}
        store.conn.execute(
            "INSERT INTO bundle_log (sha256, kind, bundle_id, project_id, signer_key_id, signer_name,"
            " file_name, imported_at, counts) VALUES (?,?,?,?,?,?,?,?,?)",
            (bundle.sha256, m.kind, m.bundle_id, m.project_id, reviewer, m.producer.name, path.name,
             now_iso(), json.dumps(counts)))
    return report
