"""CSV and Parquet data files: one record per row, read into the same shapes as JSON Lines."""

from __future__ import annotations

import csv
import gzip
import json

import pytest

from annotary.core.errors import ItemError
from annotary.datasets.readers import read_items


def write_csv(path, rows, header=None):
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header or list(rows[0]))
        for r in rows:
            w.writerow(list(r.values()) if isinstance(r, dict) else r)
    return path


def test_a_csv_of_preference_pairs_reads_as_trl_preference(tmp_path):
    path = write_csv(tmp_path / "pairs.csv", [{"prompt": "Say hi, please", "chosen": "Hi!", "rejected": "Go away"},
                                              {"prompt": "2+2?", "chosen": "4", "rejected": "5"}])
    r = read_items(path)
    assert r.shape == "trl-preference" and len(r.items) == 2
    assert r.items[0].prompt == "Say hi, please"
    assert sorted(x.text for x in r.items[0].responses) == ["Go away", "Hi!"]
    gz = tmp_path / "pairs.csv.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert [i.id for i in read_items(gz).items] == [i.id for i in r.items]


def test_empty_cells_are_missing_and_json_cells_are_read(tmp_path):
    alpaca = write_csv(tmp_path / "a.csv", [{"instruction": "Translate", "input": "bonjour", "output": "hello"},
                                            {"instruction": "Write a poem", "input": "", "output": "roses"}])
    assert read_items(alpaca).shape == "alpaca"
    native = write_csv(tmp_path / "n.csv", [{"id": "x1", "prompt": "Hi", "responses": json.dumps(
        [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}])}])
    item = read_items(native).items[0]
    assert (item.id, [r.id for r in item.responses]) == ("x1", ["a", "b"])


def test_a_parquet_file_reads_like_json_lines(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = [{"id": "q1", "prompt": "Hi", "responses": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]},
            {"id": "q2", "prompt": "Yo", "responses": [{"id": "a", "text": "C"}, {"id": "b", "text": "D"}]}]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "items.parquet")
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    got = read_items(tmp_path / "items.parquet")
    assert got.shape == "item"
    assert [i.model_dump() for i in got.items] == [i.model_dump() for i in read_items(tmp_path / "items.jsonl").items]


@pytest.mark.parametrize("name,content,says", [
    ("empty.csv", "", "empty file"),
    ("header.csv", "prompt,chosen,rejected\n", "no rows under the header"),
    ("extra.csv", "prompt,chosen,rejected\na,b,c,d\n", "line 2: more cells than columns"),
    ("blank.csv", "prompt,,rejected\na,b,c\n", "name every column"),
    ("latin.csv", b"prompt,chosen,rejected\ncaf\xe9,a,b\n", "line 2: not valid UTF-8"),
    ("shape.csv", "question,answer\nhi,there\n", "unknown record shape"),
    ("bad.parquet", b"not parquet", "not a readable Parquet file"),
])
def test_a_bad_table_is_refused_in_one_line(tmp_path, name, content, says):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ItemError) as err:
        read_items(path)
    assert says in str(err.value) and "\n" not in str(err.value)
