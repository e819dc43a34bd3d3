"""`annotary dataset export`: training-ready datasets from a project's final answers."""

from __future__ import annotations

import click

from annotary.cli.main import cli, emit
from annotary.core.adjudication import PROVENANCE
from annotary.datasets.exports import FORMATS, TIES
from annotary.ops.export import export_dataset
from annotary.ops.project import open_project


@cli.group()
def dataset():
    """Training-ready datasets (TRL, SFT, Alpaca, HelpSteer, HealthBench) with their provenance.

    \b
    Example:
      annotary dataset export project.db --format trl-preference --question helpful --out prefs
    """


@dataset.command("export")
@click.argument("project", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", required=True, type=click.Choice(list(FORMATS)), help="What to write.")
@click.option("--out", required=True, type=click.Path(),
              help="Folder to write: train.jsonl (or train.parquet), README.md card, manifest.json.")
@click.option("--question", help="The question to export (needed when several fit the format).")
@click.option("--min-provenance", type=click.Choice(PROVENANCE),
              help="Keep answers at least this strong (gold > adjudicated > unanimous > majority > single+judge "
                   "> single; single+judge: one person, and a triage round's judge gave the same answer).")
@click.option("--min-agreement", type=click.FloatRange(0, 1),
              help="Keep answers whose share of annotators behind the consensus is at least this "
                   "(gold and adjudicated pass; a single rating does not).")
@click.option("--exclude-flagged", is_flag=True, help="Leave out items anyone flagged.")
@click.option("--ties", type=click.Choice(TIES), default="drop", show_default=True,
              help="keep: ties become rows marked tie=true (or both responses chosen).")
@click.option("--chat/--no-chat", default=None,
              help="Chat rows: prompts as role/content messages (a plain instruction as one user message), "
                   "responses as assistant messages. Default: chat when any item is a conversation.")
@click.option("--parquet", is_flag=True, help="Write Parquet instead of JSON Lines (needs pyarrow).")
@click.option("--force", is_flag=True, help="Replace an earlier export at --out.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def dataset_export(project, fmt, out, question, min_provenance, min_agreement, exclude_flagged, ties,
                   chat, parquet, force, as_json):
    """Export final answers (gold, adjudicated, unanimous, majority, single+judge, single) as a dataset folder.

    Formats: trl-preference (prompt/chosen/rejected, DPO and reward models), trl-kto
    (prompt/completion/label), ranking-pairs (every pair of each ranking), sft (messages),
    trl-prompt-completion (prompt/completion, SFT on the completion), alpaca
    (instruction/input/output, for LLaMA-Factory; TRL's SFTTrainer does not read it), attributes
    (per response and scoring axis), rubric (criteria, points, item and dataset score),
    labels-long (one row per label). Both-bad answers never give a chosen response; conflicts
    nobody decided are left out. Missing folders above --out are made.

    \b
    Example:
      annotary dataset export project.db --format trl-preference --question helpful \\
          --min-provenance majority --out prefs
      annotary dataset export project.db --format trl-prompt-completion --chat --out exports/sft
      annotary dataset export project.db --format labels-long --out labels --parquet
    """
    r = export_dataset(open_project(project), out=out, fmt=fmt, question=question,
                       min_provenance=min_provenance, min_agreement=min_agreement,
                       exclude_flagged=exclude_flagged, ties=ties, chat=chat, parquet=parquet, force=force)
    emit(r.as_dict(), as_json, r.message)
