"""JSON Lines records inside bundles: compact writing, and line-numbered errors when reading."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from annotary.core.errors import BundleError, describe_validation

M = TypeVar("M", bound=BaseModel)
BOM = b"\xef\xbb\xbf"


def dump_jsonl(records: Iterable[BaseModel | dict[str, Any]]) -> bytes:
    lines: list[bytes] = []
    for r in records:
        if isinstance(r, BaseModel):
            lines.append(r.model_dump_json().encode("utf-8"))
        else:
            lines.append(json.dumps(r, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8"))
    return b"".join(line + b"\n" for line in lines)


def _lines(data: bytes, member: str) -> Iterator[tuple[int, bytes]]:
    """(line number, line) for every non-blank line, after checking the whole text is UTF-8."""
    # tools on Windows write a BOM; it is not part of the first record
    if data.startswith(BOM):
        data = data[len(BOM) :]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BundleError(f"{member}: not valid UTF-8 (byte {e.start})") from None
    for n, line in enumerate(data.split(b"\n"), start=1):
        if line.strip():
            yield n, line


def _json_error(err: ValidationError) -> str | None:
    first = err.errors()[0]
    if first["type"] != "json_invalid":
        return None
    reason = str(first.get("ctx", {}).get("error") or first["msg"])
    # every record is one line, so pydantic's "line 1" only confuses next to our line number
    return reason.replace(" at line 1 column ", " at column ")


def iter_jsonl(data: bytes, model: type[M], member: str) -> Iterator[tuple[int, M, bytes]]:
    """(line number, validated record, the line's bytes) for every record."""
    # parsing and validating in one call (pydantic-core) beats json.loads + model_validate
    validate = model.model_validate_json
    for n, line in _lines(data, member):
        try:
            yield n, validate(line), line
        except ValidationError as e:
            bad_json = _json_error(e)
            if bad_json is not None:
                raise BundleError(f"{member} line {n}: not valid JSON ({bad_json})") from None
            raise BundleError(f"{member} line {n}: {describe_validation(e)}") from None


def parse_jsonl(data: bytes, model: type[M], member: str) -> list[M]:
    return [record for _, record, _ in iter_jsonl(data, model, member)]


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def iter_jsonl_dicts(data: bytes, member: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for n, line in _lines(data, member):
        try:
            value = json.loads(line, parse_constant=_no_constant)
        except ValueError as e:
            raise BundleError(f"{member} line {n}: not valid JSON ({e})") from None
        if not isinstance(value, dict):
            raise BundleError(f"{member} line {n}: not a JSON object")
        yield n, value
