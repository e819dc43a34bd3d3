"""What each question mode's answers are as rated variables, and back: the one place a mode plugs in.

A mode's QuestionKind says which variables a question has (name, level of measurement, scale),
how one answer fills them (rate), how agreed parts make an answer again (answer), whether a
conflict keeps the parts that agree (partial), when an answer differs from a consensus
(differs) and how much of an expert answer a label matches (score). The level decides the
distance used by agreement and how consensus is taken (analysis.figures, analysis.verdicts);
a new mode registers a kind in KINDS, a new level adds its distance and consensus there.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np

from annotary.analysis.consensus import EPS
from annotary.analysis.variables import Cells, Options, Rating, Variable, same_ranking
from annotary.core.items import Item, criteria_for
from annotary.core.labels import rubric_score
from annotary.core.spec import Spec

PAIRWISE_CHOICES = {"binary": ["A", "B"], "tie": ["A", "B", "tie"],
                    "fourway": ["A", "B", "tie", "both_bad"]}
MARKS = ["not_met", "partly", "met"]
ITEM_CRITERIA = "item-criteria"  # per-item rubric criteria, pooled: their ids mean nothing across items

Parts = dict[tuple[str, tuple], Any]  # (variable name, unit) -> agreed value


class QuestionKind:
    """How the answers of one question mode are rated variables (override every method)."""

    mode: str = ""
    partial = False  # a conflict keeps the agreed parts (axes, criteria) as its value

    def variables(self, q) -> list[Variable]:
        """The question's variables, empty."""
        raise NotImplementedError

    def rate(self, q, item: Item, who: str, answer: dict, found: dict[str, Variable]) -> None:
        """Put one annotator's answer into the question's variables (by name)."""
        raise NotImplementedError

    def answer(self, q, parts: Parts, item: Item) -> dict:
        """The answer-shaped consensus value from its agreed parts."""
        raise NotImplementedError

    def differs(self, agreed: dict, answer: dict, opt: Options) -> bool:
        """Does an answer disagree with an agreed consensus value (by the consensus's own tolerance)?"""
        raise NotImplementedError

    def score(self, given: dict, gold: dict) -> float | None:
        """How much of an expert answer a label of this mode matches, 0 to 1 (None: not scored)."""
        raise NotImplementedError


class Pairwise(QuestionKind):
    mode = "pairwise"

    @staticmethod
    def _name(q) -> str:
        return "strength" if q.scale == "strength" else "choice"

    def variables(self, q):
        if q.scale == "strength":
            return [Variable(q.id, "strength", "ordinal", list(range(1, q.points + 1)))]
        return [Variable(q.id, "choice", "nominal", list(PAIRWISE_CHOICES[q.scale]))]

    def rate(self, q, item, who, answer, found):
        name = self._name(q)
        found[name].values[who][(item.id,)] = answer.get(name)

    def answer(self, q, parts, item):
        return pairwise_answer(q, parts[(self._name(q), (item.id,))], [r.id for r in item.responses[:2]])

    def differs(self, agreed, answer, opt):
        return agreed["choice"] != answer["choice"]

    def score(self, given, gold):
        return float(given["choice"] == gold["choice"])


def pairwise_answer(q, value, response_ids: list[str]) -> dict:
    """The answer a pairwise consensus value (a choice, or a point of the strength scale) stands for."""
    if q.scale == "strength":
        point = int(value)
        n = q.points
        choice = "tie" if n % 2 and point == (n + 1) // 2 else ("A" if point <= n // 2 else "B")
        out = {"mode": "pairwise", "choice": choice, "strength": point}
    else:
        out = {"mode": "pairwise", "choice": value}
    if out["choice"] in ("A", "B"):
        out["preferred"] = response_ids[0 if out["choice"] == "A" else 1]
    return out


class Ranking(QuestionKind):
    mode = "ranking"

    def variables(self, q):
        return [Variable(q.id, "order", "ranking")]

    def rate(self, q, item, who, answer, found):
        var = found["order"]
        var.values[who][(item.id,)] = answer["order"]
        var.responses[item.id] = [x.id for x in item.responses]
        if answer.get("all_unacceptable"):
            var.unacceptable.setdefault(item.id, set()).add(who)

    def answer(self, q, parts, item):
        return {"mode": "ranking", **parts[("order", (item.id,))]}

    def differs(self, agreed, answer, opt):
        return not same_ranking(agreed, answer)

    def score(self, given, gold):
        return float(same_ranking(given, gold))


class Scoring(QuestionKind):
    mode = "scoring"
    partial = True

    def variables(self, q):
        return [Variable(q.id, ax.id, q.level, sorted(p.value for p in ax.scale)) for ax in q.axes]

    def rate(self, q, item, who, answer, found):
        for rid, axes in answer["scores"].items():
            unit = (item.id, rid)  # one key for every axis
            for axis, v in axes.items():
                if axis in found:
                    found[axis].values[who][unit] = v

    def answer(self, q, parts, item):
        scores: dict[str, dict] = defaultdict(dict)
        for (axis, unit), v in parts.items():
            scores[unit[1]][axis] = v
        return {"mode": "scoring", "scores": dict(scores)}

    def differs(self, agreed, answer, opt):
        return any(abs(v - answer["scores"].get(rid, {}).get(ax, v)) > opt.ordinal_tolerance + EPS
                   for rid, axes in agreed["scores"].items() for ax, v in axes.items())

    def score(self, given, gold):
        cells = [(rid, ax, v) for rid, axes in gold["scores"].items() for ax, v in axes.items()]
        hits = sum(given["scores"].get(rid, {}).get(ax) == v for rid, ax, v in cells)
        return hits / len(cells) if cells else None


class Rubric(QuestionKind):
    mode = "rubric"
    partial = True

    def variables(self, q):
        marks = MARKS if q.allow_partial else ["not_met", "met"]
        out = [Variable(q.id, c.id, "nominal", list(marks)) for c in q.criteria]
        if q.per_item:
            out.append(Variable(q.id, ITEM_CRITERIA, "nominal", list(marks)))
        return [*out, Variable(q.id, "score", "interval")]

    def rate(self, q, item, who, answer, found):
        crits = criteria_for(q, item)
        own = {c.id for c in q.criteria}
        for c in crits:
            mark = answer["marks"].get(c.id)
            if mark is not None:
                var = found[c.id] if c.id in own else found[ITEM_CRITERIA]
                var.values[who][(item.id,) if c.id in own else (item.id, c.id)] = mark
        score = rubric_score(crits, answer["marks"])[2]
        if score is not None:
            found["score"].values[who][(item.id,)] = score

    def answer(self, q, parts, item):
        marks = {(unit[1] if name == ITEM_CRITERIA else name): v
                 for (name, unit), v in parts.items() if name != "score"}
        return {"mode": "rubric", "marks": marks}

    def differs(self, agreed, answer, opt):
        return any(answer["marks"].get(c, m) != m for c, m in agreed["marks"].items())

    def score(self, given, gold):
        marks = gold["marks"]
        return sum(given["marks"].get(c) == m for c, m in marks.items()) / len(marks) if marks else None


OTHER = "Other"  # every 'Other' answer counts as one category; its texts are not compared
OTHER_AGREED = "(the annotators' own words)"  # the text of an agreed 'Other'


def choices(answer: dict, item_id: str) -> list[tuple[tuple, list[str]]]:
    """(unit, names picked) of a categorical answer: the item, or each response; an 'Other'
    answer is the name OTHER."""
    per = answer.get("responses")
    given = [((item_id, rid), c) for rid, c in per.items()] if per is not None else [((item_id,), answer)]
    return [(unit, [*c.get("categories", []), *([OTHER] if c.get("other") is not None else [])])
            for unit, c in given]


class Categorical(QuestionKind):
    """Single choice: one nominal variable, consensus by plurality. Multi-choice: the set of
    categories (alpha with the MASI distance, a per-category majority as consensus) and a
    yes / no variable per category (its kappas)."""

    mode = "categorical"

    @staticmethod
    def labels(q) -> list[str]:
        return q.names() + ([OTHER] if q.other else [])

    @classmethod
    def set_name(cls, q) -> str:
        return "all categories" if "categories" in cls.labels(q) else "categories"

    def variables(self, q):
        labels = self.labels(q)
        if not q.multiple:
            return [Variable(q.id, "category", "nominal", labels, plurality=True)]
        return [Variable(q.id, self.set_name(q), "set", members=labels),
                *(Variable(q.id, name, "nominal", ["no", "yes"]) for name in labels)]

    def rate(self, q, item, who, answer, found):
        labels = self.labels(q)
        for unit, names in choices(answer, item.id):
            if not q.multiple:
                if len(names) == 1 and names[0] in found["category"].categories:
                    found["category"].values[who][unit] = names[0]
                continue
            if not set(names) <= set(labels):
                continue  # an answer to an older spec's categories
            found[self.set_name(q)].values[who][unit] = sum(1 << labels.index(n) for n in set(names))
            for name in labels:
                found[name].values[who][unit] = "yes" if name in names else "no"

    def answer(self, q, parts, item):
        labels = self.labels(q)
        picked: dict[tuple, list[str]] = {}
        for (name, unit), value in parts.items():
            if not q.multiple:
                picked[unit] = [value]
            elif name == self.set_name(q):
                picked[unit] = [n for i, n in enumerate(labels) if int(value) >> i & 1]

        def choice(names: list[str]) -> dict:
            out: dict = {"categories": [n for n in names if n != OTHER]}
            if OTHER in names:
                out["other"] = OTHER_AGREED
            return out
        if q.target == "response":
            return {"mode": "categorical", "responses": {
                r.id: choice(picked[(item.id, r.id)]) for r in item.responses if (item.id, r.id) in picked}}
        return {"mode": "categorical", **choice(picked.get((item.id,), []))}

    def differs(self, agreed, answer, opt):
        mine = {unit: set(names) for unit, names in choices(answer, "")}
        return any(mine.get(unit, set(names)) != set(names) for unit, names in choices(agreed, ""))

    def score(self, given, gold):
        mine = {unit: set(names) for unit, names in choices(given, "")}
        units = choices(gold, "")
        return sum(mine.get(unit) == set(names) for unit, names in units) / len(units) if units else None


# every mode with figures; a mode not here (demonstration: free text) has no variables, no
# consensus (a reviewer decides) and no gold score
KINDS: dict[str, QuestionKind] = {k.mode: k for k in (Pairwise(), Ranking(), Scoring(), Rubric(),
                                                      Categorical())}


def kind_of(q) -> QuestionKind | None:
    return KINDS.get(q.mode)


def declare_variables(spec: Spec, question: str | None = None) -> dict[tuple[str, str], Variable]:
    """Every variable of the spec's questions (or of one), empty, by (question id, name)."""
    out: dict[tuple[str, str], Variable] = {}
    for q in spec.questions:
        kind = kind_of(q)
        if kind is not None and (question is None or q.id == question):
            out.update({(q.id, v.name): v for v in kind.variables(q)})
    return out


def build_variables(spec: Spec, items: dict[str, Item], ratings: Iterable[Rating],
                    question: str | None = None) -> list[Variable]:
    """The spec's variables filled with the ratings' answers (an answer of another mode, or of an
    item or question no longer there, is left out)."""
    found = declare_variables(spec, question)
    named: dict[str, dict[str, Variable]] = defaultdict(dict)
    for (qid, name), var in found.items():
        named[qid][name] = var
    questions = {q.id: (q, kind_of(q), named[q.id]) for q in spec.questions
                 if q.id in named}
    for r in ratings:
        q, kind, variables = questions.get(r.question_id, (None, None, None))
        item = items.get(r.item_id)
        a = r.answer
        if q is None or item is None or a is None or a.get("mode") != q.mode:
            continue
        kind.rate(q, item, r.annotator, a, variables)
    return list(found.values())


def answer_score(q, given: dict | None, gold: dict) -> float | None:
    """How much of the expert answer a label matches, 0 to 1; None when not scored (skipped, free text)."""
    kind = kind_of(q)
    if kind is None or given is None or given.get("mode") != q.mode:
        return None
    return kind.score(given, gold)


def differs(agreed: dict, answer: dict, opt: Options) -> bool:
    """Does an answer disagree with an agreed consensus value of its mode?"""
    kind = KINDS.get(answer.get("mode"))
    return kind is not None and kind.differs(agreed, answer, opt)


# --- from arrays --------------------------------------------------------------------------------

_ME, _IT = "\0rater", "\0item"  # who and which item a template answer is rated as


def _cells_of(q, kind: QuestionKind, names: list[str], items, table, rows: np.ndarray) -> dict | None:
    """Cells of a question whose every answer rates its item as a whole (one unit, the item):
    each distinct (answer, item shape) is rated once, as a template; None where an answer rates
    other units (responses, criteria), which the per-rating path handles. Per variable: the rows,
    each row's template, the value code of each template (-1: unrated) and the values."""
    combo = table.answer[rows].astype(np.int64) * len(items.bases) + items.shape[table.item[rows]]
    kinds, which = np.unique(combo, return_inverse=True)
    given: dict[str, list] = {n: [] for n in names}  # per variable: value code per combo, -1 unrated
    values: dict[str, dict] = {n: {} for n in names}
    for c in kinds.tolist():
        answer = table.answers[c // len(items.bases)][0]
        ok = answer is not None and answer.get("mode") == q.mode
        found = {v.name: v for v in kind.variables(q)}
        if ok:
            kind.rate(q, items.rename(items.bases[c % len(items.bases)], _IT), _ME, answer, found)
        for n in names:
            rated = found[n].values.get(_ME, {})
            if set(rated) - {(_IT,)}:
                return None
            if (_IT,) in rated:
                v = rated[(_IT,)]
                given[n].append(values[n].setdefault((type(v), v), len(values[n])))
            else:
                given[n].append(-1)
    # per variable, its rows and codes are made when its cells are (one variable's at a time)
    return {n: (rows, which, np.asarray(given[n], np.int16 if len(values[n]) < 2**15 else np.int32),
                [v for _, v in values[n]]) for n in names}


def build_from_table(spec: Spec, items, table, mask: np.ndarray, question: str | None = None,
                     rank: np.ndarray | None = None) -> list[Variable]:
    """build_variables of the masked labels of a LabelTable (analysis.table): the variables of a
    question whose answers rate whole items hold their ratings as arrays (Variable.cells); the
    others are filled answer by answer, as build_variables fills them."""
    found = declare_variables(spec, question)
    rank = items.ranks() if rank is None else rank
    for q in spec.questions:
        names = [name for (qid, name) in found if qid == q.id]
        qcode = table.code(table.questions, q.id)
        if not names or qcode < 0:
            continue
        kind = kind_of(q)
        rows = np.flatnonzero(mask & (table.question == qcode))
        cells = _cells_of(q, kind, names, items, table, rows) \
            if (len(names) == 1 and kind.mode in ("pairwise", "categorical")) or kind.mode == "rubric" else None
        if cells is not None:
            last = None  # the rows the last variable rates, their items and raters: shared by the next that rates them
            for n, (at, which, per_combo, values) in cells.items():
                code = per_combo[which]
                keep = code >= 0
                whole = bool(keep.all())
                if last is None or not np.array_equal(keep, last[0]):
                    rows_rated = at if whole else at[keep]
                    last = (keep, table.item[rows_rated], table.rater[rows_rated])
                    del rows_rated
                found[(q.id, n)].cells = Cells(last[1], last[2], code if whole else code[keep], values,
                                               table.raters, items.ids, rank)
                del at, code, keep
            continue
        variables = {name: found[(q.id, name)] for name in names}
        for i, a, c in zip(table.item[rows].tolist(), table.rater[rows].tolist(),
                           table.answer[rows].tolist(), strict=True):
            answer = table.answers[c][0]
            if answer is not None and answer.get("mode") == q.mode:
                kind.rate(q, items.item(i), table.raters[a], answer, variables)
    return list(found.values())
