"""Final answers with their provenance: what the datasets are made of."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from annotary.analysis.figures import matrix_stats
from annotary.analysis.questions import declare_variables, pairwise_answer
from annotary.analysis.variables import Options
from annotary.analysis.verdicts import ItemConsensus, mark_decided, unit_value
from annotary.core.adjudication import PROVENANCE
from annotary.core.errors import AnnotaryError
from annotary.core.items import Item
from annotary.ops.project import WHOLE, item_skeletons, project_info
from annotary.ops.quality import (
    QualityReport,
    adaptive_rounds,
    load_raters,
    load_ratings,
    quality_report,
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


def export_answers(store: Store, *, question: str | None = None, options: Options | None = None,
                   read: Callable[[], None] | None = None) -> tuple[QualityReport, list[FinalAnswer]]:
    """The light quality report and the final answers an export is made from. One pairwise
    question of a project without machine raters (the common case of a preference dataset) takes
    a path of its own that reads only that question's current answers and builds no per-rating
    objects; tests hold it to the same report and answers as quality_report + final_answers.
    (After an adaptive round the figures need the rounds of the labels: the general path.)

    `read` is called once this is done reading the store (the export then starts reading the
    items' texts on another connection)."""
    opt = options or Options()
    info = project_info(store)
    q = None if question is None else next((x for x in info.spec.questions if x.id == question), None)
    if q is not None and q.mode == "pairwise" and not opt.weighted and not adaptive_rounds(store, info.id):
        raters = load_raters(store, info.id)
        found = None if raters.machines else _pairwise(store, info, q, opt, raters, read)
        if found is not None:
            return found
    if read is not None:
        read()
    report = quality_report(store, question=question, options=opt, light=True)
    finals = final_answers(store, question=question, options=opt, report=report)
    report.loaded = None  # the items and ratings read: the export holds the report while it writes
    return report, finals


# the verdicts ([answer, guidelines version], kept in the label index, migration 0006) of one
# question's labels, with their items, annotators and revisions, as columns joined into one
# text each (\x1e: JSON text holds no control character): one row, so no Python object per label,
# and no grouping in SQLite (it takes longer than the scan): the newest revision of each item
# and annotator is picked with numpy. Equal verdicts are equal answers.
CURRENT_COLUMNS = """
    SELECT count(*), group_concat(item_id, char(30)), group_concat(annotator, char(30)),
           group_concat(verdict, char(30)), group_concat(revision)
    FROM labels INDEXED BY labels_current WHERE project_id=? AND retracted=0 AND question_id=?
"""


# the items' seqs, ids and skeletons (migration 0005; '' for none), joined by \x1e into one text each
ITEM_COLUMNS = """
    SELECT group_concat(seq), group_concat(id, char(30)), group_concat(ifnull(skeleton, ''), char(30))
    FROM (SELECT seq, id, skeleton FROM items INDEXED BY items_skeleton WHERE project_id=? ORDER BY seq)
"""


def _items(store: Store, project_id: str) -> tuple[list[str], list[str | None]]:
    """The items' ids and skeletons (None for a gold or calibration item), in the items' order."""
    seqs, ids, skeletons = store.tuples(ITEM_COLUMNS, (project_id,)).fetchone()
    if seqs is None:
        return [], []
    ids, skeletons = ids.split("\x1e"), [sk or None for sk in skeletons.split("\x1e")]
    order = np.fromstring(seqs, dtype=np.int64, sep=",")
    if (order[1:] < order[:-1]).any():  # group_concat keeps the order it is given
        by = np.argsort(order, kind="stable").tolist()
        ids, skeletons = [ids[k] for k in by], [skeletons[k] for k in by]
    return ids, skeletons


def _columns(store: Store, project_id: str, qid: str) -> tuple[list[str], ...] | None:
    """(item ids, annotators, verdicts, revisions) of the labels not retracted; None if an id holds
    the separator (the caller then takes the general path)."""
    count, *joined = store.tuples(CURRENT_COLUMNS, (project_id, qid)).fetchone()
    if not count:
        return [], [], [], []
    columns = tuple(c.split(sep) for c, sep in zip(joined, ("\x1e", "\x1e", "\x1e", ","), strict=True))
    return columns if all(len(c) == count for c in columns) else None


def _newest(pos: list[int], whos: list[str], revisions: list[str]) -> list[int]:
    """The positions of the labels that are their item and annotator's newest revision."""
    who = np.unique(np.array(whos, dtype=object), return_inverse=True)[1]
    item, rev = np.array(pos, dtype=np.int64), np.array(revisions, dtype=np.int64)
    by = np.lexsort((rev, who, item))
    last = np.r_[(item[by][1:] != item[by][:-1]) | (who[by][1:] != who[by][:-1]), True]
    return np.sort(by[last]).tolist()


def _pairwise(store: Store, info, q, opt: Options, raters,
              read: Callable[[], None] | None = None) -> tuple[QualityReport, list[FinalAnswer]] | None:
    """export_answers for one pairwise question: per item, the answers in the report's
    annotator order; consensus and final answer as quality_report and final_answers make them.
    The labels come as columns and are grouped by item with numpy; items whose answers are all
    the same (the common case) share one worked-out result per answer and item shape."""
    item_ids, skeletons = _items(store, info.id)
    order = list(zip(item_ids, skeletons, strict=True))
    whole = {}  # gold and calibration items (no skeleton), read whole
    if None in skeletons:
        whole = {iid: Item.model_validate_json(data) for iid, data in store.tuples(WHOLE, (info.id,))}
    columns = _columns(store, info.id, q.id)
    if columns is None:
        return None
    ids, whos, texts, revisions = columns  # texts: the verdicts, [answer, guidelines version]
    at = dict(zip(item_ids, range(len(item_ids)), strict=True))
    try:
        pos = list(map(at.__getitem__, ids))
    except KeyError:  # labels of items no longer in the project
        pos = [at.get(i, -1) for i in ids]
        keep = [k for k, p in enumerate(pos) if p >= 0]
        pos, whos, texts, revisions = ([c[k] for k in keep] for c in (pos, whos, texts, revisions))
    if revisions.count("1") < len(revisions):  # keep each item and annotator's newest revision only
        current = _newest(pos, whos, revisions)
        pos, whos, texts = ([c[k] for k in current] for c in (pos, whos, texts))
    distinct = list(dict.fromkeys(texts))
    verdicts = {t: json.loads(t) for t in distinct}
    parsed = {t: v[0] for t, v in verdicts.items()}  # the answers
    # the guidelines versions of the labels on normal items
    on_normal = distinct if not whole else {t for p, t in zip(pos, texts, strict=True) if order[p][1] is not None}
    versions = {verdicts[t][1] or "" for t in on_normal}
    labeled = set(whos)
    ordered = [*raters.names, *sorted(labeled - set(raters.names))]
    name = "strength" if q.scale == "strength" else "choice"
    var = declare_variables(info.spec, q.id)[(q.id, name)]
    valid = {t for t, a in parsed.items() if a is not None and a.get("mode") == q.mode}  # count
    valued = labeled if not whole and len(valid) == len(distinct) else {
        w for p, w, t in zip(pos, whos, texts, strict=True) if t in valid and order[p][1] is not None}
    humans = [a for a in ordered if a in valued]
    code = {c: float(n) for n, c in enumerate(var.categories)}.get

    # group the labels by item (in the items' order), each group in the report's annotator order
    place = {a: n for n, a in enumerate(ordered)}
    item_at = np.array(pos, dtype=np.int64)
    text_at = np.fromiter(map({t: n for n, t in enumerate(distinct)}.__getitem__, texts), np.int64, len(texts))
    who_at = np.fromiter(map(place.__getitem__, whos), np.int64, len(whos))
    by = np.lexsort((who_at, item_at))
    item_at, text_at, who_at = item_at[by], text_at[by], who_at[by]
    starts = np.flatnonzero(np.r_[True, item_at[1:] != item_at[:-1]]) if len(item_at) else item_at
    counts = np.diff(np.r_[starts, len(item_at)]).tolist()
    same = (np.minimum.reduceat(text_at, starts) == np.maximum.reduceat(text_at, starts)).tolist() \
        if len(starts) else []
    group = np.full(len(order), -1, dtype=np.int64)
    group[item_at[starts]] = np.arange(len(starts))
    group, starts, text_at, who_at = group.tolist(), starts.tolist(), text_at.tolist(), who_at.tolist()
    # the per-label columns are codes now: free their strings before the texts are read
    del ids, whos, texts, revisions, pos, at, item_at, by

    decisions = latest_decisions(store, info.id)
    if read is not None:
        read()  # done with the store
    rows: dict[tuple, int] = {}  # each unit's codes -> how many units have them
    consensus: list[ItemConsensus] = []
    finals: list[FinalAnswer] = []
    shared: dict[tuple, tuple] = {}  # (answer text, ratings, skeleton) -> what all-same answers make
    qid = q.id
    for (iid, sk), g in zip(order, group, strict=True):
        if g < 0:
            if not (whole or decisions):
                continue
            pairs = []  # a gold answer or a decision needs no label
        else:
            first, n = starts[g], counts[g]
            text = distinct[text_at[first]]
            if same[g] and text in valid and sk is not None and (not decisions or (iid, qid) not in decisions):
                done = shared.get((text, n, sk))
                if done is None:
                    answer = parsed[text]
                    value, support, ok, _ = unit_value(var, [answer.get(name)] * n, None, opt)
                    status = "single" if n < 2 else "agreed" if ok else "conflict"
                    cvalue = None if status == "conflict" else pairwise_answer(q, value, json.loads(sk)[:2])
                    done = shared[(text, n, sk)] = (status, cvalue, support, answer, (code(answer.get(name)),) * n)
                status, cvalue, support, answer, codes = done
                consensus.append(ItemConsensus(iid, qid, status, cvalue, support, n))
                rows[codes] = rows.get(codes, 0) + 1
                # positional: a named tuple made with keywords takes several times as long
                finals.append(FinalAnswer(iid, qid, answer, "single", None, None, 1, ordered[who_at[first]])
                              if n == 1 else FinalAnswer(iid, qid, answer, "unanimous", None, 1.0, n, None))
                continue
            pairs = [(ordered[who_at[j]], distinct[text_at[j]]) for j in range(first, first + n)]
        c = None
        if sk is not None:
            values = [parsed[t].get(name) for w, t in pairs if t in valid]  # in the report's order
            if values:
                rows[codes] = rows.get(codes := tuple(code(v) for v in values), 0) + 1
                value, support, ok, m = unit_value(var, values, None, opt)
                status = "single" if m < 2 else "agreed" if ok else "conflict"
                cvalue = None if status == "conflict" else pairwise_answer(q, value, json.loads(sk)[:2])
                c = ItemConsensus(iid, qid, status, cvalue, support, m)
                consensus.append(c)
        answers = [(w, parsed[t]) for w, t in pairs if parsed[t] is not None]
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
    at_row = 0
    for codes, count in rows.items():
        x[at_row:at_row + count, :len(codes)] = [np.nan if c is None else c for c in codes]
        at_row += count
    kinds = {"normal": len(order) - len(whole), "gold": 0, "calibration": 0}
    for item in whole.values():
        kinds[item.kind] += 1
    report = QualityReport(
        project_id=info.id, project_name=info.name, question=q.id, humans=humans,
        names={a: raters.names.get(a, a) for a in ordered}, items=kinds, variables=[matrix_stats(var, x)],
        consensus=mark_decided(consensus, decisions), annotators=[], raters=[], competence=[], by_round=[],
        by_guidelines=[],
        options=opt, guidelines_versions=sorted(versions))
    return report, finals
