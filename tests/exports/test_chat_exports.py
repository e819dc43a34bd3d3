"""Chat rows for plain-instruction items (--chat), the trl-prompt-completion format, and where alpaca goes."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from annotary.cli.main import cli
from annotary.core.errors import AnnotaryError
from annotary.ops.export import export_dataset
from tests.exports.conftest import copy_of


def card(out) -> str:
    return (out / "README.md").read_text(encoding="utf-8")


def manifest(out) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


# the pairs project: plain prompts "Question {i}?", p0 with the context "Use metric units."; overall:
# p0 A, p1 A, p4 B (adjudicated), p5 B, g0 gold A, p8 A (flagged) give chosen responses


@pytest.mark.parametrize("parquet", [False, True])
def test_chat_preference_rows_for_plain_instructions_load(pairs, pairs_master, load, tmp_path, parquet):
    plain = tmp_path / "plain"
    export_dataset(pairs, out=plain, fmt="trl-preference", question="overall", parquet=parquet)
    assert all(isinstance(p, str) for p in load(plain)["prompt"])
    assert "export with --chat for a chat model" in card(plain)

    out = tmp_path / "chat"
    r = export_dataset(pairs, out=out, fmt="trl-preference", question="overall", chat=True, parquet=parquet)
    ds = load(out)
    assert ds.num_rows == r.rows == 6
    rows = {row["prompt"][0]["content"]: row for row in ds}
    p0 = rows["Question p0?\n\nUse metric units."]  # the context joins the user's message
    assert p0["prompt"] == [{"role": "user", "content": "Question p0?\n\nUse metric units."}]
    assert p0["chosen"] == [{"role": "assistant", "content": pairs_master.texts["p0"][0]}]
    assert p0["rejected"] == [{"role": "assistant", "content": pairs_master.texts["p0"][1]}]
    p5 = rows["Question p5?"]
    assert p5["chosen"][0]["content"] == pairs_master.texts["p5"][1]  # B was preferred
    assert "chat rows (--chat)" in card(out) and manifest(out)["export"]["chat"] is True
    assert manifest(out)["columns"]["prompt"] == "messages"


def test_chat_kto_and_ranking_of_plain_items(pairs, load, tmp_path):
    out = tmp_path / "kto"
    export_dataset(pairs, out=out, fmt="trl-kto", question="overall", chat=True)
    ds = load(out)
    assert all(p[0]["role"] == "user" for p in ds["prompt"])
    assert all(c[0]["role"] == "assistant" and len(c) == 1 for c in ds["completion"])


@pytest.mark.parametrize("chat", [None, True])
def test_trl_prompt_completion_loads(pairs, pairs_master, load, tmp_path, chat):
    out = tmp_path / "pc"
    r = export_dataset(pairs, out=out, fmt="trl-prompt-completion", question="overall", chat=chat)
    ds = load(out)
    assert ds.column_names == ["prompt", "completion"] and ds.num_rows == r.rows == 6
    first = ds[0] if chat is None else {"prompt": ds[0]["prompt"][0]["content"],
                                        "completion": ds[0]["completion"][0]["content"]}
    assert first == {"prompt": "Question p0?\n\nUse metric units.", "completion": pairs_master.texts["p0"][0]}
    if chat:
        assert ds[0]["prompt"][0]["role"] == "user" and ds[0]["completion"][0]["role"] == "assistant"
    assert "TRL's prompt-completion form" in card(out)


def test_alpaca_is_for_llama_factory_and_says_so(pairs, load, tmp_path):
    out = tmp_path / "alpaca"
    export_dataset(pairs, out=out, fmt="alpaca", question="overall")
    assert load(out).column_names == ["instruction", "input", "output"]
    assert "TRL's SFTTrainer does not read this layout (KeyError: 'text')" in card(out)
    with pytest.raises(AnnotaryError, match="--chat does not apply to alpaca; sft and trl-prompt-completion"):
        export_dataset(pairs, out=tmp_path / "x", fmt="alpaca", question="overall", chat=True)


def test_conversations_make_chat_the_default_and_refuse_no_chat(merged_master, tmp_path):
    store = copy_of(merged_master, tmp_path)
    try:
        # the demo holds OpenAssistant conversations; sft is chat whatever is asked
        export_dataset(store, out=tmp_path / "sft", fmt="sft", question="helpful", chat=False)
        out = tmp_path / "kto"
        export_dataset(store, out=out, fmt="trl-kto", question="helpful")
        conversational = manifest(out)["columns"]["prompt"] == "messages"
        if conversational:
            assert "the default because some items are conversations" in card(out)
            with pytest.raises(AnnotaryError, match="--no-chat: .* are conversations"):
                export_dataset(store, out=tmp_path / "no", fmt="trl-kto", question="helpful", chat=False)
        else:
            assert "export with --chat" in card(out)
    finally:
        store.close()


def test_cli_chat_and_missing_folders(pairs_master, hf, tmp_path):
    out = tmp_path / "exports" / "round 1" / "pc"
    result = CliRunner().invoke(cli, ["dataset", "export", str(pairs_master.path), "--format",
                                      "trl-prompt-completion", "--question", "overall", "--chat", "--out", str(out),
                                      "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows"] == 6
    row = json.loads((out / "train.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert row["prompt"][0]["role"] == "user"
