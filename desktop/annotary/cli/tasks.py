"""`annotary tasks build`: a signed task bundle of items under a spec (coordinator to annotator)."""

from __future__ import annotations

import click

from annotary.cli.main import (
    KEEP_SOURCE,
    RESPONSES,
    RESPONSES_HELP,
    SKIP_INVALID,
    cli,
    emit,
    encryption_options,
    rejected_file,
    with_hint,
)
from annotary.datasets.readers import SHAPES


@cli.group()
def tasks():
    """Task bundles (coordinator to annotator).

    \b
    Example:
      annotary tasks build spec.toml items.jsonl --out round1.annotary
    """



@tasks.command("build")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.argument("items", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Bundle to write.")
@click.option("--guidelines", type=click.Path(dir_okay=False),
              help="Guidelines (Markdown); default: guidelines.md beside the spec.")
@click.option("--format", "fmt", default="auto", show_default=True,
              help="Record shape: auto, " + ", ".join(SHAPES) + ".")
@click.option("--round", "round_", default=1, show_default=True, type=click.IntRange(1))
@RESPONSES
@KEEP_SOURCE
@SKIP_INVALID
@encryption_options("the cards given with --encrypt-to")
@click.option("--json", "as_json", is_flag=True)
def tasks_build(spec, items, out, guidelines, fmt, round_, responses, keep_source_responses, skip_invalid,
                as_json, encryption):
    """Sign a task bundle of ITEMS (JSONL/JSON/CSV, optionally .gz, or Parquet) under SPEC (TOML or JSON).

    \b
    Example:
      annotary tasks build spec.toml pairs.jsonl --out round1.annotary
      annotary tasks build rubric.toml healthbench.jsonl --responses our-model.jsonl \\
          --skip-invalid --out round1.annotary
      annotary tasks build spec.toml pairs.jsonl --encrypt-to ada.card.json --out round1.annotary
    """
    from annotary.ops import identity as identity_ops
    from annotary.ops.tasks import build_task_bundle

    change = with_hint(lambda: build_task_bundle(
        spec_path=spec, items_paths=list(items), out=out, identity=identity_ops.require_identity(),
        guidelines_path=guidelines, fmt=fmt, round=round_, skip_invalid=skip_invalid,
        responses=list(responses), keep_source_responses=keep_source_responses, encryption=encryption), out)
    emit({"out": out, **change.counts, **rejected_file(change, out)}, as_json, change.message)


tasks_build.help += RESPONSES_HELP
