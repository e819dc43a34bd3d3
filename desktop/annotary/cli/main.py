"""The `annotary` command line: one click group over ops."""

from __future__ import annotations

import functools
import importlib
import json
import os
import sqlite3
import sys
from pathlib import Path

import click

from annotary import __version__
from annotary.core.errors import AnnotaryError, Cancelled, IdentityError

# each command imports the ops it runs in its body: starting one loads only what it needs

ROLES = ("annotator", "reviewer", "coordinator")


class Group(click.Group):
    """Turns user errors into one line on stderr and exit code 2, and loads a command's module
    only when the command runs: `lazy` maps a command's name to the module that registers it on
    this group and the help text (its first paragraph) that the group's --help lists it with."""

    def __init__(self, *args, lazy: dict[str, tuple[str, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})
        self._listing = False

    def list_commands(self, ctx) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx, cmd_name):
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module, help_text = self.lazy[cmd_name]
            if self._listing:  # --help lists it from its help text, without importing its module
                return click.Command(cmd_name, help=help_text)
            importlib.import_module(module)  # its decorators add it to self.commands
        return self.commands.get(cmd_name)

    def format_commands(self, ctx, formatter) -> None:
        self._listing = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            self._listing = False

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except AnnotaryError as err:
            # one line whatever the message holds (a file name may contain a line break)
            click.echo("error: " + " ".join(str(err).splitlines()), err=True)
            ctx.exit(err.exit_code)
        except Cancelled:
            click.echo("cancelled; nothing was changed", err=True)
            ctx.exit(130)
        except sqlite3.Error as err:
            # a full disk or a failing drive: the transaction rolled back, the store is as it was
            click.echo(f"error: could not write the store ({' '.join(str(err).split())}); nothing was "
                       "changed: free some disk space, then run the command again", err=True)
            ctx.exit(1)
        except OSError as err:
            what = f"{err.filename}: " if getattr(err, "filename", None) else ""
            click.echo(f"error: {what}{err.strerror or err}", err=True)
            ctx.exit(1)
        except click.UsageError as err:
            # click's own multi-line usage text, folded to the one line every refusal gets
            where = f" (see `{err.ctx.command_path} --help`)" if err.ctx else ""
            click.echo("error: " + " ".join(err.format_message().split()) + where, err=True)
            ctx.exit(2)


def emit(data, as_json: bool, text: str) -> None:
    """The command's result: JSON (written as it is encoded, a piece at a time: a report of a
    million rows is never one string) or the text."""
    if not as_json:
        click.echo(text)
        return
    piece: list[str] = []
    size = 0
    for chunk in json.JSONEncoder(indent=2, default=str).iterencode(data):
        piece.append(chunk)
        size += len(chunk)
        if size >= EMIT_PIECE:
            click.echo("".join(piece), nl=False)
            piece, size = [], 0
    piece.append("\n")
    click.echo("".join(piece), nl=False)


EMIT_PIECE = 1 << 16  # characters written at a time


@click.group(cls=Group, invoke_without_command=False)
@click.version_option(__version__, prog_name="annotary")
def cli():
    """Annotary: offline labeling of language-model data, exchanged as signed bundles.

    \b
    Example:
      annotary identity create --name "Dr. Ada Lee" --role annotator
      annotary import tasks.annotary --trust
      annotary results export --project demo-pairwise --out results.annotary
    """
    from annotary.ops import identity as identity_ops

    # a key protected by a passphrase: asked on the terminal, once, when first needed
    identity_ops.set_passphrase_prompt(ask_passphrase)


def ask_passphrase() -> str | None:
    if not sys.stdin.isatty():
        return None
    return click.prompt("Passphrase of your key", hide_input=True, err=True, default="", show_default=False)


def encryption_options(readers: str):
    """--encrypt, --encrypt-to CARD (repeatable) and --plaintext, given to the command as one
    `encryption` (ops.sealing.Encryption). `readers`: who --encrypt encrypts to."""
    def decorate(f):
        @functools.wraps(f)
        def run(*args, encrypt, encrypt_to, plaintext, **kwargs):
            from annotary.ops.sealing import Encryption

            return f(*args, encryption=Encryption(encrypt, tuple(encrypt_to), plaintext), **kwargs)

        run = click.option("--plaintext", is_flag=True,
                           help="Write it unencrypted, even for a confidential project.")(run)
        run = click.option("--encrypt-to", "encrypt_to", multiple=True, metavar="CARD.json",
                           type=click.Path(dir_okay=False),
                           help="Encrypt it (age) to this person's card too; repeatable. "
                                "You are always a recipient.")(run)
        return click.option("--encrypt", is_flag=True,
                            help=f"Encrypt it (age) to {readers} (the default for a confidential project).")(run)
    return decorate


# -- identity ---------------------------------------------------------------------------------
@cli.group(cls=Group, lazy={
    "export": ("annotary.cli.coordinator",
               "Write your public identity card, signed by your key, for a coordinator's roster."),
})
def identity():
    """Your signing identity (Ed25519), made once per person.

    \b
    Example:
      annotary identity show --json
    """


@identity.command("create")
@click.option("--name", required=True, help="Your name as others will see it.")
@click.option("--role", type=click.Choice(ROLES), default="annotator", show_default=True)
@click.option("--force", is_flag=True, help="Replace an existing identity (its key is lost).")
def identity_create(name, role, force):
    """Create your identity; the private key stays in your data folder (mode 0600).

    \b
    Example:
      annotary identity create --name "Dr. Ada Lee" --role annotator
    """
    from annotary.ops import identity as identity_ops

    ident = identity_ops.make_identity(name=name, role=role, overwrite=force)
    click.echo(f"created identity {ident.name} ({ident.role}), key id {ident.key_id}")
    click.echo(f"fingerprint {ident.fingerprint}")


@identity.command("show")
@click.option("--pem", is_flag=True, help="Print the public key as PEM (for openssl).")
@click.option("--openssh", is_flag=True, help="Print the public key as one `ssh-ed25519 …` line "
                                              "(an age recipient: `age -R`).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def identity_show(pem, openssh, as_json):
    """Show your name, role, key id and fingerprint.

    \b
    Example:
      annotary identity show --pem > me.pem
      annotary identity show --openssh >> recipients.txt
    """
    from annotary.ops import identity as identity_ops

    ident = identity_ops.require_identity()
    if pem:
        click.echo(ident.public_pem(), nl=False)
        return
    if openssh:
        click.echo(ident.openssh_public())
        return
    data = {"name": ident.name, "role": ident.role, "key_id": ident.key_id,
            "fingerprint": ident.fingerprint, "public_key": ident.public_key,
            "openssh": ident.openssh_public(), "passphrase": ident.protected}
    emit(data, as_json, f"{ident.name} ({ident.role})\nkey id      {ident.key_id}\n"
                        f"fingerprint {ident.fingerprint}")


@identity.group("passphrase")
def identity_passphrase():
    """Protect your private key file with a passphrase, or remove the protection.

    A copied key file is then of no use without the passphrase. It does not protect against
    malware on the running computer, nor a weak passphrase. Annotary asks for it once per
    session; scripts give it in ANNOTARY_PASSPHRASE.

    \b
    Example:
      annotary identity passphrase set
      annotary identity passphrase remove
    """


NEW_PASSPHRASE_ENV = "ANNOTARY_NEW_PASSPHRASE"


@identity_passphrase.command("set")
def identity_passphrase_set():
    """Set (or change) the passphrase of your private key: asked twice, hidden (or taken from
    ANNOTARY_NEW_PASSPHRASE); the current one, if any, from ANNOTARY_PASSPHRASE or asked.

    \b
    Example:
      annotary identity passphrase set
    """
    from annotary.ops import identity as identity_ops

    identity_ops.require_identity().private()  # the current passphrase first, if there is one
    new = os.environ.get(NEW_PASSPHRASE_ENV)
    if not new:
        if not sys.stdin.isatty():
            raise IdentityError(f"no terminal to ask for the new passphrase: give it in {NEW_PASSPHRASE_ENV}")
        new = click.prompt("New passphrase", hide_input=True, confirmation_prompt=True, err=True)
    ident = identity_ops.change_passphrase(new)
    click.echo(f"your private key ({ident.key_id}) is now protected by a passphrase")


@identity_passphrase.command("remove")
def identity_passphrase_remove():
    """Remove the passphrase: the key file is written unprotected again (mode 0600).

    \b
    Example:
      annotary identity passphrase remove   # the current one asked, or in ANNOTARY_PASSPHRASE
    """
    from annotary.ops import identity as identity_ops

    ident = identity_ops.require_identity()
    if not ident.protected:
        click.echo("your private key has no passphrase; nothing changed")
        return
    ident.private()
    identity_ops.change_passphrase(None)
    click.echo(f"your private key ({ident.key_id}) is no longer protected by a passphrase")


# -- options shared by the commands that read datasets ------------------------------------------
SKIP_INVALID = click.option(
    "--skip-invalid", is_flag=True,
    help="Leave out rows that cannot become items (bad fields, no fit with the spec, a response "
         "for no prompt) and list them, with their line and reason, in OUT.rejected.jsonl.")
RESPONSES = click.option(
    "--responses", "responses", multiple=True, type=click.Path(dir_okay=False),
    help="Model completions to judge (JSONL: item_id or prompt_id, model, text), joined to the "
         "prompts; repeat for several models. They replace the source's own responses.")
KEEP_SOURCE = click.option(
    "--keep-source-responses", is_flag=True,
    help="With --responses: keep the source's own responses (e.g. HealthBench's ideal completion) first.")
RESPONSES_HELP = """
    \b
    With --responses, each file holds completions of the prompts, one JSON object a line:
      {"prompt_id": "1f548d5b-…", "model": "our-model-v2", "text": "Postpartum depression is …"}
      {"item_id": "pair-17", "model": "baseline", "text": "…"}
    item_id (or id) is the item's id, prompt_id the source's own id (HealthBench); model names the
    response (or give response_id); text may be `response` or `completion`, or one assistant
    message. Other fields travel in the item's metadata."""


def rejected_file(change, out) -> dict:
    """For --json: where the rows set aside are listed, when there are any."""
    from annotary.ops.sources import rejected_path

    return {"rejected_file": str(rejected_path(out))} if change.counts.get("rejected") else {}


def with_hint(run, out):
    """Run a build; a row that cannot become an item is refused with the way to go on without it."""
    from annotary.datasets.readers import RowError
    from annotary.ops.sources import SKIP_HINT

    try:
        return run()
    except RowError as err:
        raise RowError(f"{err.message}; {SKIP_HINT.replace('OUT', str(out))}") from None


# -- import / export / verify -----------------------------------------------------------------
@cli.command("import")
@click.argument("bundle", type=click.Path(dir_okay=False))
@click.option("--trust", is_flag=True, help="Trust the signer of a project's first bundle.")
@click.option("--json", "as_json", is_flag=True)
def import_cmd(bundle, trust, as_json):
    """Import a task bundle into your local store.

    The first bundle of a project pins its coordinator's key: confirm the fingerprint with
    them, then pass --trust (or answer yes on a terminal). Later bundles of that project
    signed by another key are refused.

    \b
    Example:
      annotary import round1.annotary --trust
    """
    from annotary.ops.importing import import_tasks, load_tasks, preview_tasks
    from annotary.paths import store_path
    from annotary.store import open_store

    store = open_store(store_path())
    tasks = load_tasks(bundle, items=False)  # the items are checked as the import reads and writes them
    preview = preview_tasks(store, tasks)
    if preview.pin == "new" and not trust and sys.stdin.isatty() and not as_json:
        click.echo(f"Project {preview.project_name!r} ({preview.items} items), signed by "
                   f"{preview.signer_name} ({preview.signer_role})")
        click.echo(f"fingerprint {preview.fingerprint}")
        trust = click.confirm("Trust this key for this project?", default=False)
    show_bar = sys.stderr.isatty() and not as_json
    if show_bar:
        with click.progressbar(length=preview.items, label="importing", file=sys.stderr) as bar:
            last = [0]

            def progress(done, total):
                bar.update(done - last[0])
                last[0] = done

            change = import_tasks(store, tasks, trust_new_key=trust,
                                  expect_key_id=preview.signer_key_id, progress=progress)
    else:
        change = import_tasks(store, tasks, trust_new_key=trust, expect_key_id=preview.signer_key_id)
    emit({"project_id": change.project_id, **change.counts, "message": change.message},
         as_json, change.message)


@cli.group()
def results():
    """Result bundles (annotator to coordinator).

    \b
    Example:
      annotary results export --project demo-pairwise --out results.annotary
    """


@results.command("export")
@click.option("--project", "project_id", required=True, help="Project id (see `annotary projects`).")
@click.option("--out", required=True, type=click.Path(dir_okay=False))
@encryption_options("the project's coordinator")
@click.option("--json", "as_json", is_flag=True)
def results_export(project_id, out, as_json, encryption):
    """Write every current label of yours in a project, signed with your key.

    When the project's task bundle came encrypted (or its spec is confidential) the results are
    encrypted to its coordinator (and you) unless --plaintext.

    \b
    Example:
      annotary results export --project demo-pairwise --out ada.results.annotary
    """
    from annotary.ops import identity as identity_ops
    from annotary.ops.results import export_results
    from annotary.paths import store_path
    from annotary.store import open_store

    store = open_store(store_path())
    change = export_results(store, project_id=project_id, identity=identity_ops.require_identity(),
                            out=out, encryption=encryption)
    emit({"out": out, **change.counts}, as_json, change.message)


@cli.command("verify")
@click.argument("bundle", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
def verify(bundle, as_json):
    """Check every member hash and the signature of a bundle; exit 0 only if all holds.

    \b
    Example:
      annotary verify results.annotary --json
    """
    from annotary.ops.verify import verify_bundle

    r = verify_bundle(bundle)
    counts = ", ".join(f"{v} {k}" for k, v in r.counts.items()) or "no records"
    sealed = "\nencrypted (age), opened with your key" if r.encrypted else ""
    emit({"ok": True, **r.as_dict()}, as_json,
         f"OK {Path(bundle).name}: {r.kind} bundle of project {r.project_id!r} ({r.project_name}), "
         f"round {r.round}, {counts}\nproject {r.instance_text}\nsigned by {r.signer_name} "
         f"({r.signer_role}), key id {r.signer_key_id}\nfingerprint {r.fingerprint}{sealed}")


@cli.command("projects")
@click.option("--json", "as_json", is_flag=True)
def projects_cmd(as_json):
    """List the projects in your local store with progress.

    \b
    Example:
      annotary projects --json
    """
    from annotary.ops import identity as identity_ops
    from annotary.ops import queries
    from annotary.paths import store_path
    from annotary.store import open_store

    store = open_store(store_path())
    ident = identity_ops.current_identity()
    rows = queries.projects(store, ident.key_id if ident else None)
    data = [{"id": p.id, "name": p.name, "done": p.done, "total": p.total, "round": p.round,
             "coordinator": p.coordinator_name} for p in rows]
    text = "\n".join(f"{p['id']:24} {p['done']:>6}/{p['total']:<6} {p['name']}" for p in data)
    emit(data, as_json, text or "no projects yet: import a task bundle with `annotary import FILE`")


def main() -> None:
    cli(prog_name="annotary")


# The commands of the other modules, each loaded only when it runs (its module's decorators add it
# to `cli`); `annotary --help` lists them with these texts, the first paragraph of each one's help
# (tests/cli/test_lazy_commands.py fails when this table and the commands themselves differ).
# A frozen app finds these modules by name only: packaging/annotary.spec lists them (hiddenimports).
cli.lazy.update({
    "adjudication": ("annotary.cli.adjudication",
                     "Conflicts to reviewers: a signed adjudication bundle out, a decisions bundle back."),
    "agreement": ("annotary.cli.coordinator",
                  "Agreement per question, figures per annotator, consensus and conflicts."),
    "backup": ("annotary.cli.system", "Backups of your store: made at start and exit, one a day, the last 7 kept."),
    "dataset": ("annotary.cli.export",
                "Training-ready datasets (TRL, SFT, Alpaca, HelpSteer, HealthBench) with their provenance."),
    "demo": ("annotary.app", "Open the app on the bundled demo project (32 real pairwise items)."),
    "gui": ("annotary.app", "Open the app on the projects screen, or on FILE (a bundle or a store) as `open` does."),
    "labels": ("annotary.cli.coordinator", "Labels from outside the roster."),
    "merge": ("annotary.cli.coordinator",
              "Merge signed result bundles: one line per bundle; exit 2 if any was refused."),
    "open": ("annotary.app", "Open the app on FILE: a task bundle is imported (asks to trust a new coordinator), "
                             "a store file is opened in place of yours. If Annotary is already open, it gets the file."),
    "paths": ("annotary.cli.system",
              "Show where your data lives: data folder, store, identity, backups, crash log, resources."),
    "project": ("annotary.cli.coordinator",
                "A coordinator's project file: items, roster, rounds and the labels merged back."),
    "roster": ("annotary.cli.coordinator", "Who receives tasks and whose signed results are accepted."),
    "self-test": ("annotary.app", "Check this installation end to end, offscreen, in a temporary data folder: "
                                  "identity, task bundle, import, labeling by key presses, export, verify, backup, "
                                  "single instance. Prints one PASS/FAIL line per step; exit code 0 only when all "
                                  "pass. Your data is not touched."),
    "simulate": ("annotary.cli.coordinator",
                 "What the project's labels would have cost under each plan, against the fixed-3 majority."),
    "status": ("annotary.cli.coordinator", "Progress per annotator and round."),
    "tasks": ("annotary.cli.tasks", "Task bundles (coordinator to annotator)."),
})
