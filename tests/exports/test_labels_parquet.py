"""labels-long as Parquet partitioned by round: read by DuckDB with plain SQL, it gives Annotary's own figures."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from annotary.ops import export as export_ops
from annotary.ops.assign import assign_round
from annotary.ops.export import export_dataset
from annotary.ops.project import open_project
from annotary.ops.quality import quality_report
from annotary.ops.raters import import_rater_labels
from tests.coordinator.conftest import pick
from tests.exports.conftest import add_decision, add_label, pw

duckdb = pytest.importorskip("duckdb")
pq = pytest.importorskip("pyarrow.parquet")

# The README's query: the same SQL runs on Spark (get_json_object is Spark's; DuckDB gets it as a
# macro). Current human labels of normal items; a pairwise answer's rated value is its strength
# on a strength scale, else its choice; percent agreement is, per item, the share of rater pairs
# giving the same value, averaged over the items rated at least twice.
RATINGS = """
    CREATE OR REPLACE TEMP VIEW ratings AS
    SELECT round, question_id, item_id, rater,
           coalesce(get_json_object(answer, '$.strength'), get_json_object(answer, '$.choice')) AS value
    FROM labels
    WHERE kind = 'label' AND current AND human AND item_kind = 'normal' AND answer IS NOT NULL
"""
AGREEMENT = """
    WITH pairs AS (
        SELECT a.question_id, a.item_id, avg(CASE WHEN a.value = b.value THEN 1.0 ELSE 0.0 END) AS agree
        FROM ratings a JOIN ratings b
          ON a.question_id = b.question_id AND a.item_id = b.item_id AND a.rater < b.rater
        GROUP BY a.question_id, a.item_id)
    SELECT c.question_id, c.labels, p.percent_agreement
    FROM (SELECT question_id, count(*) AS labels FROM ratings GROUP BY question_id) c
    LEFT JOIN (SELECT question_id, avg(agree) AS percent_agreement FROM pairs GROUP BY question_id) p
      ON c.question_id = p.question_id
    ORDER BY c.question_id
"""
BY_ROUND = """
    SELECT a.round, a.question_id, avg(agree) AS percent_agreement FROM (
        SELECT a.round, a.question_id, a.item_id, avg(CASE WHEN a.value = b.value THEN 1.0 ELSE 0.0 END) AS agree
        FROM ratings a JOIN ratings b ON a.round = b.round AND a.question_id = b.question_id
          AND a.item_id = b.item_id AND a.rater < b.rater
        WHERE a.round > 0
        GROUP BY a.round, a.question_id, a.item_id) a
    GROUP BY a.round, a.question_id ORDER BY a.round, a.question_id
"""


@pytest.fixture(scope="module")
def rounds(world, merged_master, tmp_path_factory):  # noqa: F811
    """The merged world, then a second round that gives every item its third annotator (their
    labels stored as a merge stores them), an LLM judge's labels (outside any round) and a
    reviewer's decision."""
    root = tmp_path_factory.mktemp("rounds")
    path = root / "project.db"
    shutil.copy(merged_master, path)
    store = open_project(path)
    second = assign_round(store, identity=world.coordinator, out_dir=root / "round2", overlap=3)
    assert second.round == 2 and second.items
    pending = store.tuples("SELECT a.item_id, a.annotator FROM assignments a JOIN items i ON i.project_id="
                           "a.project_id AND i.id=a.item_id WHERE a.round=2 AND i.kind='normal'")
    for n, (iid, who) in enumerate(pending):
        add_label(store, iid, "helpful", who, answer=pw(pick(n, iid, "AAB")))
        add_label(store, iid, "harmless", who, answer=pw({"A": "A", "T": "tie"}[pick(n, iid + "h", "AT")]))
    judged = root / "judge.jsonl"
    iids = [r[0] for r in store.tuples("SELECT id FROM items WHERE kind='normal' ORDER BY seq")]
    judged.write_text("".join(json.dumps({"item_id": i, "question_id": "helpful", "answer": pw("A")}) + "\n"
                              for i in iids))
    import_rater_labels(store, rater="judge", path=judged, human=False)
    add_decision(store, iids[0], "helpful", pw("B"), "r2 follows the instruction")
    store.close()
    return path


@pytest.fixture
def project(rounds):
    store = open_project(rounds)
    yield store
    store.close()


def read(out):
    con = duckdb.connect()
    con.execute("CREATE MACRO get_json_object(j, p) AS json_extract_string(j, p)")
    con.execute(f"CREATE VIEW labels AS SELECT * FROM read_parquet('{out}/data/*/*.parquet', hive_partitioning = true)")
    con.execute(RATINGS)
    return con


def test_partitioned_by_round_with_each_files_hash(project, tmp_path):
    out = tmp_path / "labels"
    r = export_dataset(project, out=out, fmt="labels-long", parquet=True)
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    parts = ["data/round=0/part-0.parquet", "data/round=1/part-0.parquet", "data/round=2/part-0.parquet"]
    assert names == sorted(["README.md", "manifest.json", *parts])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["partitioned_by"] == "round" and manifest["data_file"] == "data"
    assert set(manifest["files"]) == {*parts, "README.md"}
    for name, f in manifest["files"].items():
        data = (out / name).read_bytes()
        assert f == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    # the round is the folder's name, not a column of the files (Hive-style)
    assert "round" not in pq.read_schema(out / parts[1]).names
    con = read(out)
    assert con.execute("SELECT count(*) FROM labels").fetchone()[0] == r.rows == sum(
        pq.ParquetFile(out / p).metadata.num_rows for p in parts)
    stored = project.one("SELECT (SELECT count(*) FROM labels WHERE retracted=0) + (SELECT count(*) FROM decisions)")
    assert r.rows == stored[0]
    # round 0: the judge's labels and the decision; rounds 1 and 2: the annotators' assignments
    outside = con.execute("SELECT kind, human, count(*) FROM labels WHERE round = 0 GROUP BY ALL ORDER BY ALL").fetchall()
    normal = project.one("SELECT count(*) FROM items WHERE kind='normal'")[0]
    assert outside == [("decision", True, 1), ("label", False, normal)]
    assigned = dict(project.tuples("SELECT round, count(*) FROM assignments GROUP BY round"))
    for rnd in (1, 2):
        who = con.execute(f"SELECT DISTINCT item_id, rater FROM labels WHERE round = {rnd} AND kind = 'label'").fetchall()
        assert len(who) == assigned[rnd]
        placed = {(i, a) for i, a in project.tuples("SELECT item_id, annotator FROM assignments WHERE round=?", (rnd,))}
        assert set(who) == placed


def test_sql_gives_annotarys_label_counts_and_percent_agreement(project, tmp_path):
    out = tmp_path / "labels"
    export_dataset(project, out=out, fmt="labels-long", parquet=True)
    con = read(out)
    report = quality_report(project)
    figures = {s.question_id: (s.ratings, s.percent_agreement) for s in report.variables if s.ratings}
    rows = con.execute(AGREEMENT).fetchall()
    assert [q for q, *_ in rows] == sorted(figures)
    for question, labels, agreement in rows:
        ratings, percent = figures[question]
        assert labels == ratings, question
        assert agreement == pytest.approx(percent, abs=1e-12), question
    assert {q for q, *_ in rows} >= {"helpful", "harmless"}
    # per round, as the report's by-round figures (labels outside any round are in none)
    by_round = {(int(g.group), g.question_id): g.percent_agreement for g in report.by_round
                if g.percent_agreement is not None}  # round 2 gave each item one more annotator: no pairs
    assert {rnd for rnd, _ in by_round} == {1}
    rows = con.execute(BY_ROUND).fetchall()
    assert {(r, q) for r, q, _ in rows} == set(by_round)
    for rnd, question, agreement in rows:
        assert agreement == pytest.approx(by_round[(rnd, question)], abs=1e-12)


def test_rows_match_the_json_lines_export(project, tmp_path):
    export_dataset(project, out=tmp_path / "j", fmt="labels-long")
    export_dataset(project, out=tmp_path / "p", fmt="labels-long", parquet=True)
    lines = [json.loads(x) for x in (tmp_path / "j" / "train.jsonl").read_text().splitlines()]
    con = read(tmp_path / "p")
    cols = list(lines[0])
    parquet = con.execute(f"SELECT {', '.join(cols)} FROM labels").fetchall()

    def key(row):
        return json.dumps(row, sort_keys=True, default=str)

    assert sorted(map(key, parquet)) == sorted(key([x[c] for c in cols]) for x in lines)
    current = [x for x in lines if x["current"] and x["kind"] == "label"]
    assert len({(x["item_id"], x["question_id"], x["rater"]) for x in current}) == len(current)


def test_written_a_row_group_at_a_time(project, tmp_path, monkeypatch):
    """Each round's rows are kept only until a row group's worth is there, whatever their order."""
    monkeypatch.setattr(export_ops, "ROW_GROUP", 7)
    monkeypatch.setattr(export_ops, "CHUNK", 5)
    out = tmp_path / "small"
    export_dataset(project, out=out, fmt="labels-long", parquet=True)
    whole = tmp_path / "whole"
    monkeypatch.undo()
    export_dataset(project, out=whole, fmt="labels-long", parquet=True)
    for part in sorted((out / "data").glob("*/part-0.parquet")):
        meta = pq.ParquetFile(part).metadata
        sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        assert all(n == 7 for n in sizes[:-1]) and 0 < sizes[-1] <= 7
        same = whole / part.relative_to(out)
        assert pq.read_table(part).to_pylist() == pq.read_table(same).to_pylist()
    assert max(pq.ParquetFile(p).metadata.num_row_groups for p in (out / "data").glob("*/*.parquet")) > 1


def test_card_says_how_to_read_it(project, tmp_path, hf):
    out = tmp_path / "labels"
    export_dataset(project, out=out, fmt="labels-long", question="helpful", parquet=True)
    card = (out / "README.md").read_text()
    assert "path: data/round=*/part-0.parquet" in card and "hive_partitioning" in card
    assert "spark.read.parquet" in card
    ds = hf.load_dataset("parquet", data_files=str(out / "data/round=*/part-0.parquet"), split="train",
                         cache_dir=str(tmp_path / "hf"))
    assert ds.num_rows == json.loads((out / "manifest.json").read_text())["rows"]
    assert set(ds.unique("question_id")) == {"helpful"}
