"""Final answers with their provenance: what the datasets are made of."""

from __future__ import annotations

import json
from typing import NamedTuple

from annotary.core.adjudication import PROVENANCE
from annotary.core.errors import AnnotaryError
from annotary.ops.project import item_skeletons, project_info
from annotary.ops.quality import Options, QualityReport, load_raters, load_ratings, quality_report
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
