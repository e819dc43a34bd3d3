"""The merge's reader of result lines (records.iter_canonical): whatever a line holds, it reads
the very record the strict reader reads and gives its canonical JSON, or refuses it with the
strict reader's own reason; and the Label model stays within what makes its fast path sound."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.bundles.test_fuzz_reader import JSON, LABEL, _mutate

from annotary.bundles.records import INT_LIMIT, MAX_DEPTH, iter_canonical, iter_jsonl, iter_lines
from annotary.core.errors import BundleError
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


def test_label_fields_bound_their_integers_and_nesting():
    """The fast path is sound only for a model whose canonical JSON the strict reader accepts
    whatever its values: no integer past 64 bits, no float (NaN, Infinity), bounded nesting."""
    schema = Label.model_json_schema()
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
