"""JSON Lines inside bundles: compact output, and errors that give the line and the field."""


import pytest
from hypothesis import given
from hypothesis import strategies as st

from annotary.bundles.records import dump_jsonl, iter_jsonl_dicts, parse_jsonl
from annotary.core.errors import BundleError
from annotary.core.items import Item

ITEMS = [
    Item(id="1", prompt="Résumé ✓ — line\nbreak", responses=[{"id": "a", "text": "x"}, {"id": "b", "text": "y"}]),
    Item(id="2", prompt=[{"role": "user", "content": "hi"}], metadata={"k": [1, 2]}),
]


def test_round_trip_models():
    data = dump_jsonl(ITEMS)
    assert data.endswith(b"\n") and data.count(b"\n") == 2
    assert "Résumé ✓".encode() in data  # not \u-escaped
    assert b": " not in data and b", " not in data
    assert parse_jsonl(data, Item, "items.jsonl") == ITEMS


def test_dicts_are_compact_and_unescaped():
    assert dump_jsonl([{"a": "é", "b": [1, 2]}, {}]) == '{"a":"é","b":[1,2]}\n{}\n'.encode()
    assert dump_jsonl([]) == b""


def test_blank_lines_crlf_and_bom_are_tolerated():
    lines = [line.rstrip(b"\n") for line in dump_jsonl(ITEMS).splitlines()]
    data = b"\xef\xbb\xbf" + lines[0] + b"\r\n\r\n   \n" + lines[1] + b"\r\n\n"
    assert parse_jsonl(data, Item, "items.jsonl") == ITEMS
    assert [n for n, _ in iter_jsonl_dicts(data, "items.jsonl")] == [1, 4]


def test_invalid_utf8_gives_the_byte():
    data = b'{"id": "1", "prompt": "ok"}\n{"id": "2", "prompt": "\xff"}\n'
    with pytest.raises(BundleError) as err:
        parse_jsonl(data, Item, "items.jsonl")
    bad = data.index(b"\xff") - data.index(b"\n") - 1
    assert str(err.value) == f"items.jsonl: not valid UTF-8 (line 2, byte {bad})"


def test_malformed_json_gives_the_line():
    good = dump_jsonl(ITEMS)
    data = good + b"\n" + good + b'{"id": "3", "prompt": "x",}\n'
    with pytest.raises(BundleError, match=r"^items.jsonl line 6: not valid JSON \(.+\)$"):
        parse_jsonl(data, Item, "items.jsonl")


def test_malformed_json_in_dicts_gives_the_line():
    with pytest.raises(BundleError, match=r"^r.jsonl line 2: not valid JSON"):
        list(iter_jsonl_dicts(b"{}\n{oops\n", "r.jsonl"))
    with pytest.raises(BundleError, match=r"^r.jsonl line 1: not valid JSON"):
        list(iter_jsonl_dicts(b'{"x": NaN}\n', "r.jsonl"))


def test_schema_violation_gives_line_and_field():
    data = dump_jsonl(ITEMS) + b'{"id": "3", "prompt": "p", "responses": [{"id": "a"}]}\n'
    with pytest.raises(BundleError) as err:
        parse_jsonl(data, Item, "items.jsonl")
    assert str(err.value) == "items.jsonl line 3: responses.0.text: Field required"


def test_not_an_object():
    with pytest.raises(BundleError, match=r"^items.jsonl line 1: "):
        parse_jsonl(b"[1, 2]\n", Item, "items.jsonl")
    with pytest.raises(BundleError, match=r"^r.jsonl line 1: not a JSON object$"):
        list(iter_jsonl_dicts(b"[1, 2]\n", "r.jsonl"))


def test_iter_dicts():
    assert list(iter_jsonl_dicts(b'{"a": 1}\n\n{"b": "\xc3\xa9"}\n', "r.jsonl")) == [(1, {"a": 1}), (3, {"b": "é"})]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63 - 1), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
)


@given(st.lists(st.dictionaries(st.text(), JSON, max_size=4), max_size=5))
def test_any_json_dicts_round_trip(records):
    # line separators inside strings (\r, U+2028) must never split a record
    data = dump_jsonl(records)
    assert data.count(b"\n") == len(records)
    assert [d for _, d in iter_jsonl_dicts(data, "r.jsonl")] == records


@given(st.binary(max_size=512))
def test_random_bytes_only_ever_bundle_error(data):
    try:
        parse_jsonl(data, Item, "items.jsonl")
    except BundleError as e:
        assert "\n" not in str(e) and str(e).startswith("items.jsonl")
