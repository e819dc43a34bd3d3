"""Triage: which items need one more person, given the people's answers so far and one rater's."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from annotary.analysis.consensus import EPS
from annotary.analysis.questions import choices

Parts = dict[tuple, tuple[str, Any]]  # part -> (nominal | ordinal, value)

TRIAGE_MODES = ("pairwise", "ranking", "scoring", "rubric", "categorical")

# why an item goes to one more person (or does not); the reasons a report counts
FIRST = "first person: no one has labelled it"
SKIPPED = "{nth} person: no one has answered yet"
NO_RATER = "second person: {rater} has no answer"
UNSURE = "second person: {rater} is below confidence {confidence:g}"
DISAGREES = "second person: {rater} disagrees"
SPLIT = "{nth} person: {m} people split"
RATER_AGREES = "settled: one person and {rater} agree"
PEOPLE_AGREE = "settled: people agree"
CAPPED = "held: at the most people per item ({cap}) without agreement"
NO_ESTIMATE = "{nth} person: no Dawid–Skene estimate for the people who answered"
DOUBTFUL = "{nth} person: Dawid–Skene posterior of the answer below {threshold:g}"
CONFIDENT = "settled: Dawid–Skene posterior of the answer at least {threshold:g}"
WAITING = "held: waiting for an answer already assigned"
NTH = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}


def nth(n: int) -> str:
    return NTH.get(n, f"{n}th")


def answer_parts(answer: dict | None) -> Parts | None:
    """The categorical and ordinal parts of an answer that triage compares; None for no answer.

    Pairwise: the choice (the side, on a strength scale too); ranking: the top choice (the first
    group, or "none acceptable"); scoring: each response's axis score (ordinal); rubric: each
    criterion's mark; categorical: the set of categories (and Other) per item or response. Free
    text (demonstrations) has none."""
    if not answer:
        return None
    mode = answer.get("mode")
    if mode == "pairwise":
        return {("choice",): ("nominal", answer.get("choice"))}
    if mode == "ranking":
        if answer.get("all_unacceptable"):
            return {("top",): ("nominal", ("none acceptable",))}
        order = answer.get("order") or []
        if not order:
            return None
        first = order[0]
        return {("top",): ("nominal", (first,) if isinstance(first, str) else tuple(sorted(first)))}
    if mode == "scoring":
        return {(rid, axis): ("ordinal", float(v)) for rid, axes in answer.get("scores", {}).items()
                for axis, v in axes.items() if v is not None} or None
    if mode == "rubric":
        return {(c,): ("nominal", m) for c, m in answer.get("marks", {}).items() if m is not None} or None
    if mode == "categorical":  # the set of categories picked, per item or per response
        return {unit[1:]: ("nominal", frozenset(names)) for unit, names in choices(answer, "")} or None
    return None


def same(a: Parts, b: Parts, tolerance: float = 0.0) -> bool:
    """Two answers agree: every part both give is equal (ordinal: within `tolerance` points)."""
    for key, (kind, v) in a.items():
        other = b.get(key)
        if other is None:
            continue
        if kind == "ordinal":
            if abs(v - other[1]) > tolerance + EPS:
                return False
        elif v != other[1]:
            return False
    return True


def all_same(answers: Sequence[Parts], tolerance: float = 0.0) -> bool:
    return all(same(answers[0], b, tolerance) for b in answers[1:])


def majority_parts(answers: Sequence[Parts], tolerance: float = 0.0) -> dict[tuple, Any]:
    """Per part, the value more than half of the answers give (ordinal: the lower median, where
    more than half are within `tolerance` of it), or None: no majority."""
    out: dict[tuple, Any] = {}
    keys = {k: kind for a in answers for k, (kind, _) in a.items()}
    for key, kind in keys.items():
        values = [a[key][1] for a in answers if key in a]
        if kind == "ordinal":
            ordered = sorted(values)
            med = ordered[(len(ordered) - 1) // 2]
            close = sum(abs(v - med) <= tolerance + EPS for v in values)
            out[key] = med if close * 2 > len(values) else None
        else:
            value, n = Counter(values).most_common(1)[0]
            out[key] = value if n * 2 > len(values) else None
    return out


def matches(outcome: dict[tuple, Any], reference: dict[tuple, Any], kinds: dict[tuple, str],
            tolerance: float = 0.0) -> bool | None:
    """Does a plan's outcome reproduce the reference majority? None where the reference has none."""
    decided = {k: v for k, v in reference.items() if v is not None}
    if not decided:
        return None
    for key, v in decided.items():
        got = outcome.get(key)
        if got is None:
            return False
        if kinds.get(key) == "ordinal":
            if abs(got - v) > tolerance + EPS:
                return False
        elif got != v:
            return False
    return True


def triage_reason(people: Sequence[dict[str, Parts | None]], rater: dict[str, Parts | None],
                  unsure: set[str], *, questions: Sequence[str], rater_name: str = "the rater",
                  min_confidence: float | None = None, tolerance: float = 0.0,
                  cap: int = 3) -> tuple[bool, str]:
    """(send one more person?, why) for one item.

    `people`: each person's answers so far, by question (None: no answer, e.g. a skip); `rater`:
    the rater's answers by question; `unsure`: questions where the rater is below the confidence
    asked for. One answer: a second person where the rater has no answer, is unsure or disagrees on
    any question. Two answers or more: one more person while they split, up to `cap` people."""
    n = len(people)
    if n == 0:
        return True, FIRST
    answering = [p for p in people if any(p.get(q) for q in questions)]
    if n >= cap:
        more, why = False, CAPPED.format(cap=cap)
    else:
        more, why = True, ""
    if not answering:
        return more, why or SKIPPED.format(nth=nth(n + 1))
    if len(answering) == 1:
        mine = answering[0]
        found = None
        for q in questions:
            if mine.get(q) is None:
                continue
            theirs = rater.get(q)
            if theirs is None:
                reason = NO_RATER
            elif q in unsure:
                reason = UNSURE
            elif not same(mine[q], theirs, tolerance):
                reason = DISAGREES
            else:
                continue
            order = (NO_RATER, UNSURE, DISAGREES)
            if found is None or order.index(reason) > order.index(found):
                found = reason  # a disagreement says most about the item
        if found is None:
            return False, RATER_AGREES.format(rater=rater_name)
        text = found.format(rater=rater_name, confidence=min_confidence or 0)
        if n > 1:
            text = text.replace("second person", nth(n + 1) + " person")
        return more, why or text
    for q in questions:
        given = [p[q] for p in answering if p.get(q)]
        if len(given) >= 2 and not all_same(given, tolerance):
            return more, why or SPLIT.format(nth=nth(n + 1), m=WORDS.get(len(answering), len(answering)))
    return False, PEOPLE_AGREE


def competence_reason(people: Sequence[dict[str, Parts | None]], posterior: float | None, *,
                      questions: Sequence[str], min_posterior: float, tolerance: float = 0.0,
                      cap: int = 3) -> tuple[bool, str]:
    """(send one more person?, why) for one item under competence-guided routing.

    `posterior`: the Dawid–Skene probability that the people's current answer (their majority,
    or the one person's answer) is right, its weakest part; None where no one who answered has an
    estimate. Where people split there is no human answer to weigh: one more person, always; the
    estimates choose who labels what, never the answer."""
    n = len(people)
    if n == 0:
        return True, FIRST
    more, why = (False, CAPPED.format(cap=cap)) if n >= cap else (True, "")
    answering = [p for p in people if any(p.get(q) for q in questions)]
    if not answering:
        return more, why or SKIPPED.format(nth=nth(n + 1))
    for q in questions:
        given = [p[q] for p in answering if p.get(q)]
        if len(given) >= 2 and any(v is None for v in majority_parts(given, tolerance).values()):
            return more, why or SPLIT.format(nth=nth(n + 1), m=WORDS.get(len(answering), len(answering)))
    if posterior is None:
        return more, why or NO_ESTIMATE.format(nth=nth(n + 1))
    if posterior < min_posterior:
        return more, why or DOUBTFUL.format(nth=nth(n + 1), threshold=min_posterior)
    return False, CONFIDENT.format(threshold=min_posterior)


WORDS = {2: "two", 3: "three", 4: "four", 5: "five"}
