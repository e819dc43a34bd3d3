"""Coordinator commands: project, roster, assignment, merge, outside labels, agreement and status."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from annotary.cli.main import (
    KEEP_SOURCE,
    RESPONSES,
    RESPONSES_HELP,
    SKIP_INVALID,
    cli,
    emit,
    encryption_options,
    identity,
    rejected_file,
    with_hint,
)
from annotary.ops import identity as identity_ops
from annotary.ops.assign import assign_round
from annotary.ops.merge import merge_results
from annotary.ops.project import create_project, open_project, set_guidelines
from annotary.ops.quality import Options, csv_tables, project_status, quality_report, status_csv
from annotary.ops.raters import import_rater_labels
from annotary.ops.roster import add_members, export_card, members, parse_rate, remove_member
from annotary.ops.simulate import simulate

PROJECT = click.argument("project", type=click.Path(dir_okay=False))
JSON = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def fmt(v, digits: int = 2) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def table(headers: list[str], rows: list[list]) -> str:
    """Aligned columns; a column with no value in any row is left out."""
    keep = [i for i in range(len(headers)) if any(r[i] is not None for r in rows)] if rows else []
    headers, rows = [headers[i] for i in keep], [[r[i] for i in keep] for r in rows]
    cells = [headers, *[[fmt(v) for v in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells)


def span(low: float | None, high: float | None) -> str | None:
    """A 95 % interval as text, None where there is none (the column is then left out)."""
    return None if low is None or high is None else f"{fmt(low)}..{fmt(high)}"


def write_csv(directory: str, tables: dict[str, str]) -> None:
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in tables.items():
        (out / name).write_text(text, encoding="utf-8")


# -- identity card ----------------------------------------------------------------------------
@identity.command("export")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Card file to write.")
def identity_export(out):
    """Write your public identity card, signed by your key, for a coordinator's roster.

    \b
    Example:
      annotary identity export --out ada.card.json
    """
    click.echo(export_card(identity=identity_ops.require_identity(), out=out).message)


# -- project ----------------------------------------------------------------------------------
@cli.group()
def project():
    """A coordinator's project file: items, roster, rounds and the labels merged back.

    \b
    Example:
      annotary project create --spec spec.toml --items pairs.jsonl --out project.db
    """


@project.command("create")
@click.option("--spec", "spec", required=True, type=click.Path(dir_okay=False), help="Spec (TOML or JSON).")
@click.option("--items", "items", required=True, multiple=True, type=click.Path(dir_okay=False),
              help="Dataset file (JSONL/JSON/CSV, optionally .gz, or Parquet); repeat for several.")
@click.option("--format", "fmt", default="auto", show_default=True, help="Record shape, or auto.")
@click.option("--guidelines", type=click.Path(dir_okay=False),
              help="Guidelines (Markdown); default: guidelines.md beside the spec.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Project file to write.")
@click.option("--force", is_flag=True, help="Replace an existing project file.")
@RESPONSES
@KEEP_SOURCE
@SKIP_INVALID
@JSON
def project_create(spec, items, fmt, guidelines, out, force, responses, keep_source_responses, skip_invalid,
                   as_json):
    """Create a project from a spec and datasets; every item is checked against the spec.

    Items of kind "gold" (with their expert answers) are gold items; kind "calibration" ones are
    shown with feedback. Your identity becomes the project's coordinator key.

    \b
    Example:
      annotary project create --spec spec.toml --items llmbar.json --out project.db
      annotary project create --spec rubric.toml --items healthbench.jsonl \\
          --responses model-a.jsonl --skip-invalid --out project.db
    """
    change = with_hint(lambda: create_project(
        spec_path=spec, items_paths=list(items), out=out, fmt=fmt, identity=identity_ops.require_identity(),
        guidelines_path=guidelines, force=force, skip_invalid=skip_invalid, responses=list(responses),
        keep_source_responses=keep_source_responses), out)
    emit({"out": out, "project_id": change.project_id, **change.counts, **rejected_file(change, out)}, as_json,
         change.message)


project_create.help += RESPONSES_HELP


@project.command("assign")
@PROJECT
@click.option("--overlap", type=click.IntRange(1), help="Annotators per item (with --adaptive or --triage: at most).")
@click.option("--gold", "gold", multiple=True, type=click.Path(dir_okay=False),
              help="Gold items (with answers) to add and hide among the others; repeatable.")
@click.option("--gold-fraction", type=float, help="Gold share of each load (default: all gold items).")
@click.option("--calibration", multiple=True, type=click.Path(dir_okay=False),
              help="Calibration items (answers and explanation shown after submitting); repeatable.")
@click.option("--round", "round_", type=click.IntRange(1), help="Round number (default: the next).")
@click.option("--adaptive", is_flag=True, help="Send only disputed items, each to one more annotator.")
@click.option("--weak-consensus", "weak_support", type=float, metavar="SHARE",
              help="With --adaptive: an agreed item whose support is below SHARE counts as disputed "
                   "(default 0.75).")
@click.option("--feedback", is_flag=True,
              help="Also send each annotator the items a reviewer decided against them (shown after labelling).")
@click.option("--triage", metavar="RATER",
              help="Send a second person only where RATER (a non-human rater) disagrees with the first, "
                   "has no answer or is unsure; a third only where two people split.")
@click.option("--min-rater-confidence", type=float, metavar="P",
              help="With --triage: a rater answer below this confidence (0-1) counts as unsure.")
@click.option("--competence", is_flag=True,
              help="Send one more person only where people split, or where the Dawid-Skene posterior of "
                   "the people's answer is below --min-posterior (competence-guided routing).")
@click.option("--min-posterior", type=float, metavar="P",
              help="With --competence: the posterior (0-1) an answer needs to be settled [default: 0.9].")
@click.option("--tolerance", type=click.FloatRange(0), default=0.0, show_default=True,
              help="With --triage or --competence: scoring answers this many scale points apart still agree.")
@click.option("--format", "fmt", default="auto", show_default=True, help="Record shape of --gold/--calibration.")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False), help="Folder for the bundles.")
@encryption_options("each bundle's annotator")
@JSON
def project_assign(project, overlap, gold, gold_fraction, calibration, round_, adaptive, weak_support, feedback,
                   triage, min_rater_confidence, competence, min_posterior, tolerance, fmt, out_dir, as_json,
                   encryption):
    """Assign a round and write one signed task bundle per annotator.

    Each item goes to OVERLAP distinct annotators of the roster, least loaded first; items keep
    their annotators of earlier rounds, so a higher overlap later tops them up. Gold items look
    like any other item in the bundles; no bundle holds anyone's labels.

    With --triage RATER each round sends at most one more person per item: first to every item no one has
    labelled, then a second only where RATER's imported labels (`labels import --rater`) disagree
    with the first answer, are missing, or are below --min-rater-confidence, then one more where
    people split, up to OVERLAP people (default 3). Pairwise choices, ranking top choices, scoring
    axes (within --tolerance points) and rubric marks are compared; every reason is counted.

    With --competence each round sends one more person to an item where people split, where the
    Dawid-Skene posterior of the people's answer (its weakest part) is below --min-posterior, or
    where no one who answered has an estimate (a person needs 5 items shared with another). The
    estimates (`agreement --weighted` shows them) only route items: exports keep the human answers.

    \b
    Example:
      annotary project assign project.db --overlap 2 --gold-fraction 0.05 --out-dir round1/
      annotary project assign project.db --adaptive --feedback --out-dir round2/
      annotary project assign project.db --adaptive --weak-consensus 0.9 --out-dir round3/
      annotary labels import project.db --rater gpt35 gpt35.jsonl
      annotary project assign project.db --triage gpt35 --out-dir round1/
      annotary project assign project.db --triage gpt35 --min-rater-confidence 0.7 --out-dir round2/
      annotary project assign project.db --competence --min-posterior 0.95 --out-dir round3/
    """
    store = open_project(project)
    r = assign_round(store, identity=identity_ops.require_identity(), out_dir=out_dir, overlap=overlap,
                     round=round_, gold_paths=list(gold), gold_fraction=gold_fraction,
                     calibration_paths=list(calibration), adaptive=adaptive, fmt=fmt,
                     feedback=feedback, triage=triage, min_rater_confidence=min_rater_confidence,
                     tolerance=tolerance, weak_support=weak_support, competence=competence,
                     min_posterior=min_posterior, encryption=encryption)
    data = {"round": r.round, "items": r.items, "added": r.added, "notes": r.notes,
            "bundles": [{"annotator": b.annotator, "name": b.name, "path": str(b.path), "normal": b.normal,
                         "gold": b.gold, "calibration": b.calibration} for b in r.bundles]}
    if triage is not None or competence:
        data["reasons"] = r.reasons
    lines = [r.message, *(f"  {line}" for line in r.reason_lines), *(f"  {b.path}" for b in r.bundles),
             *(f"note: {n}" for n in r.notes)]
    emit(data, as_json, "\n".join(lines))


@project.command("guidelines")
@PROJECT
@click.argument("guidelines", type=click.Path(dir_okay=False))
@click.option("--version", "version", required=True, help="The new guidelines version, e.g. 2.")
def project_guidelines(project, guidelines, version):
    """Replace the guidelines; the next round's bundles carry them and labels record the version.

    \b
    Example:
      annotary project guidelines project.db guidelines-v2.md --version 2
    """
    click.echo(set_guidelines(open_project(project), guidelines_path=guidelines, version=version).message)


# -- roster -----------------------------------------------------------------------------------
@cli.group()
def roster():
    """Who receives tasks and whose signed results are accepted.

    \b
    Example:
      annotary roster add project.db ada.card.json bo.card.json --rate 60/h
    """


@roster.command("add")
@PROJECT
@click.argument("cards", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--rate", help="Cost per hour on task, e.g. 60/h or 1/min (for the cost figures).")
def roster_add(project, cards, rate):
    """Add people from their self-signed cards (`annotary identity export`); a bad card is refused.

    \b
    Example:
      annotary roster add project.db ada.card.json --rate 60/h
    """
    store = open_project(project)
    click.echo(add_members(store, cards=list(cards), rate_per_hour=parse_rate(rate)).message)


@roster.command("list")
@PROJECT
@JSON
def roster_list(project, as_json):
    """List the roster: name, role, key id, fingerprint, rate, removed or not.

    \b
    Example:
      annotary roster list project.db --json
    """
    people = members(open_project(project))
    data = [{"key_id": m.key_id, "name": m.name, "role": m.role, "fingerprint": m.fingerprint,
             "rate_per_hour": m.rate_per_hour, "active": m.active, "added_at": m.added_at,
             "removed_at": m.removed_at} for m in people]
    text = table(["key id", "name", "role", "rate/h", "status", "fingerprint"],
                 [[m.key_id, m.name, m.role, m.rate_per_hour, "active" if m.active else "removed",
                   m.fingerprint] for m in people]) if people else "the roster is empty"
    emit(data, as_json, text)


@roster.command("remove")
@PROJECT
@click.argument("key")
def roster_remove(project, key):
    """Remove someone (by key id, its first digits, or name); their merged labels stay.

    \b
    Example:
      annotary roster remove project.db 3f2a9c
    """
    click.echo(remove_member(open_project(project), key=key).message)


# -- merge and outside labels -----------------------------------------------------------------
@cli.command("merge")
@PROJECT
@click.argument("bundles", nargs=-1, required=True, type=click.Path(dir_okay=False))
@JSON
def merge(project, bundles, as_json):
    """Merge signed result bundles: one line per bundle; exit 2 if any was refused.

    Only keys of the roster, only items assigned to them; merging the same bundle twice changes
    nothing, and an older revision never replaces a newer one.

    \b
    Example:
      annotary merge project.db results/*.annotary
    """
    store = open_project(project)
    reports = merge_results(store, paths=list(bundles))
    if as_json:
        emit([r.as_dict() for r in reports], True, "")
    else:
        for r in reports:
            click.echo(("error: " if r.refusal else "") + " ".join(r.message.splitlines()),
                       err=bool(r.refusal))
    if any(r.refusal for r in reports):
        sys.exit(2)


@cli.group()
def labels():
    """Labels from outside the roster.

    \b
    Example:
      annotary labels import project.db --rater gpt-judge judge.jsonl
    """


@labels.command("import")
@PROJECT
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--rater", required=True, help="The rater's name (letters, digits, . _ -).")
@click.option("--human", is_flag=True,
              help="The labels are people's (e.g. a dataset's annotators): they count as human.")
def labels_import(project, file, rater, human):
    """Import a rater's labels: JSON Lines of item_id, question_id, answer, optional confidence (0-1).

    A rater is clearly marked and never counts toward human consensus; its agreement with the
    humans is reported, and an adaptive round sends items it disputes first.

    \b
    Example:
      annotary labels import project.db --rater gpt-judge judge.jsonl
    """
    click.echo(import_rater_labels(open_project(project), rater=rater, path=file, human=human).message)


# -- quality ----------------------------------------------------------------------------------
@cli.command("agreement")
@PROJECT
@click.option("--question", help="Only this question.")
@click.option("--min-share", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Share of ratings a consensus needs.")
@click.option("--weighted", is_flag=True, help="Weight categorical consensus by Dawid-Skene reliability.")
@click.option("--csv-dir", type=click.Path(file_okay=False), help="Also write every table as CSV here.")
@JSON
def agreement(project, question, min_share, weighted, csv_dir, as_json):
    """Agreement per question, figures per annotator, consensus and conflicts.

    Bands: kappa/alpha >= 0.7 good, 0.4-0.7 watch, below 0.4 flagged.

    \b
    Example:
      annotary agreement project.db --question helpful --json
    """
    report = quality_report(open_project(project), question=question,
                            options=Options(min_share=min_share, weighted=weighted))
    if csv_dir:
        write_csv(csv_dir, csv_tables(report))
    emit(report.as_dict(), as_json, agreement_text(report))


def agreement_text(r) -> str:
    names = r.names
    out = [f"{r.project_name} ({r.project_id}): {len(r.humans)} annotators; items {r.items['normal']} normal, "
           f"{r.items['gold']} gold, {r.items['calibration']} calibration"]
    if r.design.adaptive:
        out.append(f"note: {r.design.describe()}")
    out.append(table(["question.variable", "level", "units", "%agree", "chance", "fleiss", "fleiss 95%", "alpha",
                      "alpha 95%", "W", "tau", "band"],
                     [[s.key, s.level, s.pairable, s.percent_agreement, s.expected_agreement, s.fleiss_kappa,
                       span(s.fleiss_kappa_low, s.fleiss_kappa_high), s.alpha, span(s.alpha_low, s.alpha_high),
                       s.kendall_w, s.mean_tau, s.band] for s in r.variables]))
    out.append("  chance: agreement expected by chance · 95%: bootstrap intervals (alpha: Hayes & "
               "Krippendorff 2007; Fleiss: units resampled), seeded · standard errors in --json")
    pairs = [[s.key, f"{names[p.a]} x {names[p.b]}", p.n, p.kappa, p.kappa_linear, p.kappa_quadratic,
              span(*p.interval), p.tau] for s in r.variables for p in s.pairs if p.n]
    if pairs:
        out += ["", "pairs:", table(["variable", "pair", "n", "kappa", "linear", "quadratic", "95%", "tau"], pairs),
                "  95%: the interval of the pair's headline kappa (quadratic on scales), from its "
                "standard error (Fleiss, Cohen & Everitt 1969)"]
    if r.annotators:
        out += ["", "annotators:", table(
            ["name", "key", "labeled", "agree", "w/cons", "gold", "calib", "A-share", "med s", "items/h",
             "revised", "cost", "DS", "band"],
            [[a.name, a.annotator[:12], a.labeled, a.agreement_others, a.agreement_consensus, a.gold_accuracy,
              a.calibration_accuracy, a.position_a_share, a.median_seconds, a.items_per_hour, a.revision_rate,
              a.cost, a.competence, a.band] for a in r.annotators]),
            "  agree: mean pairwise kappa with the others · w/cons: share matching an agreed consensus · "
            "calib: calibration accuracy · A-share: share of A/B picks for the left response (0.5 = no "
            "position bias) · med s: median seconds per item · revised: share submitted more than once · "
            "DS: Dawid-Skene reliability"]
    counts = r.counts()
    decided = f", {counts['decided']} decided by a reviewer" if counts["decided"] else ""
    out += ["", f"consensus: {counts['agreed']} agreed, {counts['conflict']} conflicts undecided{decided}, "
                f"{counts['single']} with one rating so far"]
    if r.conflicts:
        shown = ", ".join(f"{c.item_id} ({c.question_id})" for c in r.conflicts[:10])
        out.append(f"  conflicts: {shown}" + (" ..." if len(r.conflicts) > 10 else ""))
    groups = r.by_round + r.by_guidelines
    if len({(g.by, g.group) for g in groups}) > 2:
        out += ["", "by round and guidelines version:", table(
            ["by", "group", "question.variable", "annotators", "units", "%agree", "alpha", "band"],
            [[g.by, g.group, f"{g.question_id}.{g.variable}", g.annotators, g.pairable, g.percent_agreement,
              g.alpha, g.band] for g in groups])]
    if r.raters:
        out += ["", "non-human raters (not in consensus):", table(
            ["rater", "labels", "agree w/ humans", "w/ consensus", "unsure"],
            [[x.rater, x.labels, x.agreement_humans, x.agreement_consensus, x.unsure] for x in r.raters])]
    return "\n".join(out)


@cli.command("status")
@PROJECT
@click.option("--csv-dir", type=click.Path(file_okay=False), help="Also write the tables as CSV here.")
@JSON
def status(project, csv_dir, as_json):
    """Progress per annotator and round.

    \b
    Example:
      annotary status project.db --json
    """
    s = project_status(open_project(project))
    if csv_dir:
        write_csv(csv_dir, status_csv(s))
    head = (f"{s.project_name} ({s.project_id}), round {s.round}, guidelines {s.guidelines_version}: items "
            f"{s.items['normal']} normal, {s.items['gold']} gold, {s.items['calibration']} calibration; "
            f"{s.labels} labels; {s.bundles} result bundles merged")
    lines = [head]
    if s.progress:
        lines.append(table(["round", "annotator", "key", "assigned", "labeled", "remaining"],
                           [[p["round"], p["name"], p["annotator"][:12], p["assigned"], p["labeled"],
                             p["remaining"]] for p in s.progress]))
    for x in s.raters:
        lines.append(f"{x['id']} ({'human' if x['human'] else 'non-human'}): {x['labels']} labels")
    emit(s.as_dict(), as_json, "\n".join(lines))


@cli.command("simulate")
@PROJECT
@click.option("--judge", metavar="RATER", help="Only the triage plan with this non-human rater.")
@click.option("--min-rater-confidence", type=click.FloatRange(0, 1), metavar="P",
              help="Triage: a rater answer below this confidence (0-1) counts as unsure.")
@click.option("--tolerance", type=click.FloatRange(0), default=0.0, show_default=True,
              help="Scoring answers this many scale points apart still agree.")
@click.option("--min-posterior", type=click.FloatRange(0, 1, min_open=True), default=0.9, show_default=True,
              metavar="P", help="Competence plan: the Dawid-Skene posterior an answer needs to be settled.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the order in which each item's people are asked, and of the competence plan's halves.")
@JSON
def simulate_command(project, judge, min_rater_confidence, tolerance, min_posterior, seed, as_json):
    """What the project's labels would have cost under each plan, against the fixed-3 majority.

    Replays the labels the project holds (people and non-human raters) on every item with at
    least three people's labels: fixed 1, 2 and 3 people per item; adaptive (two, a third where
    they split); triage with each rater (one person, a second where the rater disagrees, has no
    answer or is unsure, a third where two split); competence-guided (one person, one more while
    the Dawid-Skene posterior of the answer is below --min-posterior or people split, with each
    half's estimates fitted on the other half of the items). Per plan: human labels, their share of
    fixed-3, agreement with the fixed-3 majority, cost from the roster's rates and hours from the
    recorded times. Each item's people are asked in the order of their rounds, ties in a seeded
    order: the same seed gives the same figures. Nothing is written.

    \b
    Example:
      annotary simulate project.db
      annotary simulate project.db --judge gpt35 --json
    """
    sim = simulate(open_project(project), judge=judge, seed=seed, min_rater_confidence=min_rater_confidence,
                   tolerance=tolerance, min_posterior=min_posterior)
    head = (f"{sim.project_name} ({sim.project_id}): {sim.items} items replayed, seed {sim.seed}; reference: "
            f"the fixed-3 majority ({sim.items - sim.no_majority} items have one)")
    rows = [[p.plan, p.human_labels, f"{p.share:.1%}",
             None if p.agreement is None else f"{p.agreement:.1%} ({p.agreed}/{p.compared})",
             p.one_person, p.cost, p.hours] for p in sim.plans]
    text = "\n".join([head, table(["plan", "human labels", "share", "agreement", "one person", "cost", "hours"],
                                   rows),
                      *(f"note: {n}" for n in sim.notes)])
    emit(sim.as_dict(), as_json, text)
