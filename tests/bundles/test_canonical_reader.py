"""The merge's readers of result lines (records.iter_canonical, iter_canonical_heads) and the
import's reader of items (records.iter_quick): whatever a line holds, they read the very record the strict reader reads
(with its canonical JSON, or the line as sent), or refuse it with the strict reader's own reason;
and the Label and Item models stay within what makes their fast path sound."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.bundles.test_fuzz_reader import JSON, LABEL, _mutate

from annotary.bundles import records
from annotary.bundles.records import (
    INT_LIMIT,
    MAX_DEPTH,
    head_model,
    iter_canonical,
    iter_canonical_heads,
    iter_jsonl,
    iter_lines,
    iter_quick,
)
from annotary.core.errors import BundleError
from annotary.core.items import Item
from annotary.core.labels import Label

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CANONICAL = Label.model_validate(LABEL).model_dump_json().encode()


def strict(data: bytes) -> list[tuple[int, Label, bytes]] | str:
    """What the strict reader makes of a member: its records with their canonical JSON, or its
    refusal."""
    try:
        records = list(iter_jsonl(data, Label, "results.jsonl"))
    except BundleError as err:
        return str(err)
    out = []
    for n, r, _ in records:
        try:
            out.append((n, r, r.model_dump_json().encode()))
        except ValueError:  # text no UTF-8 holds (a lone surrogate): cannot be stored
            return f"results.jsonl line {n}: holds text that is not valid Unicode"
    return out


def same(got, want) -> bool:
    """The same records, or the same refusal (a refusal to store, in its first words)."""
    return got.startswith(want) if isinstance(got, str) and isinstance(want, str) else got == want


def canonical(data: bytes) -> list[tuple[int, Label, bytes]] | str:
    try:
        return list(iter_canonical(data, Label, "results.jsonl"))
    except BundleError as err:
        return str(err)


@pytest.mark.parametrize("model", [Label, Item])
def test_typed_fields_bound_their_integers_and_nesting(model):
    """The fast path is sound only for a model whose canonical JSON the strict reader accepts
    whatever its values: no integer past 64 bits, no float (NaN, Infinity), bounded nesting.
    (Item's free-form fields, typed Any, are bounded by its validator: see the tests below.)"""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})

    def walk(node, depth: int, seen: tuple[str, ...]) -> int:
        if isinstance(node, dict):
            if "$ref" in node:
                name = node["$ref"].rsplit("/", 1)[-1]
                assert name not in seen, f"{name} nests in itself: no bound on nesting"
                return walk(defs[name], depth, (*seen, name))
            assert node.get("type") != "number", f"a float field: {node}"
            if node.get("type") == "integer":
                low, high = node.get("minimum", node.get("exclusiveMinimum")), node.get("maximum", node.get("exclusiveMaximum"))
                assert low is not None and high is not None and -INT_LIMIT <= low and high <= INT_LIMIT, node
            inner = depth + (node.get("type") in ("object", "array"))
            return max([inner] + [walk(v, inner, seen) for k, v in node.items() if k != "$defs"])
        if isinstance(node, list):
            return max([depth] + [walk(v, depth, seen) for v in node])
        return depth

    assert walk(schema, 0, ()) < MAX_DEPTH


def test_canonical_lines_are_kept_as_they_are():
    line = CANONICAL
    ((n, record, text),) = canonical(line + b"\n")
    assert (n, text) == (1, line) and record == Label.model_validate_json(line)
    assert text == record.model_dump_json().encode()


@pytest.mark.parametrize("line", [
    json.dumps(LABEL).encode(),  # spaced, keys in another order, +00:00 rather than Z
    json.dumps(json.loads(CANONICAL), ensure_ascii=True, indent=None).encode().replace(b'"fuzz"', b'"\\u0066uzz"'),
    CANONICAL.replace(b'"revision":1', b'"revision":1.0'),  # a whole float for an integer
    CANONICAL + b"\r",  # a line of a file with Windows line ends
    b"\xef\xbb\xbf" + CANONICAL,  # a BOM before the first record
])
def test_other_lines_read_as_the_strict_reader_reads_them(line):
    got, want = canonical(line + b"\n" + CANONICAL), strict(line + b"\n" + CANONICAL)
    assert same(got, want) and not isinstance(got, str)
    assert got[0][2] == CANONICAL  # stored as the canonical JSON, whatever the line said


@pytest.mark.parametrize("line,reason", [
    (CANONICAL[:-1] + b',"revision":1}', 'key "revision" appears twice'),
    (b'{"revision":1,' + CANONICAL[1:], 'key "revision" appears twice'),
    (CANONICAL[:-1] + b',"x":NaN}', "NaN is not allowed"),
    (CANONICAL.replace(b'"duration_ms":1200', b'"duration_ms":123456789012345678901234567890'), "out of range"),
    (CANONICAL[:-1] + b',"x":' + b"[" * 100 + b"]" * 100 + b"}", "nested more than 64 levels deep"),
    (CANONICAL.replace(b'"spec_version":"1"', b'"spec_version":"\\ud800"'), "not valid Unicode"),
    (CANONICAL.replace(b'"spec_version":"1"', b'"spec_version":"\xff"'), "not valid UTF-8"),
    (CANONICAL + b" " + CANONICAL, "Extra data"),
    (CANONICAL + b"," + CANONICAL, "Extra data"),
    (CANONICAL[:60], "not valid JSON"),
])
def test_refused_as_the_strict_reader_refuses(line, reason):
    data = CANONICAL + b"\n" + line + b"\n"
    got, want = canonical(data), strict(data)
    assert same(got, want)
    if reason:
        assert isinstance(got, str) and "line 2" in got and reason in got, got


def test_a_record_split_over_two_lines_is_refused():
    """Lines joined they would be canonical records; each line alone is not a record."""
    cut = CANONICAL.index(b',"question_id"')
    data = CANONICAL + b"\n" + CANONICAL[:cut] + b"\n" + CANONICAL[cut + 1:] + b"\n"
    got = canonical(data)
    assert got == strict(data) and isinstance(got, str) and got.startswith("results.jsonl line 2: not valid JSON")


@SETTINGS
@given(data=st.data())
def test_any_line_reads_as_the_strict_reader_reads_it(data):
    record = _mutate(data.draw, json.loads(CANONICAL))
    line = data.draw(st.sampled_from([
        json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode(),
        json.dumps(record).encode(),
        Label.model_validate(LABEL).model_dump_json().encode(),
    ]))
    if data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(LABEL)))
        line = line[:-1] + b"," + json.dumps(key).encode() + b":" + json.dumps(data.draw(JSON)).encode() + b"}"
    member = CANONICAL + b"\n" + line + b"\n"
    assert same(canonical(member), strict(member))


@SETTINGS
@given(lines=st.lists(st.sampled_from([b"", b" ", b"{}", b"[1]", b"\xef\xbb\xbf{}", CANONICAL]), max_size=8),
       cuts=st.lists(st.integers(0, 4000), max_size=6), end=st.booleans())
def test_lines_are_the_same_however_the_member_is_cut(lines, cuts, end):
    member = b"\n".join(lines) + (b"\n" if end else b"")
    at = sorted({c % (len(member) + 1) for c in cuts})
    chunks = [member[a:b] for a, b in zip([0, *at], [*at, len(member)], strict=True)]
    assert list(iter_lines(chunks, "m")) == list(iter_lines(member, "m"))


def test_a_long_line_is_refused_with_its_number():
    member = b"{}\n\n" + b"x" * 50 + b"\n{}\n"
    with pytest.raises(BundleError, match="m line 3: longer than 40 bytes"):
        list(iter_lines([member[:5], member[5:]], "m", max_line=40))
    with pytest.raises(BundleError, match="m line 3: longer than 40 bytes"):
        list(iter_lines(member, "m", max_line=40))


# --- labels read as far as their heads: iter_canonical_heads, as the merge reads them -------

SPLIT = "shown_order"
HEAD = list(Label.model_fields)[:list(Label.model_fields).index(SPLIT)]
HEAD_ONLY = CANONICAL[:CANONICAL.index(b',"shown_order":')]


def heads(data: bytes) -> list[tuple[int, dict, bytes]] | str:
    """What iter_canonical_heads makes of a member, each record as its head's fields."""
    try:
        return [(n, {k: getattr(r, k) for k in HEAD}, text)
                for n, r, text in iter_canonical_heads(data, Label, "results.jsonl", split=SPLIT)]
    except BundleError as err:
        return str(err)


def strict_heads(data: bytes) -> list[tuple[int, dict, bytes]] | str:
    want = strict(data)
    return want if isinstance(want, str) else [(n, {k: getattr(r, k) for k in HEAD}, t) for n, r, t in want]


def with_head(**changes: bytes) -> bytes:
    """CANONICAL with head fields' JSON replaced (a key given None is left out)."""
    record = json.loads(CANONICAL)
    parts = [b'"%s":%s' % (k.encode(), changes[k] if k in changes else
                           json.dumps(record[k], separators=(",", ":"), ensure_ascii=False).encode())
             for k in record if changes.get(k, b"") is not None]
    return b"{" + b",".join(parts) + b"}"


def test_label_validators_that_read_several_fields_read_none_of_its_head():
    """iter_canonical_heads proves a head alone: sound while no validator reads a head field
    together with another. A validator added to Label must be looked at here."""
    decorators = Label.__pydantic_decorators__
    assert set(decorators.model_validators) == {"_answer_or_skip"}  # reads the answer and skip reason
    assert not (decorators.field_validators or decorators.validators or decorators.root_validators
                or decorators.field_serializers or decorators.model_serializers or decorators.computed_fields)
    assert HEAD == ["project_id", "item_id", "question_id", "annotator", "revision", "created_at",
                    "submitted_at", "duration_ms"]
    head = head_model(Label, SPLIT)
    assert {k: repr(f) for k, f in head.model_fields.items()} == {k: repr(Label.model_fields[k]) for k in HEAD}
    assert head.model_config == Label.model_config


def test_lines_that_repeat_a_proved_tail_are_read_by_their_heads():
    lines = [with_head(item_id=json.dumps(f"i{k}").encode(), duration_ms=str(k).encode()) for k in range(5)]
    member = b"\n".join(lines) + b"\n"
    read = list(iter_canonical_heads(member, Label, "results.jsonl", split=SPLIT))
    assert [type(r) for _, r, _ in read] == [Label, *[head_model(Label, SPLIT)] * 4]
    assert heads(member) == strict_heads(member) and [t for _, _, t in read] == lines


ODD_HEADS = [
    {"item_id": b'"i\\u0031"'}, {"item_id": b'"\\",\\"shown_order\\":[]"'}, {"item_id": '"é ✓"'.encode()},
    {"item_id": b'"\xff"'}, {"item_id": b'"\\ud800"'}, {"item_id": b"1"}, {"item_id": b"null"}, {"item_id": None},
    {"revision": b"0"}, {"revision": b'"1"'}, {"revision": b"1.0"}, {"revision": b"2147483648"}, {"revision": b"true"},
    {"revision": b"01"}, {"revision": b"-0"}, {"duration_ms": b"-1"}, {"duration_ms": b"1e3"},
    {"created_at": b'"2026-01-01T00:00:00+00:00"'}, {"created_at": b'"2026-01-01T00:00:00Z"'},
    {"created_at": b'"2026-01-01T00:00:00.000000Z"'}, {"created_at": b'"2026-01-01T00:00:00.5Z"'},
    {"created_at": b'"2026-01-01T00:00:00.500000Z"'}, {"created_at": b'"2026-01-01T00:00:00"'},
    {"created_at": b'"2026-02-30T00:00:00Z"'}, {"created_at": b"1767225600"}, {"created_at": b'"2026-01-01"'},
    {"submitted_at": b'"2026-01-01T00:00:00+05:30"'}, {"submitted_at": b'"2026-01-01t00:00:00z"'},
    {"submitted_at": b'"0001-01-01T00:00:00Z"'}, {"submitted_at": b'"9999-12-31T23:59:59.999999Z"'},
    {"annotator": b'"0123456789abcdef", "x":1'}, {"annotator": b'"0123456789abcdef","annotator":"a"'},
    {"project_id": b'"fuzz","extra":1'}, {"question_id": b'"helpful","item_id":"i2"'},
]


@pytest.mark.parametrize("changes", ODD_HEADS, ids=range(len(ODD_HEADS)))
def test_odd_heads_on_a_proved_tail_read_as_the_strict_reader_reads_them(changes):
    member = CANONICAL + b"\n" + with_head(**changes) + b"\n" + CANONICAL + b"\n"
    assert same(heads(member), strict_heads(member))


def test_a_head_cut_at_another_place_is_read_whole():
    """Keys moved across the cut: the first `,"shown_order":` is then no head's end."""
    tail = CANONICAL[len(HEAD_ONLY):]
    moved = b'{"shown_order":["a","b"],' + HEAD_ONLY[1:] + tail.replace(b',"shown_order":["a","b"]', b"", 1)
    member = CANONICAL + b"\n" + moved + b"\n"
    got = heads(member)
    assert same(got, strict_heads(member)) and got[1][2] == CANONICAL


def test_tails_kept_are_bounded(monkeypatch):
    monkeypatch.setattr(records, "MAX_TAILS", 1)
    other = CANONICAL.replace(b'"choice":"A"', b'"choice":"B"').replace(b'"preferred":"a"', b'"preferred":"b"')
    member = b"\n".join([CANONICAL, other, with_head(item_id=b'"i9"'), other.replace(b'"i1"', b'"i8"')]) + b"\n"
    read = list(iter_canonical_heads(member, Label, "results.jsonl", split=SPLIT))
    assert [type(r) is Label for _, r, _ in read] == [True, True, False, True]
    assert heads(member) == strict_heads(member)


@SETTINGS
@given(data=st.data())
def test_any_head_on_a_proved_tail_reads_as_the_strict_reader_reads_it(data):
    record = json.loads(CANONICAL)
    key = data.draw(st.sampled_from(HEAD))
    value = data.draw(st.one_of(JSON, st.datetimes().map(lambda d: d.isoformat() + data.draw(st.sampled_from(["", "Z"]))),
                                st.integers(-3, 2**31 + 3), st.text(max_size=8)))
    line = data.draw(st.sampled_from([
        with_head(**{key: json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()}),
        with_head(**{key: json.dumps(value).encode()}),
    ]))
    member = CANONICAL + b"\n" + line + b"\n"
    assert same(heads(member), strict_heads(member)), (record[key], value)


# --- items: iter_quick, as the import reads them ---------------------------------------------

ITEM = {"id": "i-1", "prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hi."}],
        "context": "ctx", "responses": [{"id": "a", "text": "Hi", "model": "m"}, {"id": "b", "text": "Hello"}],
        "kind": "gold", "gold": {"helpful": {"choice": "A"}}, "explanation": "x",
        "rubric": [{"id": "c1", "text": "Greets", "points": 2}], "rubric_criteria": ["g1"],
        "metadata": {"source": "fuzz", "n": [1, 2.5, None, True, {"k": "v"}]}}
ITEM_LINE = Item.model_validate(ITEM).model_dump_json(exclude_defaults=True).encode()  # as Annotary writes it


def read_items(read, data: bytes) -> list[tuple[int, Item, bytes]] | str:
    """What a reader makes of an items member: its records, or its refusal."""
    try:
        return list(read(data, Item, "items.jsonl"))
    except BundleError as err:
        return str(err)


def strict_items(data: bytes) -> list[tuple[int, Item, bytes]] | str:
    return read_items(iter_jsonl, data)


def quick_items(data: bytes) -> list[tuple[int, Item, bytes]] | str:
    return read_items(iter_quick, data)


def canonical_items(data: bytes) -> list[tuple[int, Item, bytes]] | str:
    return read_items(iter_canonical, data)


def strict_canonical_items(data: bytes) -> list[tuple[int, Item, bytes]] | str:
    got = strict_items(data)
    if isinstance(got, str):
        return got
    out = []
    for n, r, _ in got:
        try:
            out.append((n, r, r.model_dump_json().encode()))
        except ValueError:
            return f"items.jsonl line {n}: holds text that is not valid Unicode"
    return out


def exactly(got, want) -> bool:
    """The same refusal word for word, or the same records (equal, and serialising to the same
    bytes: -0.0 and 0.0 are equal but not the same) with the same lines."""
    if isinstance(got, str) or isinstance(want, str):
        return got == want
    return len(got) == len(want) and all(
        g[0] == w[0] and g[1] == w[1] and repr(g[1].model_dump()) == repr(w[1].model_dump()) and g[2] == w[2]
        for g, w in zip(got, want, strict=True))


def check_item_member(data: bytes) -> None:
    assert exactly(quick_items(data), strict_items(data))
    assert same(canonical_items(data), strict_canonical_items(data))


def with_metadata(value: bytes) -> bytes:
    """The canonical line with its metadata's text replaced (a bundle's line written by hand)."""
    start = ITEM_LINE.index(b'"metadata":') + len(b'"metadata":')
    return ITEM_LINE[:start] + value + b"}"


@pytest.fixture
def strict_calls(monkeypatch):
    """How many lines went to the strict reader."""
    calls = []
    strict_record = records._record
    monkeypatch.setattr(records, "_record", lambda line, *a: calls.append(line) or strict_record(line, *a))
    return calls


def test_a_canonical_item_line_is_kept_as_sent(strict_calls):
    plain = Item(id="p", prompt="Say hi.").model_dump_json(exclude_defaults=True).encode()
    got = quick_items(ITEM_LINE + b"\n" + plain + b"\n")
    assert [(n, line) for n, _, line in got] == [(1, ITEM_LINE), (2, plain)]
    assert got[0][1] == Item.model_validate(ITEM) and got[1][1] == Item(id="p", prompt="Say hi.")
    assert strict_calls == []  # both read by the shortcut


def test_other_forms_of_an_item_go_to_the_strict_reader(strict_calls):
    whole = Item.model_validate(ITEM).model_dump_json().encode()  # defaults written out
    spaced = json.dumps(json.loads(ITEM_LINE)).encode()
    got = quick_items(whole + b"\n" + spaced + b"\n")
    assert [line for _, _, line in got] == [whole, spaced] and strict_calls == [whole, spaced]
    assert got[0][1] == got[1][1] == Item.model_validate(ITEM)


NASTY_METADATA = [
    b'{"x":NaN}', b'{"x":Infinity}', b'{"x":-Infinity}', b'{"x":1e400}', b'{"x":-1E400}', b'{"x":1e-400}',
    b'{"x":-0}', b'{"x":-0.0}', b'{"x":0.0}', b'{"x":1e+20}', b'{"x":1e20}', b'{"x":100000000000000000000.0}',
    b'{"x":1.7976931348623157e+308}', b'{"x":1.7976931348623159e+308}', b'{"x":5e-324}', b'{"x":0.1}',
    b'{"x":0.30000000000000004}', b'{"x":1.0}', b'{"x":1E5}',
    b'{"x":9223372036854775807}', b'{"x":-9223372036854775807}', b'{"x":-9223372036854775808}',
    b'{"x":9223372036854775808}', b'{"x":123456789012345678901234567890}', b'{"x":-00}', b'{"x":01}',
    b'{"x":"\\u2028"}', '{"x":"\u2028\u2029"}'.encode(), b'{"x":"\\/"}', b'{"x":"/"}', b'{"x":"\\u00e9"}',
    '{"x":"é😀"}'.encode(), b'{"x":"\\ud83d\\ude00"}', b'{"x":"\\ud800"}', b'{"x":"\\udc00\\ud800"}',
    b'{"x":"\xed\xa0\x80"}', b'{"x":"\xc0\xaf"}', b'{"x":"\xff"}', b'{"x":"\\u0000\\u001f\\"\\\\"}',
    b'{"x":"\x01"}', b'{"x":"\t"}', b'{"x":"\\t\\n\\r\\b\\f"}', b'{"x":"\x7f"}', b'{"x":"\\u007f"}',
    b'{"x":1,"x":1}', b'{"x":{"y":1,"y":2}}', b'{"":1}', b'{"x":[]}', b'{"x":{}}', b'{"x":true,"y":false}',
    b'{"x":tru}', b'{"x":[1,]}', b'{"x":1 }', b' {"x":1}', b'{"x":"a"\t}', b"{}", b"[]", b"null", b'"x"',
    b"\xef\xbb\xbf{}",
]


@pytest.mark.parametrize("metadata", NASTY_METADATA)
def test_nasty_free_form_values_read_as_the_strict_reader_reads_them(metadata):
    line = with_metadata(metadata)
    for member in (line + b"\n", ITEM_LINE.replace(b'"i-1"', b'"i-0"') + b"\n" + line + b"\n"):
        check_item_member(member)
    # the same values in the gold answers
    gold = ITEM_LINE.replace(b'"gold":{"helpful":{"choice":"A"}}', b'"gold":{"helpful":' + metadata + b"}")
    check_item_member(gold + b"\n")


@pytest.mark.parametrize("line", [
    ITEM_LINE[:-1] + b',"id":"i-2"}',  # a key repeated: the first one's value or the last one's?
    b'{"id":"i-2",' + ITEM_LINE[1:],
    ITEM_LINE.replace(b'"points":2', b'"points":2.0'),
    ITEM_LINE.replace(b'"points":2', b'"points":-0'),
    ITEM_LINE.replace(b'"points":2', b'"points":2147483648'),
    ITEM_LINE.replace(b'"points":2', b'"points":9223372036854775808'),
    ITEM_LINE.replace(b'"points":2', b'"points":1e400'),
    ITEM_LINE.replace(b'"required":true', b'"required":"true"') if b'"required":true' in ITEM_LINE else ITEM_LINE,
    ITEM_LINE.replace(b'"kind":"gold"', b'"kind":"gol\\u0064"'),
    ITEM_LINE.replace(b'"id":"i-1"', b'"id":"i\\u0000"'),
    ITEM_LINE.replace(b'"id":"i-1"', b'"id":"i\\ud800"'),
    ITEM_LINE.replace(b'"Say hi."', b'"Say hi.\\ud800"'),
    ITEM_LINE.replace(b'"Say hi."', b'"Say \\/hi."'),
    ITEM_LINE[:-1] + b',"extra":1}',
    ITEM_LINE + b"\r", ITEM_LINE + b" ", b" " + ITEM_LINE, b"\xef\xbb\xbf" + ITEM_LINE,
    json.dumps(json.loads(ITEM_LINE)).encode(),  # spaced
    json.dumps(json.loads(ITEM_LINE), ensure_ascii=True, separators=(",", ":")).encode(),
    ITEM_LINE + ITEM_LINE, ITEM_LINE[:80],
])
def test_other_item_lines_read_as_the_strict_reader_reads_them(line):
    check_item_member(ITEM_LINE.replace(b'"i-1"', b'"i-0"') + b"\n" + line + b"\n")


def nested(depth: int) -> bytes:
    """metadata whose innermost list is `depth` containers below the metadata object."""
    return b'{"x":' + b"[" * depth + b"]" * depth + b"}"


def test_free_form_nesting_stops_below_the_readers_bound():
    """The deepest metadata Item takes still reads whole by the strict reader (the line's nesting
    within MAX_DEPTH), and one level deeper is refused by both paths."""
    deepest = max(d for d in range(1, MAX_DEPTH + 2) if not isinstance(quick_items(with_metadata(nested(d))), str))
    line = with_metadata(nested(deepest))
    assert isinstance(strict_items(line), list) and quick_items(line)[0][2] == line
    assert line.count(b"[") + 2 < MAX_DEPTH  # + the line's object and the metadata's
    for d in (deepest + 1, MAX_DEPTH - 2, MAX_DEPTH, MAX_DEPTH + 1, 300):
        check_item_member(with_metadata(nested(d)))
        assert isinstance(quick_items(with_metadata(nested(d))), str)


def test_free_form_values_the_strict_reader_refuses_are_refused_by_the_model():
    """Whatever pydantic's parser makes of them, Item itself refuses what the strict reader
    would: so a line read by the fast path never holds one."""
    for bad in (2**63, -(2**63), 10**30, float("nan"), float("inf"), float("-inf")):
        for field in ("metadata", "gold"):
            with pytest.raises(ValueError):
                Item.model_validate(ITEM | {field: {"x": [bad]}})


@SETTINGS
@given(data=st.data())
def test_any_item_line_reads_as_the_strict_reader_reads_it(data):
    record = _mutate(data.draw, json.loads(ITEM_LINE))
    if data.draw(st.booleans()):
        record = json.loads(ITEM_LINE) | {"metadata": {"v": data.draw(JSON)}}
    line = data.draw(st.sampled_from([
        json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode(),
        json.dumps(record).encode(),
        ITEM_LINE,
    ]))
    check_item_member(ITEM_LINE.replace(b'"i-1"', b'"i-0"') + b"\n" + line + b"\n")


@SETTINGS
@given(values=st.lists(st.floats(allow_nan=False) | st.integers(-(2**64), 2**64)
                       | st.text(st.characters(codec="utf-8"), max_size=8), max_size=8))
def test_canonical_numbers_and_texts_read_back_the_same(values):
    """Canonical JSON as Annotary writes it (floats in their shortest form, text escaped as pydantic
    escapes it): pydantic's parser and the strict reader read the very same values back."""
    try:
        item = Item.model_validate(ITEM | {"metadata": {"v": values}})
    except ValueError:  # an integer beyond 64 bits or an infinity: no such item
        return
    line = item.model_dump_json(exclude_defaults=True).encode()
    with pytest.MonkeyPatch.context() as m:
        m.setattr(records, "_record", None)  # the shortcut alone
        got = quick_items(line)
    assert exactly(got, strict_items(line)) and got[0][2] == line
    # as tasks build writes it (json.dumps: 1e-07 where pydantic writes 1e-7): the same records
    line = json.dumps(item.model_dump(mode="json", exclude_defaults=True), ensure_ascii=False,
                      separators=(",", ":")).encode()
    got = quick_items(line)
    assert exactly(got, strict_items(line)) and got[0][2] == line


def test_a_lower_nesting_bound_is_kept():
    """A reader given a bound below the one the models are proved against reads every line
    strictly: nothing nested deeper than that bound gets through."""
    line = with_metadata(nested(12))
    assert list(iter_quick(line, Item, "items.jsonl"))[0][2] == line
    for read in (iter_quick, iter_jsonl, iter_canonical):
        with pytest.raises(BundleError, match="items.jsonl line 1: not valid JSON .nested more than 10 levels deep"):
            list(read(line, Item, "items.jsonl", max_depth=10))
