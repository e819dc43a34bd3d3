"""Property-based fuzzing of the bundle reader and every record parser: whatever the bytes,
nothing escapes but the project's own error, in one line."""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotary.bundles.bundle import encode_manifest, open_bundle, parse_manifest, write_bundle
from annotary.bundles.identity import create_identity
from annotary.bundles.records import dump_jsonl, iter_jsonl, loads
from annotary.core.adjudication import Case, Decision
from annotary.core.coordination import RaterLabel
from annotary.core.errors import AnnotaryError
from annotary.core.items import Item
from annotary.core.labels import Label
from annotary.core.spec import parse_spec

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

SPEC = {"name": "Fuzz", "project_id": "fuzz", "questions": [
    {"id": "helpful", "mode": "pairwise", "text": "Which is more helpful?", "scale": "tie"}]}
ITEM = {"id": "i1", "prompt": "Say hi.", "responses": [{"id": "a", "text": "Hi"}, {"id": "b", "text": "Hello"}]}
LABEL = {"project_id": "fuzz", "item_id": "i1", "question_id": "helpful", "annotator": "0123456789abcdef",
         "revision": 1, "created_at": NOW.isoformat(), "submitted_at": NOW.isoformat(), "duration_ms": 1200,
         "shown_order": ["a", "b"], "answer": {"mode": "pairwise", "choice": "A", "preferred": "a"},
         "spec_version": "1", "guidelines_version": "1"}
CASE = {"item_id": "i1", "question_id": "helpful", "reason": "conflict",
        "answers": [{"who": "Annotator 1", "answer": {"mode": "pairwise", "choice": "A"}, "duration_ms": 5}],
        "majority": 0, "support": 0.5, "agreement": {"alpha": 0.1}}
DECISION = {"item_id": "i1", "question_id": "helpful", "reviewer": "0123456789abcdef", "revision": 1,
            "decided_at": NOW.isoformat(), "answer": {"mode": "pairwise", "choice": "B"}, "duration_ms": 3}
RATER = {"item_id": "i1", "question_id": "helpful", "answer": {"mode": "pairwise", "choice": "tie"},
         "confidence": 0.7}
RECORDS = [(Item, ITEM), (Label, LABEL), (Case, CASE), (Decision, DECISION), (RaterLabel, RATER)]

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=12,
)


def one_line(err: AnnotaryError) -> None:
    text = str(err)
    assert text and "\n" not in text and "\r" not in text, repr(text)


@pytest.fixture(scope="module")
def signer(tmp_path_factory):
    return create_identity(tmp_path_factory.mktemp("fuzz-id") / "me", name="Fuzz Signer", role="annotator")


@pytest.fixture(scope="module")
def good(tmp_path_factory, signer) -> bytes:
    path = tmp_path_factory.mktemp("fuzz") / "good.annotary"
    write_bundle(path, kind="results", project_id="fuzz", project_name="Fuzz", identity=signer,
                 members={"spec.json": json.dumps(SPEC).encode(), "results.jsonl": dump_jsonl([LABEL] * 3),
                          "guidelines/img/x.png": b"\x89PNG" * 20})
    return path.read_bytes()


def read_everything(path: Path) -> None:
    """What merge, import and verify do with a bundle, all of it."""
    with open_bundle(path) as b:
        b.verify_all()
        for name in b.names():
            if name.endswith(".jsonl"):
                for _ in b.dicts(name):
                    pass
            elif name.endswith(".json"):
                b.json(name)
        if b.has("results.jsonl"):
            for _ in b.records("results.jsonl", Label):
                pass


def _try(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "f.annotary"
        path.write_bytes(data)
        try:
            read_everything(path)
        except AnnotaryError as err:
            one_line(err)


@SETTINGS
@given(st.data())
def test_mutated_bundle_bytes(good, data):
    raw = bytearray(good)
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    _try(bytes(raw))


@SETTINGS
@given(st.data())
def test_truncated_or_spliced_bundle(good, data):
    a = data.draw(st.integers(0, len(good)))
    b = data.draw(st.integers(a, len(good)))
    junk = data.draw(st.binary(max_size=64))
    _try(good[:a] + junk + good[b:])


@SETTINGS
@given(st.binary(max_size=4096))
def test_random_bytes(data):
    _try(data)


def _rezip(good: bytes, replace: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, replace.get(info.filename, src.read(info)))
        for name, data in replace.items():
            if name not in src.namelist():
                dst.writestr(name, data)
    return out.getvalue()


@SETTINGS
@given(st.data())
def test_signed_manifests_with_random_fields(good, signer, data):
    """Manifests signed properly, so every check after the signature is reached."""
    with zipfile.ZipFile(io.BytesIO(good)) as z:
        doc = json.loads(z.read("manifest.json"))
    if data.draw(st.booleans()):
        m = doc["members"][0]
        m[data.draw(st.sampled_from(sorted(m)))] = data.draw(JSON)
    else:
        doc[data.draw(st.sampled_from(sorted(doc)))] = data.draw(JSON)
    raw = json.dumps(doc).encode()
    _try(_rezip(good, {"manifest.json": raw, "manifest.sig": signer.sign(raw)}))


@SETTINGS
@given(st.binary(max_size=600) | st.text(max_size=300).map(str.encode))
def test_manifest_parser(raw):
    try:
        parse_manifest(raw)
    except AnnotaryError as err:
        one_line(err)


@SETTINGS
@given(st.data())
def test_signed_records_with_random_lines(good, signer, data):
    """A properly signed bundle whose results.jsonl holds mutated records."""
    lines = []
    for _ in range(data.draw(st.integers(1, 3))):
        record = dict(LABEL)
        record[data.draw(st.sampled_from(sorted(record)))] = data.draw(JSON)
        lines.append(json.dumps(record).encode())
    if data.draw(st.booleans()):
        lines.append(data.draw(st.binary(max_size=80)))
    body = b"\n".join(lines) + b"\n"
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "r.annotary"
        write_bundle(path, kind="results", project_id="fuzz", project_name="Fuzz", identity=signer,
                     members={"spec.json": json.dumps(SPEC).encode(), "results.jsonl": body})
        try:
            read_everything(path)
        except AnnotaryError as err:
            one_line(err)


def _mutate(draw, value, depth=0):
    """A record with one value somewhere inside replaced by random JSON."""
    if isinstance(value, dict) and value and depth < 4 and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(value)))
        return value | {key: _mutate(draw, value[key], depth + 1)}
    if isinstance(value, list) and value and depth < 4 and draw(st.booleans()):
        at = draw(st.integers(0, len(value) - 1))
        return value[:at] + [_mutate(draw, value[at], depth + 1)] + value[at + 1:]
    return draw(JSON)


@pytest.mark.parametrize("model,record", RECORDS, ids=[m.__name__ for m, _ in RECORDS])
@SETTINGS
@given(data=st.data())
def test_every_record_parser(model, record, data):
    lines = [json.dumps(record).encode(), json.dumps(_mutate(data.draw, record)).encode()]
    if data.draw(st.booleans()):
        lines.append(data.draw(st.binary(max_size=120)))
    if data.draw(st.booleans()):
        # the raw text edited too: duplicate keys, deep nesting, numbers out of range
        lines.append(lines[1][:-1] + data.draw(st.sampled_from(
            [b',"item_id":"x"}', b',"z":' + b"[" * 200 + b"]" * 200 + b"}", b',"z":1e999}',
             b',"z":123456789012345678901234567890}', b',"z":NaN}'])))
    try:
        for _ in iter_jsonl(b"\n".join(lines), model, "r.jsonl"):
            pass
    except AnnotaryError as err:
        one_line(err)


@SETTINGS
@given(data=st.data())
def test_spec_parser(data):
    try:
        parse_spec(_mutate(data.draw, SPEC), source="spec.json")
    except AnnotaryError as err:
        one_line(err)


@SETTINGS
@given(st.binary(max_size=300) | st.text(max_size=200).map(str.encode))
def test_strict_json(raw):
    try:
        loads(raw)
    except ValueError as err:
        assert "\n" not in str(err)


def test_strict_json_limits():
    for text, reason in [(b"[" * 100000, "nested more than 64"), (b'{"a":1,"a":2}', 'key "a" appears twice'),
                         (b"[NaN]", "NaN is not allowed"), (b"[1e999]", "out of range"),
                         (b"[" + b"9" * 5000 + b"]", "out of range"), (b"[9223372036854775808]", "out of range")]:
        with pytest.raises(ValueError, match=reason):
            loads(text)
    assert loads(b"[9223372036854775807]") == [2**63 - 1]
    assert loads(b"[" * 64 + b"]" * 64) is not None


def test_encode_manifest_round_trip(good):
    with zipfile.ZipFile(io.BytesIO(good)) as z:
        raw = z.read("manifest.json")
    assert encode_manifest(parse_manifest(raw)) == raw
