"""--json output is written a piece at a time and reads as the whole result."""

from __future__ import annotations

import json
from pathlib import Path

from annotary.cli.main import EMIT_PIECE, emit


def test_json_written_in_pieces_is_the_one_string_json_would_make(capsys):
    data = {"rows": [{"id": f"item-{n}", "value": {"choice": "A", "score": None, "nan": float("nan")},
                      "path": Path("a") / str(n)} for n in range(EMIT_PIECE // 40)], "é": "ünïcode"}
    emit(data, True, "the text")
    out = capsys.readouterr().out
    assert len(out) > 2 * EMIT_PIECE  # several pieces
    assert out == json.dumps(data, indent=2, default=str) + "\n"
    emit({}, False, "the text")
    assert capsys.readouterr().out == "the text\n"
