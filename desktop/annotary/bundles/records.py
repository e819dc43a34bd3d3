"""JSON and JSON Lines inside bundles: compact writing; strict, bounded, line-numbered reading."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator
from copy import copy
from functools import cache, partial
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError, create_model

from annotary.core.errors import BundleError, describe_validation
from annotary.core.items import JSON_INT_LIMIT, JSON_MAX_DEPTH

M = TypeVar("M", bound=BaseModel)
BOM = b"\xef\xbb\xbf"
MAX_DEPTH = JSON_MAX_DEPTH
MAX_LINE_BYTES = 32 * 1024 * 1024
SPLIT_BYTES = 1 << 20  # a member given whole is cut into lines this much at a time
INT_LIMIT = JSON_INT_LIMIT


def dump_jsonl(records: Iterable[BaseModel | dict[str, Any]]) -> bytes:
    lines: list[bytes] = []
    for r in records:
        if isinstance(r, BaseModel):
            lines.append(r.model_dump_json().encode("utf-8"))
        else:
            lines.append(json.dumps(r, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8"))
    return b"".join(line + b"\n" for line in lines)


class _Refused(ValueError):
    """Why a JSON text is refused, raised from inside the parser's hooks."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise _Refused(f"key {json.dumps(k[:60], ensure_ascii=False)} appears twice in one object")
            seen.add(k)
    return d


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not allowed in JSON")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"number {text[:40]} is out of range")
    return value


def _int(text: str) -> int:
    if len(text) > 20:
        raise _Refused(f"number {text[:40]}... is out of range")
    value = int(text)
    if not -INT_LIMIT <= value <= INT_LIMIT:
        raise _Refused(f"number {text} is out of range")
    return value


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_no_constant, parse_float=_float,
                            parse_int=_int)


def _too_deep(value: Any, max_depth: int) -> bool:
    """Whether containers nest deeper than max_depth (walked without recursion)."""
    level = [value]
    for _ in range(max_depth):
        level = [v for c in level for v in (c.values() if isinstance(c, dict) else c)
                 if isinstance(v, dict | list)]
        if not level:
            return False
    return True


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Strict JSON: UTF-8, no duplicate keys, no NaN or Infinity, no integer beyond 64 bits, no
    nesting deeper than max_depth. ValueError (one line, the reason) if the text is refused;
    UnicodeError if bytes are not UTF-8."""
    if isinstance(data, bytes | bytearray):
        if data.startswith(BOM):
            data = data[len(BOM):]
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as e:
            raise UnicodeError(f"not valid UTF-8 (byte {e.start})") from None
    else:
        text = data
    try:
        value = _DECODER.decode(text)
    except _Refused as e:
        raise ValueError(str(e)) from None
    except RecursionError:
        raise ValueError(f"nested more than {max_depth} levels deep") from None
    except json.JSONDecodeError as e:
        raise ValueError(str(e)) from None
    except ValueError as e:  # an integer too long to convert, and the like
        raise ValueError(str(e).splitlines()[0][:120] if str(e) else "malformed") from None
    # the parser itself stops near Python's recursion limit; the bound is far lower, and only
    # a text with that many brackets can reach it
    if isinstance(value, dict | list) and text.count("[") + text.count("{") > max_depth \
            and _too_deep(value, max_depth):
        raise ValueError(f"nested more than {max_depth} levels deep")
    return value


def load_object(data: bytes, what: str, *, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """A JSON member that must hold one object; BundleError naming `what` otherwise."""
    try:
        doc = loads(data, max_depth=max_depth)
    except UnicodeError as e:
        raise BundleError(f"{what} is {e}") from None
    except ValueError as e:
        raise BundleError(f"{what} is not valid JSON ({e})") from None
    if not isinstance(doc, dict):
        raise BundleError(f"{what} is not a JSON object")
    return doc


def iter_lines(chunks: Iterable[bytes] | bytes, member: str,
               max_line: int = MAX_LINE_BYTES) -> Iterator[tuple[int, bytes]]:
    """(line number, line) for every non-blank line of a member, read chunk by chunk: memory
    is bounded by one line (refused past max_line bytes), whatever the member's size."""
    if isinstance(chunks, bytes | bytearray):  # a member whole: split a piece at a time
        data = chunks
        chunks = (data[i:i + SPLIT_BYTES] for i in range(0, len(data), SPLIT_BYTES))
    rest = b""
    n = 0
    first = True
    for chunk in chunks:
        if first:
            head, rest = rest + chunk, b""
            if len(head) < len(BOM) and BOM.startswith(head):
                rest = head  # too short yet to tell
                continue
            first = False
            # tools on Windows write one; it is no part of a record
            chunk = head[len(BOM):] if head.startswith(BOM) else head
        lines = (rest + chunk if rest else chunk).split(b"\n")
        rest = lines.pop()  # the line the next chunk goes on with
        long = max(map(len, lines), default=0) > max_line
        for line in lines:
            n += 1
            if long and len(line) > max_line:
                raise BundleError(f"{member} line {n}: longer than {max_line} bytes")
            if line.strip():
                yield n, line
        if len(rest) > max_line:
            raise BundleError(f"{member} line {n + 1}: longer than {max_line} bytes")
    if rest.strip():
        yield n + 1, rest


def _utf8(line: bytes, n: int, member: str) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BundleError(f"{member}: not valid UTF-8 (line {n}, byte {e.start})") from None


def record_dict(line: bytes, n: int, member: str, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """One JSON Lines record as a dict (strict JSON, see loads)."""
    text = _utf8(line, n, member)
    try:
        value = loads(text, max_depth=max_depth)
    except ValueError as e:
        # every record is one line, so "line 1" only confuses next to our line number
        message = str(e).replace(": line 1 column ", ": column ")
        raise BundleError(f"{member} line {n}: not valid JSON ({message})") from None
    if not isinstance(value, dict):
        raise BundleError(f"{member} line {n}: not a JSON object")
    return value


def _record(line: bytes, n: int, member: str, model: type[M], max_depth: int) -> M:
    """One line read by the strict reader (loads) and validated; BundleError with the reason."""
    value = record_dict(line, n, member, max_depth)
    try:
        return model.model_validate(value)
    except ValidationError as e:
        raise BundleError(f"{member} line {n}: {describe_validation(e)}") from None
    except (ValueError, TypeError, RecursionError) as e:  # a validator tripping over odd input
        raise BundleError(f"{member} line {n}: {str(e).splitlines()[0][:160] if str(e) else type(e).__name__}") from None


def iter_jsonl(data: bytes | Iterable[bytes], model: type[M], member: str, *,
               max_line: int = MAX_LINE_BYTES, max_depth: int = MAX_DEPTH) -> Iterator[tuple[int, M, bytes]]:
    """(line number, validated record, the line's bytes) for every record; `data` is the member
    whole or its chunks (a bundle reader's stream), so memory stays bounded by one line."""
    for n, line in iter_lines(data, member, max_line):
        yield n, _record(line, n, member, model, max_depth), line


def iter_canonical(data: bytes | Iterable[bytes], model: type[M], member: str, *,
                   max_line: int = MAX_LINE_BYTES, max_depth: int = MAX_DEPTH) -> Iterator[tuple[int, M, bytes]]:
    """As iter_jsonl, each record with its canonical JSON (its model_dump_json, UTF-8) in place
    of the line: what a store keeps, never the line as sent.

    Only for models whose fields bound every integer to 64 bits and whose nesting is bounded
    (Label's and Item's; tests/bundles/test_canonical_reader.py checks it). A line that already
    is its record's canonical JSON, as every line Annotary writes is, is read by pydantic's own
    JSON parser and proved so by serialising the record and comparing the bytes: a canonical text
    repeats no key, holds no NaN, no integer beyond the model's bounds and no nesting beyond the
    model's, so the strict reader would have read the very same record from it, at half the
    cost. Any other line (spaced, reordered, a key repeated, refused...) is read by the strict
    reader, with its reasons for refusing; the record's canonical JSON is then serialised anew."""
    return _shortcut(data, model, member, max_line, max_depth, as_sent=False, exclude_defaults=False)


def iter_quick(data: bytes | Iterable[bytes], model: type[M], member: str, *,
               max_line: int = MAX_LINE_BYTES, max_depth: int = MAX_DEPTH) -> Iterator[tuple[int, M, bytes]]:
    """iter_jsonl (each record with its line as sent), read as iter_canonical reads, but with the
    defaults left out of the canonical JSON (model_dump_json(exclude_defaults=True): how Annotary
    writes items): a line that is that JSON is read by pydantic's parser, any other by the strict
    reader. The same records, lines, refusals and line numbers as iter_jsonl, for the models
    iter_canonical is for (an omitted field is its default on either path)."""
    return _shortcut(data, model, member, max_line, max_depth, as_sent=True, exclude_defaults=True)


def _shortcut(data: bytes | Iterable[bytes], model: type[M], member: str, max_line: int, max_depth: int,
              as_sent: bool, exclude_defaults: bool) -> Iterator[tuple[int, M, bytes]]:
    read = _line_reader(model, member, max_depth, as_sent, exclude_defaults)
    for n, line in iter_lines(data, member, max_line):
        yield n, *read(line, n)


def _line_reader(model: type[M], member: str, max_depth: int, as_sent: bool,
                 exclude_defaults: bool) -> Callable[[bytes, int], tuple[M, bytes]]:
    """How _shortcut reads one line: (record, its canonical JSON or the line as sent)."""
    validate_json = model.__pydantic_validator__.validate_json
    to_json = model.__pydantic_serializer__.to_json
    dump = partial(to_json, exclude_defaults=True) if exclude_defaults else to_json
    # the models bound their nesting below the reader's usual bound, not below any bound
    quick = max_depth >= MAX_DEPTH

    def read(line: bytes, n: int) -> tuple[M, bytes]:
        canonical = None
        if quick:
            try:
                record = validate_json(line)
                canonical = dump(record)
            except Exception:  # whatever it is, the strict reader below says why
                canonical = None
        if canonical != line:
            record = _record(line, n, member, model, max_depth)
            if as_sent:
                canonical = line
            else:
                try:
                    canonical = to_json(record)
                except ValueError as e:  # a lone surrogate (\ud800) read from an escape: no UTF-8 holds it
                    raise BundleError(f"{member} line {n}: holds text that is not valid Unicode "
                                      f"({str(e).splitlines()[0][:120]})") from None
        return record, canonical

    return read


MAX_TAILS = 4096  # distinct tails iter_canonical_heads keeps proved, per member
MAX_TAIL_BYTES = 1024  # a longer tail (a written rationale, a demonstration) is read whole


@cache
def head_model(model: type[BaseModel], split: str) -> type[BaseModel]:
    """A model of `model`'s fields before `split`, each as `model` declares it."""
    names = list(model.model_fields)
    fields: dict[str, Any] = {k: (model.model_fields[k].annotation, copy(model.model_fields[k]))
                              for k in names[:names.index(split)]}
    return create_model(f"{model.__name__}Head", __config__=model.model_config, **fields)


def iter_canonical_heads(data: bytes | Iterable[bytes], model: type[M], member: str, *, split: str,
                         max_line: int = MAX_LINE_BYTES, max_depth: int = MAX_DEPTH) -> Iterator[tuple[int, Any, bytes]]:
    """iter_canonical's lines, canonical JSON and refusals, with records that may be read only
    as far as their head: the fields before `split`, in head_model(model, split). Every field
    is still validated, at half the cost where lines repeat what follows their head (a label's
    order shown, answer, flags and versions repeat across a bundle; its item and times do not).

    Each field is serialised on its own, so a canonical line is its head's canonical JSON
    followed by its tail's (`,"split":` and what follows; no string of canonical JSON holds
    `,"`, so the first is the tail's). Once a line is proved canonical whole (as iter_canonical
    proves it), a line that ends with the same tail is proved by its head alone: read by the
    head model and serialised back to the same bytes. Any other line is read whole, its record
    then `model`'s. Only for the models iter_canonical is for whose validators that read several
    fields read none before `split` (Label's reads its answer and skip reason)."""
    head_of = head_model(model, split)
    validate_head = head_of.__pydantic_validator__.validate_json
    dump_head = head_of.__pydantic_serializer__.to_json
    read = _line_reader(model, member, max_depth, as_sent=False, exclude_defaults=False)
    marker = f',"{split}":'.encode()
    # proved under the usual bound only, as iter_canonical's own shortcut
    proved: set[bytes] | None = set() if max_depth >= MAX_DEPTH else None
    for n, line in iter_lines(data, member, max_line):
        at = line.find(marker)
        tail = line[at:] if proved is not None and at > 0 and len(line) - at <= MAX_TAIL_BYTES else None
        if tail is not None and tail in proved:
            head = line[:at] + b"}"
            try:
                record = validate_head(head)
                if dump_head(record) == head:
                    yield n, record, line
                    continue
            except Exception:  # read whole below, which says why
                pass
        record, canonical = read(line, n)
        if tail is not None and canonical == line and len(proved) < MAX_TAILS:
            proved.add(tail)
        yield n, record, canonical


def parse_jsonl(data: bytes | Iterable[bytes], model: type[M], member: str) -> list[M]:
    return [record for _, record, _ in iter_jsonl(data, model, member)]


def iter_jsonl_dicts(data: bytes | Iterable[bytes], member: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for n, line in iter_lines(data, member):
        yield n, record_dict(line, n, member)
