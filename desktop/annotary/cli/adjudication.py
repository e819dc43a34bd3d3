"""`annotary adjudication …`: send conflicts to a reviewer (decisions come back via `merge`)."""

from __future__ import annotations

import click

from annotary.cli.main import cli, emit, encryption_options
from annotary.ops import identity as identity_ops
from annotary.ops.adjudication import create_adjudication, set_show_names
from annotary.ops.project import open_project


@cli.group()
def adjudication():
    """Conflicts to reviewers: a signed adjudication bundle out, a decisions bundle back.

    \b
    Example:
      annotary adjudication create project.db --reviewer rev.card.json --out review.annotary
      annotary merge project.db review-decisions.annotary
    """


@adjudication.command("create")
@click.argument("project", type=click.Path(dir_okay=False))
@click.option("--reviewer", required=True, help="The reviewer's card file or key id (in the roster).")
@click.option("--include", type=click.Choice(["conflicts", "all"]), default="conflicts", show_default=True)
@click.option("--audit-sample", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of agreed cases to send for audit too.")
@click.option("--seed", type=int, default=None, help="Make the audit sample repeatable.")
@click.option("--out", required=True, type=click.Path(dir_okay=False))
@encryption_options("the reviewer")
@click.option("--json", "as_json", is_flag=True)
def adjudication_create(project, reviewer, include, audit_sample, seed, out, as_json, encryption):
    """Write a signed bundle of the conflicted cases, with every annotator's answer, rationale,
    confidence and time, the consensus attempt and the agreement figures.

    \b
    Example:
      annotary adjudication create project.db --reviewer 3f2a9c1e0b7d4a65 --audit-sample 0.05 --out r1.annotary
    """
    change = create_adjudication(open_project(project), identity=identity_ops.require_identity(),
                                 reviewer=reviewer, out=out, include=include,
                                 audit_sample=audit_sample, seed=seed, encryption=encryption)
    emit({"out": out, **change.counts}, as_json, change.message)


@adjudication.command("names")
@click.argument("project", type=click.Path(dir_okay=False))
@click.option("--show/--pseudonymise", default=False,
              help="Reviewers see annotators' names, or 'Annotator 1', 'Annotator 2'… (the default).")
def adjudication_names(project, show):
    """Choose whether reviewers see annotators' names.

    \b
    Example:
      annotary adjudication names project.db --show
    """
    click.echo(set_show_names(open_project(project), show=show).message)
