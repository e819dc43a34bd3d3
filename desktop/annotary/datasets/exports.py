"""Training-ready rows from final answers (TRL, SFT, Alpaca, HelpSteer, HealthBench, classification, long labels), and their card."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from annotary.core.items import Item, criteria_for
from annotary.core.labels import rubric_score

# format -> the question modes it is made from
FORMATS: dict[str, tuple[str, ...]] = {
    "trl-preference": ("pairwise",),
    "trl-kto": ("pairwise", "ranking", "scoring"),
    "ranking-pairs": ("ranking",),
    "sft": ("demonstration", "pairwise", "ranking"),
    "trl-prompt-completion": ("demonstration", "pairwise", "ranking"),
    "alpaca": ("demonstration", "pairwise", "ranking"),
    "attributes": ("scoring",),
    "rubric": ("rubric",),
    "classification": ("categorical",),
    "labels-long": ("pairwise", "ranking", "scoring", "rubric", "demonstration", "categorical"),
}
TIES = ("drop", "keep")
# formats whose prompt (and response) columns can be chat messages: --chat applies to them
CHAT = ("trl-preference", "trl-kto", "ranking-pairs", "trl-prompt-completion", "attributes", "rubric")
DATASET_FORMAT = "annotary.dataset/1"

ABOUT = {
    "trl-preference": "prompt / chosen / rejected, the columns TRL's DPOTrainer and RewardTrainer read",
    "trl-kto": "prompt / completion / label (desirable or not), the columns TRL's KTOTrainer reads",
    "ranking-pairs": "every ordered pair of each ranking (K responses give K(K-1)/2 pairs), InstructGPT-style",
    "sft": "chat `messages` ending with the ideal (written or chosen) assistant response, for TRL's SFTTrainer",
    "trl-prompt-completion": "prompt / completion with the ideal (written or chosen) response as the completion, "
                             "TRL's prompt-completion form for SFTTrainer (the loss on the completion only)",
    "alpaca": "instruction / input / output, the Stanford Alpaca layout (LLaMA-Factory's `alpaca` formatting)",
    "attributes": "one row per response, one column per scoring axis (HelpSteer-style)",
    "rubric": "per item: each criterion with its mark and points, earned and possible points, the item score",
    "classification": "text and its label (single choice) or labels (multi-choice), the category names of "
                      "a categorical question, to load as Hugging Face `ClassLabel` / `Sequence(ClassLabel)`",
    "labels-long": "one row per label revision (and per reviewer decision), for analysts",
}
OTHER_LABEL = "Other"  # the class of an 'Other' answer (its own words are in the `other` column)


@dataclass(frozen=True)
class Shape:
    """How one export's rows look: decided once, so every row has the same column types."""

    conversational: bool = False  # prompts as role/content messages (some item is a conversation)
    ties: str = "drop"
    margin: bool = False  # trl-preference of a strength scale


# --- prompts and completions --------------------------------------------------------------------

def turns(item: dict) -> list[dict]:
    p = item["prompt"]
    return [{"role": "user", "content": p}] if isinstance(p, str) else [{"role": t["role"], "content": t["content"]} for t in p]


def prompt_messages(item: dict) -> list[dict]:
    """The prompt as chat messages; the context joins the last user turn (it is shown with it)."""
    msgs = turns(item)
    if item.get("context"):
        last = max((i for i, m in enumerate(msgs) if m["role"] == "user"), default=len(msgs) - 1)
        msgs[last]["content"] = f"{msgs[last]['content']}\n\n{item['context']}"
    return msgs


def prompt_of(item: dict, shape: Shape):
    if shape.conversational:
        return prompt_messages(item)
    return prompt_messages(item)[0]["content"]  # standard form: every prompt is one instruction


def completion(text: str, shape: Shape):
    return [{"role": "assistant", "content": text}] if shape.conversational else text


def alpaca_parts(item: dict) -> tuple[str, str]:
    """(instruction, input): a conversation's earlier turns go to the input, before the context."""
    *history, last = turns(item)
    extra = [f"{t['role'].capitalize()}: {t['content']}" for t in history]
    return last["content"], "\n\n".join([*extra, *([item["context"]] if item.get("context") else [])])


def strength_margin(points: int, strength: int | None) -> int:
    """Steps from the middle of an N-point strength scale: 1 = marginally better … N//2 = much better."""
    if strength is None:
        return 0
    half = points // 2
    if strength <= half:
        return half - strength + 1
    return max(0, strength - (points - half))


# --- rows per format: (item, final answer, question, shape, tally) -> rows ------------------------
# The item is the record as stored (an Item dumped to JSON, checked when it came in): parsing it
# into the model again would triple the cost of a large export. `tally` counts what an answer gave
# no row for, by reason, for the card.

def _pair(item: dict, answer: dict) -> tuple[str, list[dict]]:
    """(choice, responses best first) of a pairwise answer, in the item's own order."""
    r = item["responses"]
    return answer["choice"], ([r[1], r[0]] if answer["choice"] == "B" else [r[0], r[1]])


def preference_plan(answer, q, shape, tally) -> tuple[int, int, dict] | None:
    """(chosen, rejected) response positions of a pairwise answer and the row's other columns,
    or None when the answer gives no row (both bad; a tie, unless ties are kept)."""
    choice = answer["choice"]
    if choice == "both_bad":
        tally["both bad"] += 1
        return None
    if choice == "tie" and shape.ties == "drop":
        tally["tie"] += 1
        return None
    extra: dict = {}
    if shape.margin:
        extra["margin"] = 0 if choice == "tie" else strength_margin(q.points, answer.get("strength"))
    if shape.ties == "keep":
        extra["tie"] = choice == "tie"
    return (1, 0, extra) if choice == "B" else (0, 1, extra)


def preference_rows(item, answer, q, shape, tally) -> list[dict]:
    plan = preference_plan(answer, q, shape, tally)
    if plan is None:
        return []
    best, other, extra = plan
    texts = item["responses"]
    return [{"prompt": prompt_of(item, shape), "chosen": completion(texts[best]["text"], shape),
             "rejected": completion(texts[other]["text"], shape), **extra}]


# what a preference row needs of an item, as one JSON array from one parse of the item:
# [context, prompt, first response's text, second response's text]
PREFERENCE_PATHS = ("$.context", "$.prompt", "$.responses[0].text", "$.responses[1].text")


def preference_cuts(parts: bytes, lo: int = 0, hi: int | None = None) -> tuple[int, int, int] | None:
    """Where the prompt and the two texts are in a PREFERENCE_PATHS array as SQLite writes it
    (compact, UTF-8), the array being parts[lo:hi]: (prompt start, first text's opening quote,
    second text's opening quote), so the prompt is parts[start:first - 1], the texts
    parts[first:second - 1] and parts[second:hi - 1], each as JSON text, found without decoding
    the array. None when the item has a context (or is not shaped as expected): such a row is
    built from the decoded parts.

    The texts are the array's last two strings: each starts at the last quote before its closing
    one that no backslash escapes (inside a JSON string every quote is escaped)."""
    hi = len(parts) if hi is None else hi
    if parts.startswith(b"[null,", lo):
        start = lo + 6
    elif parts.startswith(b'["",', lo):
        start = lo + 4  # an empty context is no context
    else:
        return None
    end = hi - 2
    if end < start or parts[end] != 34 or parts[hi - 1] != 93:  # the array ends with '"]'
        return None
    second = parts.rfind(b'"', start, end)
    if parts[second - 1] == 92:  # a backslash: look closer (most texts end without an escaped quote)
        second = _string_start(parts, end, start)
    if second <= start + 1 or parts[second - 1] != 44 or parts[second - 2] != 34:  # '",' before it
        return None
    first = parts.rfind(b'"', start, second - 2)
    if parts[first - 1] == 92:
        first = _string_start(parts, second - 2, start)
    if first <= start or parts[first - 1] != 44:  # a comma
        return None
    return start, first, second


def _string_start(text: bytes, end: int, lo: int = 0) -> int:
    """The opening quote of the JSON string whose closing quote is at `end` (-1 if none after lo)."""
    at = end
    while (at := text.rfind(b'"', lo, at)) > lo:
        before = at - 1
        while text[before] == 92:  # a backslash: the quote is escaped if an odd number precede it
            before -= 1
        if (at - before) % 2:
            return at
    return -1


def parts_item(parts: bytes) -> dict:
    """The item as far as a preference row needs it, decoded from a PREFERENCE_PATHS array."""
    context, prompt, first, second = json.loads(parts)
    return {"prompt": prompt, "context": context, "responses": [{"text": first}, {"text": second}]}


def preference_tail(extra: dict) -> bytes:
    """A preference row's columns after `rejected` (margin, tie), as JSON text."""
    return "".join(f',"{k}":{json.dumps(v)}' for k, v in extra.items()).encode()


def preference_frame(shape: Shape, conversation: bool, tail: bytes) -> tuple[bytes, bytes, bytes, bytes]:
    """What goes around a preference row's three JSON texts: the line is frame[0], prompt,
    frame[1], chosen, frame[2], rejected, frame[3] (`tail`: the columns after rejected)."""
    if not shape.conversational:
        return b'{"prompt":', b',"chosen":', b',"rejected":', tail + b"}\n"
    opening, closing = (b'{"prompt":', b"") if conversation else (b'{"prompt":[{"role":"user","content":', b"}]")
    return (opening, closing + b',"chosen":[{"role":"assistant","content":',
            b'}],"rejected":[{"role":"assistant","content":', b"}]" + tail + b"}\n")


def _unranked(item: dict, answer: dict) -> list[str]:
    ranked = {r for g in answer["order"] for r in g}
    return [r["id"] for r in item["responses"] if r["id"] not in ranked]


def _first_last(item: dict, answer: dict) -> tuple[list[str], list[str]]:
    """A ranking's best group and worst responses (the unranked ones of a top-k ranking, if any)."""
    unranked = _unranked(item, answer)
    groups = [g for g in answer["order"] if g]
    if not groups:
        return [], unranked
    return list(groups[0]), unranked or (list(groups[-1]) if len(groups) > 1 else [])


def kto_rows(item, answer, q, shape, tally) -> list[dict]:
    """Pairwise: preferred True, other False, both bad both False, a kept tie both True. Ranking:
    the best group True, the worst (or the unranked) False, the middle left out; all unacceptable
    all False. Scoring: the question's first axis decides: above the middle of its scale True,
    below False, the middle point left out."""
    labels: dict[str, bool] = {}
    if q.mode == "pairwise":
        choice, (best, other) = _pair(item, answer)
        if choice == "tie" and shape.ties == "drop":
            tally["tie"] += 1
            return []
        labels = {best["id"]: choice != "both_bad", other["id"]: choice == "tie"}
    elif q.mode == "ranking":
        if answer.get("all_unacceptable"):
            labels = {r["id"]: False for r in item["responses"]}
        else:
            best, worst = _first_last(item, answer)
            if not worst:
                tally["no order (all tied)"] += 1
                return []
            labels = {**{r: True for r in best}, **{r: False for r in worst}}
    else:
        axis = q.axes[0]
        values = [p.value for p in axis.scale]
        lo, hi = min(values), max(values)
        for rid, axes in answer["scores"].items():
            v = axes.get(axis.id)
            if v is None:
                continue
            x = (v - lo) / (hi - lo)
            if x == 0.5:
                tally[f"middle {axis.id} score"] += 1
            else:
                labels[rid] = x > 0.5
    prompt = prompt_of(item, shape)
    return [{"prompt": prompt, "completion": completion(r["text"], shape), "label": labels[r["id"]]}
            for r in item["responses"] if r["id"] in labels]


def ranking_pair_rows(item, answer, q, shape, tally) -> list[dict]:
    """Every ordered pair of a ranking; unranked responses (top-k) rank below the ranked ones, and
    pairs of two unranked responses are no comparison at all."""
    if answer.get("all_unacceptable"):
        tally["all unacceptable"] += 1
        return []
    unranked = _unranked(item, answer)
    text = {r["id"]: r["text"] for r in item["responses"]}
    rank = {rid: n for n, g in enumerate(answer["order"], 1) for rid in g}
    rank.update({rid: len(answer["order"]) + 1 for rid in unranked})
    listed = [rid for g in answer["order"] for rid in g] + unranked
    prompt, rows = prompt_of(item, shape), []
    for i, a in enumerate(listed):
        for b in listed[i + 1:]:
            if a in unranked and b in unranked:
                continue
            tie = rank[a] == rank[b]
            if tie and shape.ties == "drop":
                tally["tied pair"] += 1
                continue
            row = {"item_id": item["id"], "prompt": prompt, "chosen": completion(text[a], shape),
                   "rejected": completion(text[b], shape),
                   "chosen_id": a, "rejected_id": b, "chosen_rank": rank[a], "rejected_rank": rank[b],
                   "margin": rank[b] - rank[a]}
            if shape.ties == "keep":
                row["tie"] = tie
            rows.append(row)
    return rows


def chosen_texts(item, answer, q, shape, tally) -> list[str]:
    """The ideal responses an answer names: the demonstration, the preferred response, the top of a
    ranking; a kept tie names both (all) tied responses."""
    if q.mode == "demonstration":
        return [answer["text"]]
    if q.mode == "pairwise":
        choice, (best, other) = _pair(item, answer)
        if choice == "both_bad":
            tally["both bad"] += 1
            return []
        if choice == "tie":
            if shape.ties == "drop":
                tally["tie"] += 1
                return []
            return [best["text"], other["text"]]
        return [best["text"]]
    if answer.get("all_unacceptable"):
        tally["all unacceptable"] += 1
        return []
    top = answer["order"][0] if answer["order"] else []
    if len(top) > 1 and shape.ties == "drop":
        tally["tie at the top"] += 1
        return []
    text = {r["id"]: r["text"] for r in item["responses"]}
    return [text[r] for r in top]


def sft_rows(item, answer, q, shape, tally) -> list[dict]:
    return [{"messages": [*prompt_messages(item), {"role": "assistant", "content": t}]}
            for t in chosen_texts(item, answer, q, shape, tally)]


def prompt_completion_rows(item, answer, q, shape, tally) -> list[dict]:
    prompt = prompt_of(item, shape)
    return [{"prompt": prompt, "completion": completion(t, shape)}
            for t in chosen_texts(item, answer, q, shape, tally)]


def alpaca_rows(item, answer, q, shape, tally) -> list[dict]:
    instruction, extra = alpaca_parts(item)
    return [{"instruction": instruction, "input": extra, "output": t}
            for t in chosen_texts(item, answer, q, shape, tally)]


def attribute_rows(item, answer, q, shape, tally) -> list[dict]:
    prompt, scores = prompt_of(item, shape), answer["scores"]
    return [{"item_id": item["id"], "response_id": r["id"], "prompt": prompt, "response": r["text"],
             **{ax.id: scores[r["id"]].get(ax.id) for ax in q.axes}}
            for r in item["responses"] if r["id"] in scores]


def rubric_rows(item, answer, q, shape, tally) -> list[dict]:
    crits, marks = criteria_for(q, Item.model_validate(item)), answer["marks"]
    earned, possible, score = rubric_score(crits, marks)
    half = {"met": 1.0, "partly": 0.5}
    return [{"item_id": item["id"], "prompt": prompt_of(item, shape), "response": item["responses"][0]["text"],
             "criteria": [{"id": c.id, "text": c.text, "points": c.points, "mark": marks.get(c.id),
                           "earned": c.points * half[marks[c.id]] if marks.get(c.id) in half else 0.0}
                          for c in crits],
             "earned": float(earned), "possible": possible, "score": score}]


def class_names(q) -> list[str]:
    """The classes of a categorical question, in the spec's order: ClassLabel's names."""
    return q.names() + ([OTHER_LABEL] if q.other else [])


def plain_prompt(item: dict) -> str:
    """The prompt as one text: a conversation's turns as 'Role: text', the context after it."""
    msgs = turns(item)
    text = msgs[0]["content"] if len(msgs) == 1 else "\n\n".join(
        f"{m['role'].capitalize()}: {m['content']}" for m in msgs)
    return f"{text}\n\n{item['context']}" if item.get("context") else text


def classification_rows(item, answer, q, shape, tally) -> list[dict]:
    """Per item (the prompt as `text`, the responses beside it) or per response (the response as
    `text`, the prompt beside it): the class names picked, 'Other' with its words in `other`."""
    def classes(choice: dict) -> dict:
        names = [*choice.get("categories", []), *([OTHER_LABEL] if choice.get("other") is not None else [])]
        return {"labels" if q.multiple else "label": names if q.multiple else names[0],
                "other": choice.get("other")}
    prompt = plain_prompt(item)
    if q.target == "item":
        return [{"item_id": item["id"], "text": prompt, "responses": [r["text"] for r in item["responses"]],
                 **classes(answer)}]
    per = answer.get("responses") or {}
    return [{"item_id": item["id"], "response_id": r["id"], "prompt": prompt, "text": r["text"],
             **classes(per[r["id"]])} for r in item["responses"] if r["id"] in per]


ROWS: dict[str, Callable[..., list[dict]]] = {
    "trl-preference": preference_rows, "trl-kto": kto_rows, "ranking-pairs": ranking_pair_rows,
    "sft": sft_rows, "trl-prompt-completion": prompt_completion_rows, "alpaca": alpaca_rows,
    "attributes": attribute_rows, "rubric": rubric_rows, "classification": classification_rows,
}


def label_row(*, item_id: str, item_kind: str, question_id: str, kind: str, round: int, rater: str,
              rater_name: str, human: bool, revision: int, current: bool, data: dict,
              provenance: str | None) -> dict:
    """One label revision (kind "label") or reviewer decision (kind "decision") as a flat row;
    the answer is JSON text because its shape differs by mode. `round`: the round the item was
    assigned to the rater in (0: outside any round, as outside raters' labels and decisions)."""
    answer = data.get("answer")
    return {"round": round, "item_id": item_id, "item_kind": item_kind, "question_id": question_id,
            "kind": kind, "rater": rater,
            "rater_name": rater_name, "human": human, "revision": revision, "current": current,
            "answer": None if answer is None else json.dumps(answer, ensure_ascii=False, sort_keys=True),
            "rationale": data.get("rationale") or data.get("reason"), "confidence": data.get("confidence"),
            "duration_ms": data.get("duration_ms"), "flags": list(data.get("flags") or []),
            "skip_reason": data.get("skip_reason"),
            "submitted_at": data.get("submitted_at") or data.get("decided_at"),
            "guidelines_version": data.get("guidelines_version"), "provenance": provenance}


def dataset_score(item_scores: Iterable[float | None]) -> float | None:
    """HealthBench: the mean of the item scores, clipped to 0..1 (items can score below 0)."""
    scores = [s for s in item_scores if s is not None]
    return min(1.0, max(0.0, sum(scores) / len(scores))) if scores else None


# --- columns: the card's table and the Parquet schema ---------------------------------------------
# kinds: text, messages (list of role/content), int, float, bool, texts (list of text), criteria

def columns(fmt: str, shape: Shape, q=None) -> dict[str, str]:
    p = "messages" if shape.conversational else "text"
    tie = {"tie": "bool"} if shape.ties == "keep" else {}
    if fmt == "trl-preference":
        return {"prompt": p, "chosen": p, "rejected": p, **({"margin": "int"} if shape.margin else {}), **tie}
    if fmt == "trl-kto":
        return {"prompt": p, "completion": p, "label": "bool"}
    if fmt == "ranking-pairs":
        return {"item_id": "text", "prompt": p, "chosen": p, "rejected": p, "chosen_id": "text",
                "rejected_id": "text", "chosen_rank": "int", "rejected_rank": "int", "margin": "int", **tie}
    if fmt == "sft":
        return {"messages": "messages"}
    if fmt == "trl-prompt-completion":
        return {"prompt": p, "completion": p}
    if fmt == "alpaca":
        return {"instruction": "text", "input": "text", "output": "text"}
    if fmt == "attributes":
        return {"item_id": "text", "response_id": "text", "prompt": p, "response": "text",
                **{ax.id: "int" for ax in q.axes}}
    if fmt == "rubric":
        return {"item_id": "text", "prompt": p, "response": "text", "criteria": "criteria",
                "earned": "float", "possible": "int", "score": "float"}
    if fmt == "classification":
        label = {"labels": "texts"} if q.multiple else {"label": "text"}
        if q.target == "item":
            return {"item_id": "text", "text": "text", "responses": "texts", **label, "other": "text"}
        return {"item_id": "text", "response_id": "text", "prompt": "text", "text": "text", **label,
                "other": "text"}
    return {"round": "int", "item_id": "text", "item_kind": "text", "question_id": "text", "kind": "text",
            "rater": "text", "rater_name": "text",
            "human": "bool", "revision": "int", "current": "bool", "answer": "text", "rationale": "text",
            "confidence": "int", "duration_ms": "int", "flags": "texts", "skip_reason": "text",
            "submitted_at": "text", "guidelines_version": "text", "provenance": "text"}


def arrow_schema(cols: dict[str, str]):
    """The Parquet schema of an export (pyarrow is an optional extra: imported only here)."""
    import pyarrow as pa

    text = pa.string()
    kinds = {"text": text, "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(),
             "texts": pa.list_(text),
             "messages": pa.list_(pa.struct([("role", text), ("content", text)])),
             "criteria": pa.list_(pa.struct([("id", text), ("text", text), ("points", pa.int64()),
                                             ("mark", text), ("earned", pa.float64())]))}
    return pa.schema([(name, kinds[kind]) for name, kind in cols.items()])


def jsonl_bytes(rows: list[dict]) -> bytes:
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    return "".join([dumps(r) + "\n" for r in rows]).encode("utf-8")


# --- the dataset card -----------------------------------------------------------------------------

@dataclass
class CardFacts:
    """What the README.md of an export states, as plain values."""

    title: str
    project_id: str
    project_name: str
    fmt: str
    question: str | None
    mode: str | None
    data_file: str
    sha256: str
    rows: int
    columns: dict[str, str]
    answers: int  # final answers exported
    by_provenance: dict[str, int]
    dropped: dict[str, int]  # reason -> answers (or pairs) that gave no row
    conflicts: int  # undecided conflicts: no final answer, so not exported
    agreement: list[dict]  # per variable: name, level, units, percent, chance, fleiss (se, low, high),
    #                        alpha (low, high), w, tau, band
    spec_version: str
    guidelines_version: str
    label_guidelines: list[str]  # guidelines versions the labels were made under
    annotators: int
    raters: int  # non-human raters (never in the final answers)
    options: dict
    created_at: str
    version: str
    classes: list[str] = field(default_factory=list)  # classification: the ClassLabel names
    summary: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    decided: int = 0  # conflicts a reviewer decided (their answers are adjudicated)
    coverage: str = ""  # which rounds the agreement figures cover, where not all
    judged_items: int = 0  # items one person decided with a triage judge's agreement (single+judge)
    triage_rounds: list[dict] = field(default_factory=list)  # round, rater, min_rater_confidence, tolerance
    competence_rounds: list[dict] = field(default_factory=list)  # round, min_posterior
    partition: str | None = None  # data_file is a folder of Hive-style partitions by this column


def _rounds(rounds: list[dict]) -> str:
    n = [str(r["round"]) for r in rounds]
    return f"round{'s' if len(n) > 1 else ''} {', '.join(n)}"


def routing_lines(f: CardFacts) -> list[str]:
    """The card's account of triage and competence-guided rounds: who decided which answers."""
    out = []
    if f.triage_rounds:
        judges = ", ".join(dict.fromkeys(f"`{r['rater']}`" for r in f.triage_rounds))
        out += [f"Triage ({_rounds(f.triage_rounds)}, judge {judges}): a second person labelled an item only "
                f"where the judge disagreed with the first, had no answer or was unsure. {f.judged_items} of the "
                "items here were decided by one person with the judge's agreement (provenance `single+judge`); "
                "their ids are in manifest.json under `single_judge_items`. `--min-provenance majority` leaves "
                "them out.", ""]
    if f.competence_rounds:
        bars = ", ".join(sorted({f"{r['min_posterior']:g}" for r in f.competence_rounds}))
        out += [f"Competence-guided routing ({_rounds(f.competence_rounds)}, minimum posterior {bars}): "
                "Dawid–Skene estimates of each annotator's competence chose which items got one more person. "
                "They were advisory only: no answer here comes from them; each is one person's answer, the "
                "people's majority or a reviewer's decision.", ""]
    return out


PARTITION_FILE = "part-0.parquet"


def partition_path(folder: str, column: str, value) -> str:
    """Where one partition's rows go, Hive-style (Spark, DuckDB, Arrow read the value from the path)."""
    return f"{folder}/{column}={value}/{PARTITION_FILE}"


def _fmt(v) -> str:
    if v is None:
        return "–"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def _estimate(value, low, high) -> str:
    """A figure and its 95 % interval, e.g. "0.712 (0.650–0.770)"."""
    if value is None or low is None or high is None:
        return _fmt(value)
    return f"{_fmt(value)} ({_fmt(low)}–{_fmt(high)})"


def dataset_card(f: CardFacts) -> str:
    """A Hugging Face dataset card: YAML front matter naming the data file, then the facts."""
    split = "train" if f.partition else f.data_file.rsplit(".", 1)[0]
    files = partition_path(f.data_file, f.partition, "*") if f.partition else f.data_file
    if f.partition:
        where = (f"- data: `{files}`, one Parquet file per {f.partition} (Hive-style partitions: the "
                 f"`{f.partition}` column is the folder's name, not in the files), {f.rows} rows; each "
                 f"file's sha256 is in `manifest.json`")
    else:
        where = f"- data file: `{f.data_file}`, {f.rows} rows, sha256 `{f.sha256}`"
    out = ["---", f"pretty_name: {json.dumps(f.title, ensure_ascii=False)}", "configs:",
           "- config_name: default", "  data_files:", f"  - split: {split}", f"    path: {files}",
           "tags:", "- annotary", f"- {f.fmt}", "---", "", f"# {f.title}", "",
           f"Exported by Annotary {f.version} on {f.created_at} from project `{f.project_id}` "
           f"({f.project_name}).", "",
           f"**Format `{f.fmt}`**: {ABOUT[f.fmt]}.",
           f"Question: `{f.question}` ({f.mode})." if f.question else "Questions: all.", "",
           where,
           f"- final answers exported: {f.answers}",
           f"- spec version `{f.spec_version}`, guidelines version `{f.guidelines_version}`"
           f" (labels made under {', '.join(f'`{v}`' for v in f.label_guidelines) or '–'})",
           f"- human annotators: {f.annotators}; non-human raters: {f.raters} (never part of a final answer)",
           "", "## Columns", "", "| column | type |", "| --- | --- |",
           *(f"| `{c}` | {k} |" for c, k in f.columns.items()), "",
           "messages: a list of {role, content}; texts: a list of strings; criteria: a list of "
           "{id, text, points, mark (met, not_met, partly or empty), earned}.",
           "", "## Provenance", "",
           "Each final answer is, strongest first: `gold` (an expert answer hidden among the items), "
           "`adjudicated` (a reviewer decided), `unanimous`, `majority`, `single+judge` (one annotator, and "
           "the AI judge of a triage round gave the same answer), or `single` (one annotator).", "",
           *routing_lines(f),
           "| provenance | answers |", "| --- | --- |",
           *(f"| {p} | {n} |" for p, n in f.by_provenance.items())]
    if f.decided:
        out += ["", f"{f.decided} conflict{'s' if f.decided != 1 else ''} decided by a reviewer "
                    "(provenance `adjudicated`)."]
    if f.conflicts:
        out += ["", f"{f.conflicts} conflicts nobody has decided yet have no final answer and are not here."]
    if f.dropped:
        out += ["", "Left out:", "", *(f"- {why}: {n}" for why, n in f.dropped.items())]
    if f.summary:
        out += ["", "## Summary", "", *(f"- {k}: {_fmt(v)}" for k, v in f.summary.items())]
    out += ["", "## Agreement", "",
            "Between human annotators on normal items (gold items measure accuracy instead)"
            + (f": {f.coverage}." if f.coverage else "."), "",
            "| variable | level | units | % agreement | chance agreement | Fleiss κ (95% CI) | Krippendorff α "
            "(95% CI) | Kendall W | mean τ | band |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
            *(f"| {a['variable']} | {a['level']} | {a['units']} | {_fmt(a['percent'])} | {_fmt(a.get('chance'))} "
              f"| {_estimate(a['fleiss'], a.get('fleiss_low'), a.get('fleiss_high'))} "
              f"| {_estimate(a['alpha'], a.get('alpha_low'), a.get('alpha_high'))} | {_fmt(a['w'])} "
              f"| {_fmt(a['tau'])} | {a['band']} |" for a in f.agreement),
            "", "Intervals are 95% and seeded (the same labels give the same interval): α by the "
            "bootstrap of Hayes & Krippendorff (2007), Fleiss' κ by resampling units. Chance agreement "
            "is what Fleiss' κ corrects for."]
    out += ["", "## Export options", "", "```json", json.dumps(f.options, indent=2, sort_keys=True), "```"]
    if f.notes:
        out += ["", "## Notes", "", *(f"- {n}" for n in f.notes)]
    kind = "parquet" if f.partition or f.data_file.endswith(".parquet") else "json"
    if f.classes:
        column, feature = ("labels", "Sequence(ClassLabel(names=names))") if "labels" in f.columns \
            else ("label", "ClassLabel(names=names)")
        out += ["", "## Classes", "", f"{len(f.classes)} classes, in the spec's order (the class index "
                "is the position here):", "", *(f"{n}. {c}" for n, c in enumerate(f.classes)), "",
                "## Loading", "", "```python",
                "from datasets import ClassLabel, Features, Sequence, Value, load_dataset", "",
                f"names = {json.dumps(f.classes, ensure_ascii=False)}",
                f'ds = load_dataset("{kind}", data_files="{f.data_file}", split="{split}")',
                f'ds = ds.cast_column("{column}", {feature})', "```", ""]
        return "\n".join(out)
    out += ["", "## Loading", "", "```python", "from datasets import load_dataset", "",
            f'ds = load_dataset("{kind}", data_files="{files}", split="{split}")', "```", ""]
    if f.partition:
        out[-1:] = ["", "Past one machine, with the partition column from the folder names:", "", "```python",
                    f'duckdb.sql("SELECT * FROM read_parquet(\'{files}\', hive_partitioning = true)")',
                    f'spark.read.parquet("{f.data_file}")  # run from this folder; adds `{f.partition}`',
                    "```", ""]
    return "\n".join(out)
