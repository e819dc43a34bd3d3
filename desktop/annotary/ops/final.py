"""Final answers with their provenance: what the datasets are made of."""

from __future__ import annotations

import copy
import heapq
import json
from array import array
from collections.abc import Callable, Iterator, Sequence
from itertools import repeat
from operator import itemgetter
from typing import NamedTuple

import numpy as np

from annotary.analysis.figures import matrix_stats
from annotary.analysis.questions import declare_variables, pairwise_answer
from annotary.analysis.table import KINDS, Ids, first_of_groups
from annotary.analysis.variables import Options
from annotary.analysis.verdicts import (
    STATUSES,
    ConsensusList,
    ItemConsensus,
    mark_decided,
    unit_value,
)
from annotary.core.adjudication import PROVENANCE
from annotary.core.errors import AnnotaryError
from annotary.core.items import Item
from annotary.ops import give_back
from annotary.ops.project import WHOLE, item_skeletons, project_info
from annotary.ops.quality import (
    Loaded,
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


class Answers:
    """Final answers as columns, in the items' order: what an export holds instead of a
    FinalAnswer per item (a large project has hundreds of thousands). An answer object is kept
    once however many items share it; row(k) makes the FinalAnswer."""

    def __init__(self, ids: Sequence[str], seqs: np.ndarray, questions: list[str]):
        self.ids, self.seqs, self.questions = ids, seqs, questions  # every item, by position
        self.values: list = []  # the distinct answer objects
        self.names: list[str] = []  # raters
        self.reasons: dict[int, str] = {}  # row -> the reviewer's reason
        self._value_at: dict[int, int] = {}
        self._name_at: dict[str, int] = {}
        self._columns = (array("i"), array("b"), array("i"), array("b"), array("d"), array("i"), array("i"))
        self.item = self.question = self.value = self.provenance = self.support = self.ratings = self.rater = None

    def add(self, pos: int, question: int, answer, provenance: int, reason: str | None = None,
            support: float | None = None, ratings: int = 0, rater: str | None = None) -> None:
        v = self._value_at.get(id(answer))
        if v is None:
            v = self._value_at[id(answer)] = len(self.values)
            self.values.append(answer)
        if rater is None:
            w = -1
        elif (w := self._name_at.get(rater)) is None:
            w = self._name_at[rater] = len(self.names)
            self.names.append(rater)
        if reason is not None:
            self.reasons[len(self._columns[0])] = reason
        item, qs, value, prov, sup, rated, who = self._columns
        item.append(pos)
        qs.append(question)
        value.append(v)
        prov.append(provenance)
        sup.append(NAN if support is None else support)
        rated.append(ratings)
        who.append(w)

    def seal(self) -> Answers:
        """Done adding: the columns as numpy arrays."""
        (self.item, self.question, self.value, self.provenance, self.support, self.ratings,
         self.rater) = (np.frombuffer(c, dtype=c.typecode) if len(c) else np.zeros(0, dtype=c.typecode)
                        for c in self._columns)  # no copy: the arrays' memory is the columns'
        self.provenance = self.provenance.copy()  # a triage judge's agreement changes it
        self._columns, self._value_at, self._name_at = (), {}, {}
        return self

    def __len__(self) -> int:
        return len(self.item)

    def row(self, k: int) -> FinalAnswer:
        support, rater = float(self.support[k]), int(self.rater[k])
        return FinalAnswer(self.ids[self.item[k]], self.questions[self.question[k]], self.values[self.value[k]],
                           PROVENANCE[self.provenance[k]], self.reasons.get(k),
                           None if support != support else support, int(self.ratings[k]),
                           None if rater < 0 else self.names[rater])

    def __iter__(self) -> Iterator[FinalAnswer]:
        return map(self.row, range(len(self)))

    def take(self, keep: np.ndarray) -> Answers:
        """The rows where `keep` (a boolean mask) holds, in their order."""
        out = copy.copy(self)
        rows = np.flatnonzero(keep)
        for name in ("item", "question", "value", "provenance", "support", "ratings", "rater"):
            setattr(out, name, getattr(self, name)[rows])
        if self.reasons:
            at = {int(k): n for n, k in enumerate(rows.tolist())}
            out.reasons = {at[k]: r for k, r in self.reasons.items() if k in at}
        return out

    def item_ids(self) -> list[str]:
        """Each row's item id."""
        return [self.ids[p] for p in self.item.tolist()]

    @classmethod
    def of(cls, finals: list[FinalAnswer], store: Store, project_id: str, questions: list[str]) -> Answers:
        """The columns of a list of final answers (in the items' order)."""
        ids, seqs = [], []
        for iid, seq in store.tuples("SELECT id, seq FROM items WHERE project_id=? ORDER BY seq", (project_id,)):
            ids.append(iid)
            seqs.append(seq)
        at = {iid: n for n, iid in enumerate(ids)}
        qs = {q: n for n, q in enumerate(questions)}
        out = cls(ids, np.array(seqs, dtype=np.int64), questions)
        code = PROVENANCE.index
        for f in finals:
            out.add(at[f.item_id], qs[f.question_id], f.answer, code(f.provenance), f.reason, f.support,
                    f.ratings, f.rater)
        return out.seal()


NAN = float("nan")


SINGLE, UNANIMOUS, MAJORITY = (PROVENANCE.index(p) for p in ("single", "unanimous", "majority"))
GOLD, ADJUDICATED = PROVENANCE.index("gold"), PROVENANCE.index("adjudicated")


def export_answers(store: Store, *, question: str | None = None, options: Options | None = None,
                   read: Callable[[], None] | None = None) -> tuple[QualityReport, list[FinalAnswer]]:
    """The light quality report and the final answers an export is made from. One pairwise
    question of a project without machine raters (the common case of a preference dataset) takes
    a path of its own that reads only that question's current answers and builds no per-rating
    objects; tests hold it to the same report and answers as quality_report + final_answers.
    (After an adaptive round the figures need the rounds of the labels: the general path.)

    `read` is called once this is done reading the store (the export then starts reading the
    items' texts on another connection)."""
    report, answers = _answers(store, question, options, read, full=True)
    return report, answers if isinstance(answers, list) else list(answers)


def export_columns(store: Store, *, question: str | None = None, options: Options | None = None,
                   read: Callable[[], None] | None = None) -> tuple[QualityReport, Answers]:
    """export_answers as an export holds it: the final answers as columns, and a report whose
    consensus holds only the conflicts and the decided units on the pairwise path (an export
    counts those; the agreed units' consensus is their final answer). A project of a single
    question is read through that question."""
    opt = options or Options()
    info = project_info(store)
    if question is None and len(info.spec.questions) == 1 and not _other_questions(store, info):
        question = info.spec.questions[0].id
    report, answers = _answers(store, question, opt, read, full=False)
    if isinstance(answers, list):
        questions = [q.id for q in info.spec.questions]
        answers = Answers.of(answers, store, info.id, questions)
    return report, answers


def _other_questions(store: Store, info) -> bool:
    """Whether labels or decisions answer a question the spec no longer has."""
    qid = info.spec.questions[0].id
    return any(store.one(f"SELECT 1 FROM {table} WHERE project_id=? AND question_id<>? LIMIT 1", (info.id, qid))
               for table in ("labels", "decisions"))


def _answers(store: Store, question: str | None, options: Options | None, read, *, full: bool):
    opt = options or Options()
    info = project_info(store)
    q = None if question is None else next((x for x in info.spec.questions if x.id == question), None)
    if q is not None and q.mode == "pairwise" and not opt.weighted and not adaptive_rounds(store, info.id):
        raters = load_raters(store, info.id)
        found = None if raters.machines else _pairwise(store, info, q, opt, raters, read, full=full)
        if found is not None:
            return found
    if read is not None:
        read()
    report = quality_report(store, question=question, options=opt, light=True)
    finals = _general_columns(report, info.spec, question, latest_decisions(store, info.id))
    if finals is None:
        finals = final_answers(store, question=question, options=opt, report=report)
    report.loaded = None  # the items and ratings read: the export holds the report while it writes
    return report, finals


def _general_columns(report: QualityReport, spec, question: str | None,
                     decisions: dict[tuple[str, str], dict]) -> Answers | None:
    """final_answers as columns, worked out from the arrays the report was computed from: the
    labels are grouped by item and question with numpy, and only a unit whose answers differ
    has its consensus made (one at a time). No Rating per label and no dict of every unit's
    consensus: a rubric's million labels are their codes. Equal consensus answers are held
    once. None when the report holds no arrays (final_answers then)."""
    loaded, consensus = report.loaded, report.consensus
    if not isinstance(loaded, Loaded) or not isinstance(consensus, ConsensusList):
        return None
    it, table, machines = loaded.items, loaded.table, loaded.raters.machines
    questions = spec.questions
    nq = len(questions)
    place = {q.id: n for n, q in enumerate(questions) if question is None or q.id == question}
    # per code of the label table (and -1): the question's place in the spec, whether it holds an answer
    q_place = np.array([place.get(q, -1) for q in table.questions] + [-1], np.int64)
    answered = np.array([a[0] is not None for a in table.answers] + [False], bool)
    rows = np.flatnonzero(answered[table.answer] & ~table.rater_mask(machines) & (q_place[table.question] >= 0))
    keys = table.item[rows].astype(np.int64) * nq + q_place[table.question[rows]]
    by = np.argsort(keys, kind="stable")  # by item and question, each unit's labels in the table's order
    rows, keys = rows[by], keys[by]
    del by
    starts = first_of_groups(keys)
    counts = np.diff(np.r_[starts, len(rows)])
    # equal answers (as == finds them) share a code
    codes: dict[str, int] = {}
    same_as = np.array([codes.setdefault(json.dumps(a[0], sort_keys=True), len(codes)) for a in table.answers] + [-1],
                       np.int64)[table.answer[rows]]
    same = (np.minimum.reduceat(same_as, starts) == np.maximum.reduceat(same_as, starts)) if len(starts) else \
        np.zeros(0, bool)
    del same_as, codes
    unit_keys = keys[starts]
    del keys
    # units with no label to group: gold answers, and decisions
    gold = {}
    for i in np.flatnonzero(it.kind == KINDS.index("gold")).tolist():
        item = it.item(i)
        gold.update({i * nq + place[qid]: answer for qid, answer in (item.gold or {}).items() if qid in place})
    decided = {}
    if decisions:
        at = it.positions({iid for iid, _ in decisions})
        decided = {at[iid] * nq + place[qid]: d for (iid, qid), d in decisions.items() if iid in at and qid in place}
    extra = np.array(sorted(gold.keys() | decided.keys()), np.int64)
    extra = extra[~np.isin(extra, unit_keys)].tolist()
    c_keys = consensus._items() * nq + consensus.entry_q
    if len(c_keys) > 1 and (c_keys[1:] < c_keys[:-1]).any():
        return None  # not in the order made by consensus_list
    agreed = STATUSES.index("agreed")
    answers = Answers(it.ids, it.seq, [q.id for q in questions])
    add, held = answers.add, {}
    raters, given = table.raters, table.answers
    rater_of, answer_of = table.rater, table.answer
    units = heapq.merge(enumerate(unit_keys.tolist()), zip(repeat(-1), extra), key=itemgetter(1))
    for g, key in units:
        p, qn = divmod(key, nq)
        n = int(counts[g]) if g >= 0 else 0
        if key in gold:
            add(p, qn, gold[key], GOLD, ratings=n)
        elif key in decided:
            d = decided[key]
            add(p, qn, d["answer"], ADJUDICATED, d.get("reason"), ratings=n, rater=d["reviewer"])
        elif questions[qn].mode == "demonstration" or n == 1:
            for r in rows[starts[g]:starts[g] + n].tolist():
                add(p, qn, given[answer_of[r]][0], SINGLE, ratings=n, rater=raters[rater_of[r]])
        elif same[g]:
            add(p, qn, given[answer_of[rows[starts[g]]]][0], UNANIMOUS, support=1.0, ratings=n)
        else:
            c = int(np.searchsorted(c_keys, key))
            if c < len(c_keys) and c_keys[c] == key and consensus.status[c] == agreed:
                made = consensus[c]
                if made.value:
                    value = held.setdefault(json.dumps(made.value), made.value)
                    add(p, qn, value, MAJORITY, support=made.support, ratings=n)
    return answers.seal()


# the items' seqs, ids and skeletons (migration 0005; '' for none) of a page of items from the one
# after seq ? on, joined by \x1e into one text each
ITEM_COLUMNS = """
    SELECT group_concat(seq), group_concat(id, char(30)), group_concat(ifnull(skeleton, ''), char(30))
    FROM (SELECT seq, id, skeleton FROM items INDEXED BY items_skeleton WHERE project_id=? AND seq > ?
          ORDER BY seq LIMIT ?)
"""
ITEM_PAGE_ROWS = 65_536


def _items(store: Store, project_id: str) -> tuple[list[str], list[str | None]]:
    """The items' ids and skeletons (None for a gold or calibration item), in the items' order."""
    ids, skeletons, _ = _item_columns(store, project_id)
    return list(ids), skeletons


def _item_columns(store: Store, project_id: str) -> tuple[Sequence[str], list[str | None], np.ndarray]:
    """_items and the items' seqs (ascending), read a page at a time; items of one shape share
    one skeleton text. The ids come as Ids unless one holds a NUL character (fixed-width bytes
    drop trailing ones) or a few long ids would make every id as long (then a list)."""
    shapes: dict[str, str | None] = {"": None}
    pages: list[np.ndarray] = []
    skeletons: list[str | None] = []
    seqs = [np.zeros(0, dtype=np.int64)]
    last, size, plain = -(2**63), 0, True
    while True:
        page = store.tuples(ITEM_COLUMNS, (project_id, last, ITEM_PAGE_ROWS)).fetchone()
        if page[0] is None:
            break
        order = np.fromstring(page[0], dtype=np.int64, sep=",")
        plain = plain and "\x00" not in page[1]
        encoded = page[1].encode()
        size += len(encoded)
        page_ids = np.array(encoded.split(b"\x1e"), dtype=bytes)
        page_skeletons = [shapes.setdefault(sk, sk) for sk in page[2].split("\x1e")]
        if (order[1:] < order[:-1]).any():  # group_concat keeps the order it is given
            by = np.argsort(order, kind="stable")
            page_ids, page_skeletons, order = page_ids[by], [page_skeletons[k] for k in by.tolist()], order[by]
        pages.append(page_ids)
        skeletons += page_skeletons
        seqs.append(order)
        if len(order) < ITEM_PAGE_ROWS:
            break
        last = int(order[-1])
    codes = np.concatenate(pages) if pages else np.zeros(0, dtype="S1")
    pages.clear()
    ids: Sequence[str] = Ids(codes)
    if not plain or codes.dtype.itemsize > 2 * size / max(len(codes), 1) + 64:
        ids = list(ids)
    return ids, skeletons, np.concatenate(seqs)


# one annotator's labels (not retracted) of one question, a page of them from an item id on, in the
# label index's order: their items, verdicts ([answer, guidelines version], migration 0006) and
# revisions as columns joined into one text each (\x1e: JSON text holds no control character), so
# no Python object per label and no grouping in SQLite (it takes longer than the scan): the
# newest revision of each item and annotator is picked with numpy. Equal verdicts are equal answers.
LABEL_PAGE = """
    SELECT count(*), group_concat(item_id, char(30)), group_concat(verdict, char(30)), group_concat(revision),
           max(item_id), min(item_id)
    FROM (SELECT item_id, verdict, revision FROM labels INDEXED BY labels_current
          WHERE project_id=? AND annotator=? AND item_id {op} ? AND retracted=0 AND question_id=?
          ORDER BY item_id LIMIT ?)
"""
FIRST_ANNOTATOR = "SELECT min(annotator) FROM labels INDEXED BY labels_current WHERE project_id=?"
NEXT_ANNOTATOR = "SELECT min(annotator) FROM labels INDEXED BY labels_current WHERE project_id=? AND annotator > ?"
LABEL_PAGE_ROWS = 65_536  # labels per page read
ITEM_SPAN = 65_536  # items worked out per step (the per-item lists made for speed hold this many)


def _finder(ids: Sequence[str]) -> Callable[[list[str]], np.ndarray]:
    """Ids.finder for any ids."""
    if isinstance(ids, Ids):
        return ids.finder()
    at = dict(zip(ids, range(len(ids)), strict=True))
    return lambda page: np.fromiter(map(at.get, page, repeat(-1)), np.int32, len(page))


def _label_codes(store: Store, project_id: str, qid: str, find: Callable[[list[str]], np.ndarray]):
    """(item positions, annotator codes, verdict codes, revisions) of the labels of question
    `qid` not retracted, as numpy arrays, with the annotators and the verdicts' texts the codes
    stand for; read a page at a time (memory holds the codes, not the labels); None if an id
    holds the separator or a NUL (the caller then takes the general path). Labels of items no longer in
    the project are left out."""
    whos: list[str] = []
    texts: dict[str, int] = {}
    parts: list[tuple[np.ndarray, ...]] = []
    who = store.one(FIRST_ANNOTATOR, (project_id,))[0]
    while who is not None:
        code, lo, op = len(whos), "", ">="
        whos.append(who)
        while True:
            count, ids, verdicts, revisions, hi, first = store.tuples(
                LABEL_PAGE.format(op=op), (project_id, who, lo, qid, LABEL_PAGE_ROWS)).fetchone()
            if not count:
                break
            if "\x00" in ids:
                return None
            ids, verdicts = ids.split("\x1e"), verdicts.split("\x1e")
            revs = np.fromstring(revisions, dtype=np.int64, sep=",")
            if not len(ids) == len(verdicts) == len(revs) == count:
                return None
            full = more = count == LABEL_PAGE_ROWS
            if full and first == hi:  # one item's revisions fill the page: that item whole
                count, joined, joined_verdicts, revisions, *_ = store.tuples(
                    LABEL_PAGE.format(op="="), (project_id, who, hi, qid, -1)).fetchone()
                ids, verdicts = joined.split("\x1e"), joined_verdicts.split("\x1e")
                revs = np.fromstring(revisions, dtype=np.int64, sep=",")
                more, op, lo = True, ">", hi
            elif full:  # the last item's labels may go on in the next page: all of them there
                keep = [n for n, i in enumerate(ids) if i != hi]
                ids, verdicts, revs = [ids[n] for n in keep], [verdicts[n] for n in keep], revs[keep]
                op, lo = ">=", hi
            for t in dict.fromkeys(verdicts):
                if t not in texts:
                    texts[t] = len(texts)
            pos = find(ids)
            text = np.fromiter(map(texts.__getitem__, verdicts), np.int32, len(verdicts))
            parts.append((pos, np.full(len(ids), code, dtype=np.int32), text, revs))
            if not more:
                break
        who = store.one(NEXT_ANNOTATOR, (project_id, who))[0]
    if not parts:
        empty = np.zeros(0, dtype=np.int32)
        return (empty, empty, empty, empty), [], []
    columns = [list(c) for c in zip(*parts, strict=True)]
    parts.clear()
    pos, who_at, text_at, revs = (_concatenate(c) for c in columns)
    there = pos >= 0
    if not there.all():
        pos, who_at, text_at, revs = pos[there], who_at[there], text_at[there], revs[there]
    return (pos, who_at, text_at, revs), whos, list(texts)


def _concatenate(pieces: list[np.ndarray]) -> np.ndarray:
    """The pieces as one array, each let go once copied (memory holds the pieces and the array once)."""
    out = np.concatenate(pieces)
    pieces.clear()
    return out


def _newest(item: np.ndarray, who: np.ndarray, rev: np.ndarray) -> np.ndarray:
    """The positions (ascending) of the labels that are their item and annotator's newest revision."""
    by = np.lexsort((rev, who, item))
    last = np.r_[(item[by][1:] != item[by][:-1]) | (who[by][1:] != who[by][:-1]), True]
    return np.sort(by[last])


def _note(conflicts: tuple[array, array, array], p: int, support: float | None, ratings: int) -> None:
    item, share, rated = conflicts
    item.append(p)
    share.append(NAN if support is None else support)
    rated.append(ratings)


class _Conflicts(ConsensusList):
    """The consensus of one question's conflicts as columns (an export counts them; each
    ItemConsensus would cost some 200 bytes): an ItemConsensus is made when read, as
    mark_decided leaves it."""

    def __init__(self, ids: Sequence[str], qid: str, conflicts: tuple[array, array, array],
                 decisions: dict[tuple[str, str], dict]):
        self.ids, self.qid = ids, qid
        self.item, self.support, self.ratings = (np.array(c, dtype=c.typecode) for c in conflicts)
        decided = {iid for iid, q in decisions if q == qid}
        self.decided = np.fromiter((self.ids[p] in decided for p in self.item.tolist()), bool, len(self.item)) \
            if decided else np.zeros(len(self.item), bool)
        self.status = np.where(self.decided, STATUSES.index("decided"), STATUSES.index("conflict")).astype(np.int8)

    def __getitem__(self, k):
        k = self._position(k)
        if isinstance(k, list):
            return k
        support = float(self.support[k])
        return ItemConsensus(self.ids[int(self.item[k])], self.qid, STATUSES[self.status[k]], None,
                             None if support != support else support, int(self.ratings[k]), None,
                             bool(self.decided[k]))

    def __iter__(self) -> Iterator[ItemConsensus]:
        return map(self.__getitem__, range(len(self)))


def _pairwise(store: Store, info, q, opt: Options, raters, read: Callable[[], None] | None = None,
              *, full: bool = True) -> tuple[QualityReport, Answers] | None:
    """export_answers for one pairwise question: per item, the answers in the report's
    annotator order; consensus and final answer as quality_report and final_answers make them
    (the consensus of every unit when `full`, else of the conflicts only). The labels come as
    codes and are grouped by item with numpy; items whose answers are all the same (the common
    case) share one worked-out result per answer and count (and item shape, when `full`)."""
    item_ids, skeletons, seqs = _item_columns(store, info.id)
    whole = {}  # gold and calibration items (no skeleton), read whole
    if None in skeletons:
        whole = {iid: Item.model_validate_json(data) for iid, data in store.tuples(WHOLE, (info.id,))}
    found = _label_codes(store, info.id, q.id, _finder(item_ids))
    if found is None:
        return None
    (item_at, who_at, text_at, revs), whos, distinct = found
    del found  # else it holds the codes as read until the end
    if (revs != 1).any():  # keep each item and annotator's newest revision only
        current = _newest(item_at, who_at, revs)
        item_at, who_at, text_at = item_at[current], who_at[current], text_at[current]
    del revs
    verdicts = [json.loads(t) for t in distinct]
    parsed = [v[0] for v in verdicts]  # the answers, by verdict code
    normal = np.fromiter((sk is not None for sk in skeletons), bool, len(skeletons))
    # the guidelines versions of the labels on normal items
    on_normal = np.unique(text_at if not whole else text_at[normal[item_at]]).tolist()
    versions = {verdicts[t][1] or "" for t in on_normal}
    labeled = {whos[w] for w in np.unique(who_at).tolist()}
    ordered = [*raters.names, *sorted(labeled - set(raters.names))]
    name = "strength" if q.scale == "strength" else "choice"
    var = declare_variables(info.spec, q.id)[(q.id, name)]
    valid = np.array([a is not None and a.get("mode") == q.mode for a in parsed], dtype=bool)  # count
    valued = labeled if not whole and valid.all() else {
        whos[w] for w in np.unique(who_at[valid[text_at] & normal[item_at]]).tolist()}
    humans = [a for a in ordered if a in valued]
    code = {c: float(n) for n, c in enumerate(var.categories)}.get

    # group the labels by item (in the items' order), each group in the report's annotator order
    place = {a: n for n, a in enumerate(ordered)}
    who_at = np.array([place.get(w, -1) for w in whos], dtype=np.int32)[who_at] if len(who_at) else who_at
    by = np.lexsort((who_at, item_at))
    item_at, text_at, who_at = item_at[by], text_at[by], who_at[by]
    starts = np.flatnonzero(np.r_[True, item_at[1:] != item_at[:-1]]) if len(item_at) else item_at
    counts = np.diff(np.r_[starts, len(item_at)])
    same = (np.minimum.reduceat(text_at, starts) == np.maximum.reduceat(text_at, starts)) \
        if len(starts) else np.zeros(0, dtype=bool)
    group = np.full(len(item_ids), -1, dtype=np.int64)
    group[item_at[starts]] = np.arange(len(starts))
    del by, item_at, normal
    valid = valid.tolist()

    decisions = latest_decisions(store, info.id)
    if read is not None:
        read()  # done with the store
    rows: dict[tuple, int] = {}  # each unit's codes -> how many units have them
    consensus: list[ItemConsensus] = []  # when `full`
    conflicts = (array("i"), array("d"), array("i"))  # else the conflicts' items, support and ratings
    answers = Answers(item_ids, seqs, [q.id])
    add = answers.add
    shared: dict[tuple, tuple] = {}  # (verdict, ratings[, skeleton]) -> what all-same answers make
    qid = q.id
    # the last span's lists (and its view of `group`) are let go after the loop
    groups = numbered = span_starts = span_counts = span_same = span_text = span_who = span_ids = None
    for lo in range(0, len(item_ids), ITEM_SPAN):  # per-item lists for a span of items at a time
        groups = group[lo:lo + ITEM_SPAN]
        numbered = groups[groups >= 0]
        g_lo = int(numbered[0]) if len(numbered) else 0
        g_hi = int(numbered[-1]) + 1 if len(numbered) else 0
        first_label = int(starts[g_lo]) if g_hi else 0
        last_label = int(starts[g_hi - 1] + counts[g_hi - 1]) if g_hi else 0
        span_starts = (starts[g_lo:g_hi] - first_label).tolist()
        span_counts, span_same = counts[g_lo:g_hi].tolist(), same[g_lo:g_hi].tolist()
        span_text, span_who = text_at[first_label:last_label].tolist(), who_at[first_label:last_label].tolist()
        span_ids = item_ids[lo:lo + ITEM_SPAN] if full or whole or decisions else None  # else no id is asked
        for p, g in enumerate(groups.tolist(), lo):
            iid, sk = None if span_ids is None else span_ids[p - lo], skeletons[p]
            if g < 0:
                if not (whole or decisions):
                    continue
                pairs = []  # a gold answer or a decision needs no label
            else:
                g -= g_lo
                first, n = span_starts[g], span_counts[g]
                t = span_text[first]
                if span_same[g] and valid[t] and sk is not None and (not decisions or (iid, qid) not in decisions):
                    key = (t, n, sk) if full else (t, n)
                    done = shared.get(key)
                    if done is None:
                        answer = parsed[t]
                        value, support, ok, _ = unit_value(var, [answer.get(name)] * n, None, opt)
                        status = "single" if n < 2 else "agreed" if ok else "conflict"
                        cvalue = None if status == "conflict" or not full else \
                            pairwise_answer(q, value, json.loads(sk)[:2])
                        done = shared[key] = (status, cvalue, support, answer, (code(answer.get(name)),) * n)
                    status, cvalue, support, answer, codes = done
                    if full:
                        consensus.append(ItemConsensus(iid, qid, status, cvalue, support, n))
                    elif status == "conflict":
                        _note(conflicts, p, support, n)
                    rows[codes] = rows.get(codes, 0) + 1
                    if n == 1:
                        add(p, 0, answer, SINGLE, None, None, 1, ordered[span_who[first]])
                    else:
                        add(p, 0, answer, UNANIMOUS, None, 1.0, n)
                    continue
                pairs = [(ordered[span_who[j]], span_text[j]) for j in range(first, first + n)]
            status = None
            if sk is not None:
                values = [parsed[t].get(name) for w, t in pairs if valid[t]]  # in the report's order
                if values:
                    rows[codes] = rows.get(codes := tuple(code(v) for v in values), 0) + 1
                    value, support, ok, m = unit_value(var, values, None, opt)
                    status = "single" if m < 2 else "agreed" if ok else "conflict"
                    cvalue = None if status == "conflict" else pairwise_answer(q, value, json.loads(sk)[:2])
                    if full:
                        consensus.append(ItemConsensus(iid, qid, status, cvalue, support, m))
                    elif status == "conflict":
                        _note(conflicts, p, support, m)
            given = [(w, parsed[t]) for w, t in pairs if parsed[t] is not None]
            item = whole.get(iid)
            key = (iid, qid)
            if item is not None and item.kind == "gold" and item.gold and qid in item.gold:
                add(p, 0, item.gold[qid], GOLD, ratings=len(given))
            elif key in decisions:
                d = decisions[key]
                add(p, 0, d["answer"], ADJUDICATED, d.get("reason"), ratings=len(given), rater=d["reviewer"])
            elif len(given) == 1:
                add(p, 0, given[0][1], SINGLE, ratings=1, rater=given[0][0])
            elif given and all(a == given[0][1] for _, a in given):
                add(p, 0, given[0][1], UNANIMOUS, support=1.0, ratings=len(given))
            elif status == "agreed" and cvalue:
                add(p, 0, cvalue, MAJORITY, support=support, ratings=len(given))
    # the labels' codes and groups are done with: let them go before the figures are worked out
    del group, groups, numbered, starts, counts, same, text_at, who_at, skeletons, shared
    del span_starts, span_counts, span_same, span_text, span_who, span_ids
    give_back()
    width = max((len(r) for r in rows), default=0)
    x = np.full((sum(rows.values()), width), np.nan)
    at_row = 0
    for codes, count in rows.items():
        x[at_row:at_row + count, :len(codes)] = [np.nan if c is None else c for c in codes]
        at_row += count
    kinds = {"normal": len(item_ids) - len(whole), "gold": 0, "calibration": 0}
    for item in whole.values():
        kinds[item.kind] += 1
    report = QualityReport(
        project_id=info.id, project_name=info.name, question=q.id, humans=humans,
        names={a: raters.names.get(a, a) for a in ordered}, items=kinds, variables=[matrix_stats(var, x)],
        consensus=mark_decided(consensus, decisions) if full else _Conflicts(item_ids, qid, conflicts, decisions),
        annotators=[], raters=[], competence=[], by_round=[],
        by_guidelines=[],
        options=opt, guidelines_versions=sorted(versions))
    return report, answers.seal()
