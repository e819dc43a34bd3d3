"""The labeling screen's state: current item, pending answers, navigation, undo, progress."""

from __future__ import annotations

import bisect
import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from annotary.core.errors import AnnotaryError, LabelError
from annotary.core.items import Item, criteria_for
from annotary.core.spec import Requirement
from annotary.flows.modes import (
    MODES,
    PAIRWISE_KEYS,
    Categorical,
    Pairwise,
    Rubric,
    Scoring,
    Value,
    describe,
    letter,
    named,
    parse_answer,
)
from annotary.ops import Store, annotate, queries

FILTERS = ("all", "unlabeled", "flagged")
RANKING = MODES["ranking"]
CATEGORICAL: Categorical = MODES["categorical"]
__all__ = ["PAIRWISE_KEYS", "LabelingFlow", "Pending", "shown_order_for"]


@dataclass(frozen=True)
class Pending:
    """One question's unsubmitted answer as the screen holds it (see flows.modes for values)."""

    value: Value = None
    rationale: str = ""
    confidence: int | None = None


@dataclass(frozen=True)
class Snapshot:
    pending: dict[str, Pending]
    flags: frozenset[str]
    skip_reason: str | None
    focus: int = 0  # the question that had the keys: undo takes back an answer and the move it made


@dataclass
class ItemState:
    item: Item
    position: int  # 0-based index among all items
    shown_order: list[str]
    pending: dict[str, Pending]
    flags: frozenset[str] = frozenset()
    skip_reason: str | None = None
    revision: int = 0  # latest submitted revision, 0 = never submitted
    modified: bool = False  # differs from what was last submitted
    first_shown: datetime = field(default_factory=lambda: datetime.now(UTC))

    def snapshot(self, focus: int = 0) -> Snapshot:
        return Snapshot(dict(self.pending), self.flags, self.skip_reason, focus)


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    per_hour: float | None
    seconds_left: float | None


@dataclass(frozen=True)
class SubmitOutcome:
    ok: bool
    missing: tuple[str, ...] = ()
    message: str = ""
    feedback: str = ""  # for calibration items: the expert answer and why


def calibration_feedback(spec, state: ItemState, answers: dict) -> str:
    """Markdown comparing the annotator's answers with the expert's; only for calibration items."""
    item = state.item
    if item.kind != "calibration" or not item.gold:
        return ""
    lines = []
    for q in spec.questions:
        if q.id not in item.gold:
            continue
        try:
            expert = parse_answer(item.gold[q.id])
        except ValueError:
            continue
        mine = answers.get(q.id)
        same = mine is not None and mine == expert
        lines.append(f"**{q.text}**\n\n"
                     f"Expert: {describe(q, expert, item, state.shown_order)} · "
                     f"you: {describe(q, mine, item, state.shown_order) if mine else 'no answer'}"
                     f" · {'✓ the same' if same else '✗ different'}")
    if item.explanation:
        lines.append(item.explanation)
    return "\n\n".join(lines)


def shown_order_for(annotator: str, item: Item, shuffle: bool) -> list[str]:
    """Deterministic per annotator and item, so a reopened item looks the same."""
    ids = [r.id for r in item.responses]
    if shuffle:
        seed = int(hashlib.sha256(f"{annotator}\0{item.id}".encode()).hexdigest()[:16], 16)
        random.Random(seed).shuffle(ids)
    return ids


class LabelingFlow:
    """Everything the labeling screen shows and does, without Qt."""

    def __init__(self, store: Store, project_id: str, annotator: str,
                 clock: Callable[[], float] = time.monotonic):
        info = queries.project(store, project_id, annotator)
        if info is None:
            raise AnnotaryError(f"no project {project_id!r} in this store")
        self.store, self.project_id, self.annotator, self.clock = store, project_id, annotator, clock
        self.info = info
        self.spec = info.spec
        self.ids = queries.item_ids(store, project_id)
        self.index_of = {item_id: i for i, item_id in enumerate(self.ids)}
        self.labeled = queries.labeled_item_ids(store, project_id, annotator)
        self.flagged = queries.flagged_item_ids(store, project_id, annotator)
        self.filter = "all"
        self._visible: list[int] | None = None  # None = every item
        # a reviewer decides cases: digits adopt annotator N's answer unless editing
        self.review = info.kind == "adjudication"
        self.cases = queries.cases(store, project_id) if self.review else {}
        self.editing = False
        self.focus = 0
        self._cursors: dict[str, tuple[int, ...]] = {}
        self._filters: dict[str, str] = {}  # categorical: the filter typed per question
        self.current: ItemState | None = None
        self._undo: list[Snapshot] = []
        self._redo: list[Snapshot] = []
        self._shown_at = clock()
        self._spent: dict[str, float] = {}
        self._session_start = clock()
        self._session_submits = 0
        self._draft_dirty = False
        self._typing: tuple[str, str] | None = None  # (question, field) of the text being typed
        self._moved_on = False  # the last answer moved the focus on by itself
        self.feedback = ""  # calibration feedback of the item in front of the annotator
        self.listeners: list[Callable[[str], None]] = []
        annotate.mark_opened(store, project_id=project_id)

    # -- events -------------------------------------------------------------------------------
    def _emit(self, what: str) -> None:
        for fn in list(self.listeners):
            fn(what)

    # -- loading ------------------------------------------------------------------------------
    def start(self) -> None:
        """Show the first unlabeled item, or the first item when all are done."""
        for i, item_id in enumerate(self.ids):
            if item_id not in self.labeled:
                self.go_to(i)
                return
        if self.ids:
            self.go_to(0)

    def _load(self, position: int) -> ItemState:
        item_id = self.ids[position]
        item = queries.item(self.store, self.project_id, item_id)
        order = shown_order_for(self.annotator, item, self.spec.shuffle)
        labels = queries.current_labels(self.store, self.project_id, self.annotator, item_id)
        pending = {q.id: Pending(MODES[q.mode].empty(q, item, order)) for q in self.spec.questions}
        state = ItemState(item=item, position=position, shown_order=order, pending=pending)
        if labels:
            self._apply_labels(state, labels)
        draft = queries.draft(self.store, self.project_id, item_id, self.annotator)
        if draft:
            for qid, p in draft.get("pending", {}).items():
                if qid in pending:
                    pending[qid] = Pending(value=p.get("value"), rationale=p.get("rationale", ""),
                                           confidence=p.get("confidence"))
            state.flags = frozenset(draft.get("flags", []))
            state.skip_reason = draft.get("skip_reason")
            state.modified = True
        return state

    def _apply_labels(self, state: ItemState, labels) -> None:
        """Show stored labels as the item's answers, in the order they were shown."""
        state.shown_order = list(labels[0].shown_order)
        state.revision = max(lab.revision for lab in labels)
        state.flags = frozenset(labels[0].flags)
        state.skip_reason = labels[0].skip_reason
        pending = dict(state.pending)
        for lab in labels:
            q = self._question(lab.question_id)
            if q is None:
                continue
            value = pending[q.id].value
            if lab.answer is not None:
                value = MODES[q.mode].from_answer(q, lab.answer, state.item, state.shown_order)
            pending[q.id] = Pending(value=value, rationale=lab.rationale or "",
                                    confidence=lab.confidence)
        state.pending = pending

    def _question(self, question_id: str):
        for q in self.spec.questions:
            if q.id == question_id:
                return q
        return None

    # -- navigation ---------------------------------------------------------------------------
    def _leave(self) -> None:
        if self.current is None:
            return
        self.flush_draft()
        item_id = self.current.item.id
        self._spent[item_id] = self._spent.get(item_id, 0.0) + self.clock() - self._shown_at

    def go_to(self, position: int) -> None:
        if not 0 <= position < len(self.ids):
            raise LabelError(f"there is no item {position + 1} (the project has {len(self.ids)})")
        self._leave()
        self.current = self._load(position)
        self._shown_at = self.clock()
        self._undo.clear()
        self._redo.clear()
        self._typing = None
        self._moved_on = False
        self.feedback = ""
        self._cursors.clear()
        self._filters.clear()
        self.focus = 0
        self.editing = False
        if self.review:
            asked = [i for i, q in enumerate(self.spec.questions) if self.case(q.id)]
            self.focus = asked[0] if asked else 0
        self._emit("item")

    def visible_positions(self) -> list[int]:
        if self._visible is None:
            return list(range(len(self.ids)))
        return list(self._visible)

    def set_filter(self, name: str) -> None:
        if name not in FILTERS:
            raise LabelError(f"unknown filter {name!r}; one of {', '.join(FILTERS)}")
        self.filter = name
        if name == "all":
            self._visible = None
        else:
            keep = self.flagged if name == "flagged" else None
            self._visible = [i for i, item_id in enumerate(self.ids)
                             if (item_id in keep if keep is not None else item_id not in self.labeled)]
        self._emit("filter")

    def _step(self, direction: int) -> bool:
        here = self.current.position if self.current else -1
        if self._visible is None:
            target = here + direction
            if not 0 <= target < len(self.ids):
                return False
        else:
            vis = self._visible
            if direction > 0:
                k = bisect.bisect_right(vis, here)
                if k >= len(vis):
                    return False
            else:
                k = bisect.bisect_left(vis, here) - 1
                if k < 0:
                    return False
            target = vis[k]
        self.go_to(target)
        return True

    def next(self) -> bool:
        return self._step(+1)

    def previous(self) -> bool:
        return self._step(-1)

    def jump(self, text: str) -> None:
        """Go to an item by its number (1-based) or its id."""
        text = text.strip()
        if text in self.index_of:
            self.go_to(self.index_of[text])
        elif text.isdigit():
            self.go_to(int(text) - 1)
        else:
            raise LabelError(f"no item with number or id {text!r}")

    # -- answering ----------------------------------------------------------------------------
    @property
    def focused_question(self):
        return self.spec.questions[self.focus]

    def focus_next(self, step: int = 1) -> None:
        """Tab / Shift+Tab. A Tab right after an answer that already moved the focus on does
        not move it again: "A, Tab, T" answers two questions whether or not the focus moved."""
        if not (step > 0 and self._moved_on):
            n = len(self.spec.questions)
            for _ in range(n):
                self.focus = (self.focus + step) % n
                # a reviewer moves between the cases of the item only
                if not self.review or self.case(self.focused_question.id) or not self._any_case():
                    break
        self._moved_on = False
        self._emit("focus")

    def _any_case(self) -> bool:
        return any(self.case(q.id) for q in self.spec.questions)

    def _change(self, **kwargs) -> None:
        state = self.current
        if state is None:
            raise LabelError("no item is open")
        self._undo.append(state.snapshot(self.focus))
        self._redo.clear()
        self._typing = None
        self._moved_on = False
        for k, v in kwargs.items():
            setattr(state, k, v)
        state.modified = True
        self._draft_dirty = True
        self.flush_draft()
        self._emit("answer")

    def _set_pending(self, question_id: str, **changes) -> None:
        pending = dict(self.current.pending)
        pending[question_id] = replace(pending[question_id], **changes)
        self._change(pending=pending)

    def _mode_change(self, q, value: Value, advance: bool = True) -> None:
        """Store a question's new value; focus moves on when this completed the question (and
        `advance`: a multi-choice question stays, to pick more)."""
        if self.review and self.case(q.id) is None:
            raise LabelError(f"{named(q)}: nothing to decide on this question for this item")
        was_complete = self.complete(q.id)
        self._set_pending(q.id, value=value)
        if advance and not was_complete and self.complete(q.id):
            self._advance_focus()

    def complete(self, question_id: str) -> bool:
        q = self._question(question_id)
        state = self.current
        value = state.pending[q.id].value
        if value is None:
            return False
        return not MODES[q.mode].problems(q, value, state.item, state.shown_order)

    def _need(self, mode: str, what: str):
        q = self.focused_question
        if q.mode != mode:
            raise LabelError(f"{named(q)}: {what} works on {mode} questions; this one is {q.mode}")
        return q

    def choose(self, key: str) -> None:
        """A, B, tie or both_bad on the focused pairwise question."""
        q = self._need("pairwise", "A / B / T / X")
        self._mode_change(q, Pairwise.choose(q, key))

    def choose_point(self, point: int) -> None:
        """A point of the focused question's strength scale (1 = A much better)."""
        q = self._need("pairwise", "a strength point")
        self._mode_change(q, Pairwise.point(q, point))

    # -- reviewing ----------------------------------------------------------------------------
    def case(self, question_id: str):
        if not self.review or self.current is None:
            return None
        return self.cases.get((self.current.item.id, question_id))

    def adopt(self, n: int) -> None:
        """Take annotator N's answer (1-based) as the decision, to submit or edit."""
        q = self.focused_question
        case = self.case(q.id)
        if case is None:
            raise LabelError(f"{named(q)}: nothing to decide on this question")
        if not 1 <= n <= len(case.answers):
            raise LabelError(f"{named(q)}: there are answers 1 to {len(case.answers)}")
        given = case.answers[n - 1]
        if given.answer is None:
            raise LabelError(f"{named(q)}: {given.who} skipped this item ({given.skip_reason})")
        state = self.current
        self._mode_change(q, MODES[q.mode].from_answer(q, given.answer, state.item, state.shown_order))

    def toggle_edit(self) -> bool:
        """Reviewing: digits edit the answer (True) or adopt annotators' answers (False)."""
        self.editing = not self.editing
        self._emit("answer")
        return self.editing

    def overrides_majority(self, question_id: str) -> bool:
        case = self.case(question_id)
        if case is None or case.majority is None:
            return False
        state = self.current
        value = state.pending[question_id].value
        if value is None:
            return False
        q = self._question(question_id)
        mine = MODES[q.mode].to_answer(q, value, state.item, state.shown_order)
        return mine != case.answers[case.majority].answer

    def digit(self, n: int) -> str | None:
        """A digit means what the focused question makes of it (reviewing: adopt answer N).
        Returns a note worth showing (a score replaced, every score given)."""
        q = self.focused_question
        state = self.current
        value = state.pending[q.id].value
        if self.review and not self.editing and self.case(q.id) is not None:
            self.adopt(n)
        elif q.mode == "pairwise":
            self.choose_point(n)
        elif q.mode == "ranking":
            self._mode_change(q, RANKING.press(q, value, state.item, state.shown_order, n))
        elif q.mode == "categorical":
            self.category_key(str(n))
        elif q.mode == "scoring":
            pos, axis = self.cursor(q.id)
            rid, ax = state.shown_order[pos], q.axes[axis]
            before = (value or {}).get("scores", {}).get(rid, {}).get(ax.id)
            self._mode_change(q, Scoring.score(q, value, rid, axis, n))
            done = not self._scoring_step(q)
            note = f"{ax.name} of response {letter(pos)}: {before} → {n}" if before not in (None, n) else ""
            if done:
                note = (note + " · " if note else "") + "every score given — Ctrl+Enter submits"
            return note or None
        else:
            raise LabelError(f"{named(q)}: digits do nothing on a {q.mode} question")

    def rank_tie(self) -> None:
        q = self._need("ranking", "'=' (tie)")
        self._set_pending(q.id, value=RANKING.tie(q, self.current.pending[q.id].value))

    def backspace(self) -> None:
        """Ranking: take back the last response ranked. Scoring / rubric: clear the focused one."""
        q = self.focused_question
        value = self.current.pending[q.id].value
        if q.mode == "ranking":
            self._set_pending(q.id, value=RANKING.backspace(q, value))
        elif q.mode == "scoring":
            pos, axis = self.cursor(q.id)
            self._set_pending(q.id, value=Scoring.clear(q, value, self.current.shown_order[pos], axis))
        elif q.mode == "rubric":
            self._set_pending(q.id, value=Rubric.mark(q, value, self._criterion(q).id, None))
        elif q.mode == "categorical":
            units = dict(value["units"])
            units.pop(self.category_unit(q.id), None)
            self._set_pending(q.id, value={"units": units})
        else:
            raise LabelError(f"{named(q)}: Backspace does nothing on a {q.mode} question")

    def toggle_all_unacceptable(self) -> None:
        q = self._need("ranking", "'all unacceptable'")
        value = self.current.pending[q.id].value
        self._mode_change(q, {**value, "all_unacceptable": not value["all_unacceptable"]})

    # cursors: scoring (response position, axis index); rubric (criterion index)
    def cursor(self, question_id: str) -> tuple[int, ...]:
        q = self._question(question_id)
        default = (0, 0) if q.mode in ("scoring", "categorical") else (0,)
        return self._cursors.get(question_id, default)

    def set_cursor(self, question_id: str, *position: int) -> None:
        """Put the scoring cell or rubric criterion cursor somewhere (a click)."""
        self._cursors[question_id] = tuple(position)
        self._moved_on = False
        self._emit("cursor")

    def move(self, rows: int = 0, columns: int = 0) -> None:
        """Scoring: rows = axis, columns = response. Rubric: rows = criterion."""
        q = self.focused_question
        if q.mode == "scoring":
            pos, axis = self.cursor(q.id)
            n = len(self.current.shown_order)
            # the ends stop the cursor: wrapping round would land on a score already given
            self._cursors[q.id] = (min(max(pos + columns, 0), n - 1),
                                   min(max(axis + rows, 0), len(q.axes) - 1))
        elif q.mode == "rubric":
            n = len(criteria_for(q, self.current.item))
            self._cursors[q.id] = (min(max(self.cursor(q.id)[0] + rows, 0), n - 1),)
        elif q.mode == "categorical":
            unit, entry = self.cursor(q.id)
            units = len(Categorical.units(q, self.current.shown_order))
            shown = self.category_matches(q.id)
            entries = Categorical.entries(q)
            if shown:
                at = shown.index(entries[entry]) if entries[entry] in shown else 0
                entry = entries.index(shown[min(max(at + rows, 0), len(shown) - 1)])
            self._cursors[q.id] = (min(max(unit + columns, 0), units - 1), entry)
        else:
            raise LabelError(f"{named(q)}: moving works on scoring, rubric and categorical questions")
        self._moved_on = False
        self._emit("cursor")

    def _scoring_step(self, q) -> bool:
        """After a score, go to the next cell still without one: down the axes of this response,
        then on to the next response's. False (the cursor stays) when every cell has a score, so
        a digit never silently moves on to overwrite an earlier score."""
        pos, axis = self.cursor(q.id)
        shown = self.current.shown_order
        scores = self.current.pending[q.id].value["scores"]
        cells = [(p, a) for p in range(len(shown)) for a in range(len(q.axes))]
        start = cells.index((pos, axis)) + 1
        for p, a in cells[start:] + cells[:start]:
            if q.axes[a].id not in scores.get(shown[p], {}):
                self._cursors[q.id] = (p, a)
                self._emit("cursor")
                return True
        return False

    def criteria(self, question_id: str | None = None):
        q = self._question(question_id) if question_id else self.focused_question
        return criteria_for(q, self.current.item)

    def _criterion(self, q):
        crits = criteria_for(q, self.current.item)
        return crits[self.cursor(q.id)[0] % len(crits)]

    def mark(self, mark: str | None) -> None:
        """Rubric: met / not_met / partly (None clears) on the focused criterion, then move on."""
        q = self._need("rubric", "Y / N")
        value = self.current.pending[q.id].value
        cid = self._criterion(q).id
        i = self.cursor(q.id)[0]
        self._mode_change(q, Rubric.mark(q, value, cid, mark))
        if i + 1 < len(criteria_for(q, self.current.item)):
            self._cursors[q.id] = (i + 1,)
            self._emit("cursor")

    def toggle_mark(self) -> None:
        q = self._need("rubric", "Space")
        value = self.current.pending[q.id].value
        cid = self._criterion(q).id
        self._mode_change(q, Rubric.mark(q, value, cid, Rubric.toggled(q, value["marks"].get(cid))))

    # -- categorical ----------------------------------------------------------------------------
    def category_unit(self, question_id: str) -> str:
        """The unit the keys answer: "" (the item), or the response under the cursor."""
        q = self._question(question_id)
        units = Categorical.units(q, self.current.shown_order)
        return units[min(self.cursor(q.id)[0], len(units) - 1)]

    def category_filter(self, question_id: str) -> str:
        return self._filters.get(question_id, "")

    def category_matches(self, question_id: str) -> list[str]:
        return Categorical.matches(self._question(question_id), self.category_filter(question_id))

    def set_category_filter(self, text: str, question_id: str | None = None) -> None:
        """Type-to-filter: only matching categories stay; the cursor goes to the first."""
        q = self._question(question_id) if question_id else self._need("categorical", "the filter")
        if q.mode != "categorical":
            raise LabelError(f"{named(q)}: not a categorical question")
        self._filters[q.id] = text
        entries = Categorical.entries(q)
        kept = self.category_matches(q.id)
        if kept:
            self._cursors[q.id] = (self.cursor(q.id)[0], entries.index(kept[0]))
        self._emit("cursor")

    def category_key(self, key: str) -> str:
        """A category's key (1-9, then letters; 0 none of these): pick it. Returns the entry."""
        q = self._need("categorical", "a category key")
        entry = Categorical.entry_for_key(q, key)
        self._pick(q, entry)
        return entry

    def pick_at_cursor(self) -> str:
        """Space (or Enter in the filter box): pick or toggle the entry under the cursor."""
        q = self._need("categorical", "picking")
        entries = Categorical.entries(q)
        entry = entries[self.cursor(q.id)[1] % len(entries)]
        if entry not in self.category_matches(q.id):
            raise LabelError(f"{named(q)}: no category matches {self.category_filter(q.id)!r}")
        self._pick(q, entry)
        return entry

    def _pick(self, q, entry: str) -> None:
        state = self.current
        unit = self.category_unit(q.id)
        value = state.pending[q.id].value
        before = CATEGORICAL.answered(value["units"].get(unit))
        self._mode_change(q, CATEGORICAL.pick(q, value, unit, entry), advance=not q.multiple)
        now = state.pending[q.id].value["units"].get(unit)
        if q.target == "response" and not q.multiple and not before and CATEGORICAL.answered(now):
            # a single choice made for one response: on to the next response still without one
            units = Categorical.units(q, state.shown_order)
            cur = self.cursor(q.id)
            for i in list(range(cur[0] + 1, len(units))) + list(range(cur[0])):
                if not CATEGORICAL.answered(state.pending[q.id].value["units"].get(units[i])):
                    self._cursors[q.id] = (i, cur[1])
                    self._emit("cursor")
                    break

    def other_unit_open(self, question_id: str) -> bool:
        """The unit under the cursor has chosen Other (its text box is in use)."""
        value = self.current.pending[question_id].value
        unit = value["units"].get(self.category_unit(question_id))
        return bool(unit and unit["other"] is not None)

    def set_other_text(self, text: str, question_id: str | None = None) -> None:
        """The 'Other' text as typed, for the unit under the cursor (one undo step a run)."""
        q = self._question(question_id) if question_id else self.focused_question
        if q.mode != "categorical" or not q.other:
            raise LabelError(f"{named(q)}: this question offers no 'Other'")
        state = self.current
        self._typed(q.id, "other")
        pending = dict(state.pending)
        value = Categorical.with_other_text(pending[q.id].value, self.category_unit(q.id), text)
        pending[q.id] = replace(pending[q.id], value=value)
        state.pending = pending
        state.modified = True
        self._draft_dirty = True

    def set_text(self, text: str, question_id: str | None = None) -> None:
        """Demonstration text as typed; saved as a draft by flush_draft like a rationale."""
        q = self._question(question_id) if question_id else self.focused_question
        if q.mode != "demonstration":
            raise LabelError(f"{named(q)}: not a demonstration question")
        state = self.current
        self._typed(q.id, "text")
        pending = dict(state.pending)
        pending[q.id] = replace(pending[q.id], value={**pending[q.id].value, "text": text})
        state.pending = pending
        state.modified = True
        self._draft_dirty = True

    def _typed(self, question_id: str, what: str) -> None:
        """A run of typing in one box is one undo step: Ctrl+Z after editing a text takes the
        edit back, on this item, before it reaches any earlier submit."""
        self._moved_on = False
        if self._typing != (question_id, what):
            self._undo.append(self.current.snapshot(self.focus))
            self._redo.clear()
            self._typing = (question_id, what)

    def _advance_focus(self) -> None:
        qs = self.spec.questions
        for j in range(self.focus + 1, len(qs)):
            if self.review and self.case(qs[j].id) is None:
                continue  # a reviewer decides only the cases
            if not self.complete(qs[j].id):
                self.focus = j
                self._moved_on = True
                self._emit("focus")
                return

    def set_rationale(self, text: str, question_id: str | None = None) -> None:
        """Typed text; saved as a draft by flush_draft (screens call it when typing pauses)."""
        q = self._question(question_id) if question_id else self.focused_question
        if q.rationale is Requirement.off:
            raise LabelError(f"{named(q)}: this question takes no rationale")
        qid = q.id
        state = self.current
        self._typed(qid, "rationale")
        pending = dict(state.pending)
        pending[qid] = replace(pending[qid], rationale=text)
        state.pending = pending
        state.modified = True
        self._draft_dirty = True

    def set_confidence(self, value: int | None, question_id: str | None = None) -> None:
        q = self._question(question_id) if question_id else self.focused_question
        if q.confidence is Requirement.off:
            raise LabelError(f"{named(q)}: this question asks no confidence")
        if value is not None and not 1 <= value <= q.confidence_scale:
            raise LabelError(f"{named(q)}: confidence is 1 to {q.confidence_scale}")
        self._set_pending(q.id, confidence=value)

    def toggle_flag(self, flag: str) -> None:
        if flag not in self.spec.flags:
            raise LabelError(f"unknown flag {flag!r}; the spec has {', '.join(self.spec.flags)}")
        flags = set(self.current.flags) ^ {flag}
        self._change(flags=frozenset(flags))

    def set_skip(self, reason: str | None) -> None:
        if reason is not None and not self.spec.allow_skip:
            raise LabelError("this project does not allow skipping items")
        self._change(skip_reason=(reason or "").strip() or None)

    # -- drafts -------------------------------------------------------------------------------
    def flush_draft(self) -> None:
        if not self._draft_dirty or self.current is None:
            return
        state = self.current
        data = None
        if state.modified:
            data = {"pending": {k: vars(v) for k, v in state.pending.items()},
                    "flags": sorted(state.flags), "skip_reason": state.skip_reason}
        annotate.save_draft(self.store, project_id=self.project_id, item_id=state.item.id,
                            annotator=self.annotator, data=data)
        self._draft_dirty = False

    # -- submitting ---------------------------------------------------------------------------
    def _started(self, q) -> bool:
        return MODES[q.mode].started(self.current.pending[q.id].value)

    def missing(self) -> list[str]:
        """What stops a submit, one phrase each; empty when the item can be submitted."""
        state = self.current
        if state is None:
            return ["no item is open"]
        if state.skip_reason:
            return []
        out = []
        for q in self.spec.questions:
            p = state.pending[q.id]
            if self.review:
                if self.case(q.id) is None:
                    continue  # only the cases are decided
                if p.value is not None and not p.rationale.strip() and self._overrides(q):
                    out.append(f"{named(q)}: give a reason: your decision overrides the majority")
            elif not (q.required or self._started(q)):
                continue  # an optional question left alone
            if p.value is None:
                out.append(f"{named(q)}: choose an answer")
            else:
                out += [f"{named(q)}: {m}" for m in
                        MODES[q.mode].problems(q, p.value, state.item, state.shown_order)]
            if q.rationale is Requirement.required and not p.rationale.strip():
                out.append(f"{named(q)}: write a rationale")
            if q.confidence is Requirement.required and p.confidence is None:
                out.append(f"{named(q)}: give a confidence")
        return out

    def _overrides(self, q) -> bool:
        try:
            return self.overrides_majority(q.id)
        except (LabelError, ValueError):
            return False  # an incomplete answer: "missing" already says what it needs

    def submit(self, advance: bool = True, stay_on_feedback: bool = False) -> SubmitOutcome:
        """Commit the item's answers (a new revision if it was submitted before), then move on.
        With stay_on_feedback, a calibration item stays in front of the annotator with the
        expert's answer beside theirs (the screen's way); the next step moves on."""
        state = self.current
        missing = self.missing()
        if missing:
            return SubmitOutcome(False, tuple(missing), "missing: " + "; ".join(missing))
        answers, rationales, confidences = {}, {}, {}
        for q in self.spec.questions:
            p = state.pending[q.id]
            if self.review and self.case(q.id) is None:
                continue
            if p.value is not None and (q.required or self._started(q) or self.review):
                answers[q.id] = MODES[q.mode].to_answer(q, p.value, state.item, state.shown_order)
            rationales[q.id] = p.rationale
            if p.confidence is not None:
                confidences[q.id] = p.confidence
        item_id = state.item.id
        spent = self._spent.get(item_id, 0.0) + self.clock() - self._shown_at
        change = annotate.submit_item(
            self.store, project_id=self.project_id, item_id=item_id, annotator=self.annotator,
            shown_order=state.shown_order, answers=answers, rationales=rationales,
            confidences=confidences, flags=sorted(state.flags), skip_reason=state.skip_reason,
            started_at=state.first_shown, duration_ms=int(spent * 1000),
        )
        # committed: only now does the screen move on
        self._draft_dirty = False
        self._spent.pop(item_id, None)
        self._shown_at = self.clock()
        self._session_submits += 1
        self.labeled.add(item_id)
        (self.flagged.add if state.flags else self.flagged.discard)(item_id)
        state.revision = change.counts["revision"]
        state.modified = False
        feedback = calibration_feedback(self.spec, state, answers)
        self._undo.clear()
        self._redo.clear()
        self._typing = None
        self._emit("submitted")
        if (feedback and stay_on_feedback) or not (advance and self.next()):
            self.feedback = feedback
            self._emit("item")
        return SubmitOutcome(True, (), change.message, feedback)

    def submitted_unchanged(self) -> bool:
        state = self.current
        return bool(state and state.revision and not state.modified)

    # -- undo ---------------------------------------------------------------------------------
    def undo(self) -> str | None:
        """Undo the last answer change on this item; with none left, the last submit."""
        if self._undo and self.current:
            self._redo.append(self.current.snapshot(self.focus))
            self._restore(self._undo.pop())
            return "answer undone"
        change = annotate.undo(self.store, project_id=self.project_id)
        if change is None:
            return None
        return self._after_journal(change)

    def redo(self) -> str | None:
        if self._redo and self.current:
            self._undo.append(self.current.snapshot(self.focus))
            self._restore(self._redo.pop())
            return "answer redone"
        change = annotate.redo(self.store, project_id=self.project_id)
        if change is None:
            return None
        return self._after_journal(change)

    def _restore(self, snap: Snapshot) -> None:
        state = self.current
        state.pending, state.flags, state.skip_reason = dict(snap.pending), snap.flags, snap.skip_reason
        self.focus = snap.focus
        self._moved_on = False
        state.modified = True
        self._draft_dirty = True
        self._typing = None
        self.flush_draft()
        self._emit("answer")

    def _after_journal(self, change) -> str:
        """Show the item whose submit was undone or redone, and say which one it is."""
        item_id = change.item_ids[0]
        here = self.current.item.id if self.current else None
        self.flush_draft()
        if change.op == "redo":
            annotate.save_draft(self.store, project_id=self.project_id, item_id=item_id,
                                annotator=self.annotator, data=None)
        self.labeled = queries.labeled_item_ids(self.store, self.project_id, self.annotator)
        self.flagged = queries.flagged_item_ids(self.store, self.project_id, self.annotator)
        if self._visible is not None:
            self.set_filter(self.filter)
        self.go_to(self.index_of[item_id])
        if change.op == "undo":
            # the retracted answer comes back unsubmitted, ready to change and submit again
            retracted = queries.retracted_latest(self.store, self.project_id, self.annotator, item_id)
            if retracted:
                self._apply_labels(self.current, retracted)
                self.current.revision = max(
                    [lab.revision for lab in queries.current_labels(
                        self.store, self.project_id, self.annotator, item_id)], default=0)
                self.current.modified = True
                self._draft_dirty = True
                self.flush_draft()
                self._emit("answer")
        what = "taken back: its answers are here again, not submitted" if change.op == "undo" \
            else "made again"
        moved = "" if item_id == here else " (moved here)"
        return f"Submit of item {self.index_of[item_id] + 1} {what}{moved}"

    def guideline_images(self) -> dict[str, bytes]:
        return queries.assets(self.store, self.project_id, prefix="guidelines/")

    # -- figures ------------------------------------------------------------------------------
    def progress(self) -> Progress:
        done, total = len(self.labeled), len(self.ids)
        elapsed = self.clock() - self._session_start
        # a pace from one or two items is noise
        per_hour = (self._session_submits / elapsed * 3600
                    if self._session_submits >= 3 and elapsed > 0 else None)
        left = (total - done) / per_hour * 3600 if per_hour else None
        return Progress(done, total, per_hour, left)

    def title(self) -> str:
        if self.current is None:
            return f"{self.info.name} — Annotary"
        return (f"{self.info.name} — item {self.current.position + 1} of {len(self.ids)}"
                f" ({self.current.item.id}) — Annotary")
