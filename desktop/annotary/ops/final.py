"""Final answers with their provenance: what the datasets are made of."""

from __future__ import annotations

import json
from typing import NamedTuple

import numpy as np

from annotary.core.adjudication import PROVENANCE
from annotary.core.errors import AnnotaryError
from annotary.core.items import Item
from annotary.ops.project import SKELETONS, WHOLE, item_skeletons, project_info
from annotary.ops.quality import (
    ItemConsensus,
    Options,
    QualityReport,
    declare_variables,
    load_raters,
    load_ratings,
    matrix_stats,
    pairwise_answer,
    quality_report,
    unit_value,
)
from annotary.store import Store


class FinalAnswer(NamedTuple):  # a tuple: an export of a large project makes hundreds of thousands
    item_id: str
    question_id: str
    answer: dict  # answer-shaped JSON, in the item's own response order
    provenance: str  # gold, adjudicated, unanimous, majority or single
    reason: str | None = None  # the reviewer's, when adjudicated
    support: float | None = None  # share of annotators behind a consensus
    ratings: int = 0  # human labels of this item and question
    rater: str | None = None  # whose answer, when it is one person's (single, adjudicated)


def rank(provenance: str) -> int:
    """0 is strongest (gold); filters keep answers at least as strong as asked."""
    if provenance not in PROVENANCE:
        raise AnnotaryError(f"unknown provenance {provenance!r}; one of {', '.join(PROVENANCE)}")
    return PROVENANCE.index(provenance)


def latest_decisions(store: Store, project_id: str) -> dict[tuple[str, str], dict]:
    """(item, question) -> the newest decision merged (any reviewer: the latest one decides)."""
    out: dict[tuple[str, str], dict] = {}
    for item_id, qid, data in store.conn.execute(
            "SELECT item_id, question_id, data FROM decisions WHERE project_id=?"
            " ORDER BY json_extract(data, '$.decided_at'), revision", (project_id,)):
        out[(item_id, qid)] = json.loads(data)
    return out


def final_answers(store: Store, *, question: str | None = None, options: Options | None = None,
                  report: QualityReport | None = None) -> list[FinalAnswer]:
    """One final answer per item and question where there is one; conflicts nobody decided yet
    have none. Free-text demonstrations have no consensus: undecided, each annotator's text is
    its own answer (provenance single)."""
    info = project_info(store)
    spec = info.spec
    report = report or quality_report(store, question=question, options=options, light=True)
    if report.loaded is not None:  # what the report read: reading it again costs seconds
        items, ratings, raters = report.loaded
    else:
        items, ratings, raters = (item_skeletons(store, info.id), load_ratings(store, info.id),
                                  load_raters(store, info.id))
    machines = raters.machines
    humans: dict[tuple[str, str], list] = {}
    for r in ratings:
        if r.answer is not None and r.annotator not in machines:
            key = (r.item_id, r.question_id)
            if key in humans:
                humans[key].append(r)
            else:
                humans[key] = [r]
    decisions = latest_decisions(store, info.id)
    consensus = {(c.item_id, c.question_id): c for c in report.consensus}
    questions = [q for q in spec.questions if question is None or q.id == question]
    out = []
    for item_id, item in items.items():
        for q in questions:
            key = (item_id, q.id)
            rated = humans.get(key, ())
            if item.kind == "gold" and item.gold and q.id in item.gold:
                out.append(FinalAnswer(item_id, q.id, item.gold[q.id], "gold", ratings=len(rated)))
            elif key in decisions:
                d = decisions[key]
                out.append(FinalAnswer(item_id, q.id, d["answer"], "adjudicated", d.get("reason"),
                                       ratings=len(rated), rater=d["reviewer"]))
            elif q.mode == "demonstration":
                out += [FinalAnswer(item_id, q.id, r.answer, "single", ratings=len(rated),
                                    rater=r.annotator) for r in rated]
            elif len(rated) == 1:
                out.append(FinalAnswer(item_id, q.id, rated[0].answer, "single", ratings=1,
                                       rater=rated[0].annotator))
            elif rated and all(r.answer == rated[0].answer for r in rated):
                # identical answers agree whatever the statistics make of them (e.g. every
                # annotator finding all responses unacceptable)
                out.append(FinalAnswer(item_id, q.id, rated[0].answer, "unanimous", support=1.0,
                                       ratings=len(rated)))
            elif key in consensus and consensus[key].status == "agreed" and consensus[key].value:
                c = consensus[key]
                out.append(FinalAnswer(item_id, q.id, c.value, "majority", support=c.support,
                                       ratings=len(rated)))
    return out


def export_answers(store: Store, *, question: str | None = None,
                   options: Options | None = None) -> tuple[QualityReport, list[FinalAnswer]]:
    """The light quality report and the final answers an export is made from. One pairwise
    question of a project without machine raters (the common case of a preference dataset) takes
    a path of its own that reads only that question's current answers and builds no per-rating
    objects; tests hold it to the same report and answers as quality_report + final_answers."""
    opt = options or Options()
    info = project_info(store)
    q = None if question is None else next((x for x in info.spec.questions if x.id == question), None)
    if q is not None and q.mode == "pairwise" and not opt.weighted:
        raters = load_raters(store, info.id)
        if not raters.machines:
            return _pairwise(store, info, q, opt, raters)
    report = quality_report(store, question=question, options=opt, light=True)
    return report, final_answers(store, question=question, options=opt, report=report)


# the current answers to one question, from the label index (migration 0006): facts is
# [answer, shown first, confidence, guidelines version]
CURRENT_ONE = """
    SELECT item_id, annotator, max(revision), json_extract(facts, '$[0]'), json_extract(facts, '$[3]')
    FROM labels INDEXED BY labels_current
    WHERE project_id=? AND retracted=0 AND question_id=? GROUP BY annotator, item_id, question_id
"""


def _pairwise(store: Store, info, q, opt: Options, raters) -> tuple[QualityReport, list[FinalAnswer]]:
    """export_answers for one pairwise question: per item, the answers in the report's
    annotator order; consensus and final answer as quality_report and final_answers make them.
    Items whose answers are all the same (the common case) share one worked-out result per
    answer and item shape."""
    order: list[tuple[str, str | None]] = list(store.tuples(SKELETONS, (info.id,)))  # items' order
    whole = {}  # gold and calibration items (no skeleton), read whole
    if any(sk is None for _, sk in order):
        whole = {iid: Item.model_validate_json(data) for iid, data in store.tuples(WHOLE, (info.id,))}
    texts: dict[str, list] = {}  # item -> [annotator, answer text, annotator, answer text, ...]
    versions: set[str] = set()
    distinct = set()
    for iid, who, _, text, version in store.tuples(CURRENT_ONE, (info.id, q.id)):
        found = texts.get(iid)
        if found is None:
            texts[iid] = [who, text]
        else:
            found += (who, text)
        distinct.add(text)
        versions.add(version or "")
    normal = {iid for iid, sk in order if sk is not None}
    known = normal | whole.keys()
    if len(known) < len(texts):
        texts = {iid: t for iid, t in texts.items() if iid in known}  # labels of items no longer there
    if whole:  # the guidelines versions of labels on normal items only
        versions = {v or "" for iid, who, _, t, v in store.tuples(CURRENT_ONE, (info.id, q.id)) if iid in normal}
    parsed: dict[str | None, dict | None] = {None: None}

    def answer_of(text):
        found = parsed.get(text, False)
        if found is False:
            found = parsed[text] = json.loads(text)
        return found

    labeled = {who for found in texts.values() for who in found[::2]}
    ordered = [*raters.names, *sorted(labeled - set(raters.names))]
    name = "strength" if q.scale == "strength" else "choice"
    var = declare_variables(info.spec, q.id)[(q.id, name)]
    valid = {t for t in distinct if t is not None and answer_of(t).get("mode") == q.mode}  # count
    valued = labeled if not whole and valid == distinct else {
        who for iid, found in texts.items() if iid in normal
        for who, t in zip(found[::2], found[1::2], strict=True) if t in valid}
    humans = [a for a in ordered if a in valued]
    rank = {a: n for n, a in enumerate(humans)}
    code = {c: float(n) for n, c in enumerate(var.categories)}.get
    decisions = latest_decisions(store, info.id)
    rows: dict[tuple, int] = {}  # each unit's codes -> how many units have them
    consensus: list[ItemConsensus] = []
    finals: list[FinalAnswer] = []
    same: dict[tuple, tuple] = {}  # (answer text, ratings, skeleton) -> what all-same answers make
    qid = q.id
    for iid, sk in order:
        found = texts.get(iid)
        if found is None:
            if whole or decisions:
                found = []  # a gold answer or a decision needs no label
            else:
                continue
        first = found[1] if found else None
        n = len(found) // 2
        if (first in valid and found.count(first) == n and sk is not None
                and (not decisions or (iid, qid) not in decisions)):
            done = same.get((first, n, sk))
            if done is None:
                answer = answer_of(first)
                value, support, ok, _ = unit_value(var, [answer.get(name)] * n, None, opt)
                status = "single" if n < 2 else "agreed" if ok else "conflict"
                cvalue = None if status == "conflict" else pairwise_answer(q, value, json.loads(sk)[:2])
                done = same[(first, n, sk)] = (status, cvalue, support, answer, (code(answer.get(name)),) * n)
            status, cvalue, support, answer, codes = done
            consensus.append(ItemConsensus(iid, qid, status, cvalue, support, n))
            rows[codes] = rows.get(codes, 0) + 1
            # positional: a named tuple made with keywords takes several times as long
            finals.append(FinalAnswer(iid, qid, answer, "single", None, None, 1, found[0]) if n == 1 else
                          FinalAnswer(iid, qid, answer, "unanimous", None, 1.0, n, None))
            continue
        pairs = list(zip(found[::2], found[1::2], strict=True))
        c = None
        if sk is not None:
            values = [answer_of(t).get(name) for _, w, t in sorted((rank[w], w, t) for w, t in pairs if t in valid)]
            if values:
                rows[codes] = rows.get(codes := tuple(code(v) for v in values), 0) + 1
                value, support, ok, m = unit_value(var, values, None, opt)
                status = "single" if m < 2 else "agreed" if ok else "conflict"
                cvalue = None if status == "conflict" else pairwise_answer(q, value, json.loads(sk)[:2])
                c = ItemConsensus(iid, qid, status, cvalue, support, m)
                consensus.append(c)
        answers = [(w, answer_of(t)) for w, t in pairs if t is not None]
        item = whole.get(iid)
        key = (iid, qid)
        if item is not None and item.kind == "gold" and item.gold and qid in item.gold:
            finals.append(FinalAnswer(iid, qid, item.gold[qid], "gold", ratings=len(answers)))
        elif key in decisions:
            d = decisions[key]
            finals.append(FinalAnswer(iid, qid, d["answer"], "adjudicated", d.get("reason"),
                                      ratings=len(answers), rater=d["reviewer"]))
        elif len(answers) == 1:
            finals.append(FinalAnswer(iid, qid, answers[0][1], "single", ratings=1, rater=answers[0][0]))
        elif answers and all(a == answers[0][1] for _, a in answers):
            finals.append(FinalAnswer(iid, qid, answers[0][1], "unanimous", support=1.0, ratings=len(answers)))
        elif c is not None and c.status == "agreed" and c.value:
            finals.append(FinalAnswer(iid, qid, c.value, "majority", support=c.support, ratings=len(answers)))
    width = max((len(r) for r in rows), default=0)
    x = np.full((sum(rows.values()), width), np.nan)
    at = 0
    for codes, count in rows.items():
        x[at:at + count, :len(codes)] = [np.nan if c is None else c for c in codes]
        at += count
    kinds = {"normal": len(normal), "gold": 0, "calibration": 0}
    for item in whole.values():
        kinds[item.kind] += 1
    report = QualityReport(
        project_id=info.id, project_name=info.name, question=q.id, humans=humans,
        names={a: raters.names.get(a, a) for a in ordered}, items=kinds, variables=[matrix_stats(var, x)],
        consensus=consensus, annotators=[], raters=[], competence=[], by_round=[], by_guidelines=[],
        options=opt, guidelines_versions=sorted(versions))
    return report, finals
