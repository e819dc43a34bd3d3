"""The one shortcut table: it drives key bindings, menus and the F1 sheet."""

from __future__ import annotations

from dataclasses import dataclass, replace

from PySide6.QtGui import QKeySequence

# scopes: "global" works everywhere; "labeling", "home" and "workspace" only on that screen
SCOPES = ("global", "home", "labeling", "workspace")
WORKSPACE_TABS = ("Agreement", "Annotators", "Rounds and guidelines", "Consensus", "Heatmap",
                  "Labels", "Progress", "Gold", "Plans")  # the coordinator workspace's tabs, Ctrl+1 …


@dataclass(frozen=True)
class Command:
    id: str
    scope: str
    keys: tuple[str, ...]
    label: str
    menu: str | None = None  # menu title it appears under, None = keys only
    autorepeat: bool = False  # decision keys never repeat when held
    modes: tuple[str, ...] = ()  # question modes it serves; () = every screen of its scope


def _digits() -> list[Command]:
    out = [Command("key.digit0", "labeling", ("0",), "Score 0; none of these (multi-choice)",
                   modes=("scoring", "categorical"))]
    for n in range(1, 10):
        out.append(Command(f"key.digit{n}", "labeling", (str(n),),
                           f"{n}: strength point, rank response {n} next, score {n}, "
                           f"category {n}; reviewing: adopt annotator {n}'s answer",
                           modes=("pairwise", "ranking", "scoring", "categorical")))
        out.append(Command(f"confidence.{n}", "labeling", (f"Alt+{n}",), f"Confidence {n}"))
    return out


def _workspace() -> list[Command]:
    tabs = [Command(f"workspace.tab{n}", "workspace", (f"Ctrl+{n}",), f"Show the {title} tab", "&Workspace")
            for n, title in enumerate(WORKSPACE_TABS, 1)]
    return [
        Command("workspace.merge", "workspace", ("Ctrl+M",), "Merge result bundles…", "&Workspace"),
        Command("workspace.refresh", "workspace", ("F5",), "Recompute the figures", "&Workspace"),
        Command("workspace.export_csv", "workspace", ("Ctrl+Shift+E",),
                "Export the focused table (or the chart's data) as CSV…", "&Workspace"),
        Command("workspace.export_all", "workspace", (), "Export every table as CSV…", "&Workspace"),
        Command("workspace.export_png", "workspace", ("Ctrl+Shift+P",), "Export the chart as PNG…",
                "&Workspace"),
        Command("workspace.export_dataset", "workspace", ("Ctrl+Shift+X",),
                "Export a training dataset…", "&Workspace"),
        Command("workspace.roster_add", "workspace", ("Ctrl+R",),
                "Add annotators or reviewers from their cards…", "&Workspace"),
        Command("workspace.assign", "workspace", ("Ctrl+Shift+A",),
                "Assign a round: write the task bundles…", "&Workspace"),
        Command("workspace.adjudicate", "workspace", ("Ctrl+Shift+R",),
                "Send the conflicts to a reviewer (adjudication bundle)…", "&Workspace"),
        Command("workspace.next_tab", "workspace", ("Ctrl+Tab",), "Next tab", autorepeat=True),
        Command("workspace.previous_tab", "workspace", ("Ctrl+Shift+Tab",), "Previous tab",
                autorepeat=True),
        *tabs,
    ]


COMMANDS: tuple[Command, ...] = (
    Command("file.open", "global", ("Ctrl+O",), "Open bundle…", "&File"),
    Command("file.open_project", "global", ("Ctrl+Shift+O",), "Open a coordinator project…", "&File"),
    Command("file.export", "global", ("Ctrl+E",), "Export results…", "&File"),
    Command("file.home", "global", ("Alt+Home",), "Projects", "&File"),
    Command("file.demo", "home", ("Ctrl+D",), "Open the demo projects", "&File"),
    Command("home.new_project", "home", ("Ctrl+N",), "Create a project from a data file…", "&File"),
    Command("file.quit", "global", ("Ctrl+Q",), "Quit", "&File"),
    Command("home.open_selected", "home", ("Return", "Enter"), "Open the selected project"),
    Command("edit.undo", "labeling", ("Ctrl+Z",), "Undo", "&Edit"),
    Command("edit.redo", "labeling", ("Ctrl+Shift+Z", "Ctrl+Y"), "Redo", "&Edit"),
    Command("item.submit", "labeling", ("Ctrl+Return", "Ctrl+Enter"), "Submit and go on", "&Item"),
    Command("item.next", "labeling", ("Alt+Right",), "Next item", "&Item", autorepeat=True),
    Command("item.previous", "labeling", ("Alt+Left",), "Previous item", "&Item", autorepeat=True),
    Command("item.jump", "labeling", ("Ctrl+J",), "Jump to item…", "&Item"),
    Command("item.flag", "labeling", ("Ctrl+F",), "Flag item…", "&Item"),
    Command("item.skip", "labeling", ("Ctrl+K",), "Skip item with a reason…", "&Item"),
    Command("item.rationale", "labeling", ("R",), "Write the rationale", "&Item"),
    Command("item.edit", "labeling", ("E",),
            "Write the response (demonstration); edit the decision (reviewing)", "&Item"),
    Command("item.leave_text", "labeling", ("Escape",), "Leave the text box"),
    Command("question.next", "labeling", ("Tab",), "Next question", "&Item"),
    Command("question.previous", "labeling", ("Shift+Tab",), "Previous question", "&Item"),
    Command("answer.A", "labeling", ("A",), "A is better", modes=("pairwise",)),
    Command("answer.B", "labeling", ("B",), "B is better", modes=("pairwise",)),
    Command("answer.tie", "labeling", ("T",), "Tie", modes=("pairwise",)),
    Command("answer.both_bad", "labeling", ("X",), "Both bad", modes=("pairwise",)),
    *_digits(),
    Command("key.equal", "labeling", ("=",), "Tie the next ranked response with the previous",
            modes=("ranking",)),
    Command("key.backspace", "labeling", ("Backspace",),
            "Take back the last rank; clear the score, mark or categories",
            modes=("ranking", "scoring", "rubric", "categorical")),
    Command("ranking.unacceptable", "labeling", ("U",), "All responses unacceptable", modes=("ranking",)),
    Command("key.up", "labeling", ("Up",), "Previous axis (categorical: previous category)",
            modes=("scoring", "categorical"), autorepeat=True),
    Command("key.down", "labeling", ("Down",), "Next axis (categorical: next category)",
            modes=("scoring", "categorical"), autorepeat=True),
    Command("key.left", "labeling", ("Left",), "Previous response",
            modes=("scoring", "categorical"), autorepeat=True),
    Command("key.right", "labeling", ("Right",), "Next response",
            modes=("scoring", "categorical"), autorepeat=True),
    Command("category.filter", "labeling", ("/",), "Filter the categories (type, then Enter picks)",
            modes=("categorical",)),
    Command("rubric.next", "labeling", ("J",), "Next criterion", modes=("rubric",), autorepeat=True),
    Command("rubric.previous", "labeling", ("K",), "Previous criterion", modes=("rubric",), autorepeat=True),
    Command("rubric.met", "labeling", ("Y",), "Criterion met", modes=("rubric",)),
    Command("rubric.not_met", "labeling", ("N",), "Criterion not met", modes=("rubric",)),
    Command("rubric.partly", "labeling", ("P",), "Criterion partly met", modes=("rubric",)),
    Command("key.space", "labeling", ("Space",),
            "Scroll the responses down (rubric: toggle the criterion; categorical: pick the "
            "framed category)", autorepeat=True),
    Command("key.shift_space", "labeling", ("Shift+Space",), "Scroll the responses up", autorepeat=True),
    Command("filter.all", "labeling", ("Ctrl+Shift+A",), "Show all items", "&View"),
    Command("filter.unlabeled", "labeling", ("Ctrl+Shift+U",), "Show unlabeled items", "&View"),
    Command("filter.flagged", "labeling", ("Ctrl+Shift+F",), "Show flagged items", "&View"),
    Command("view.zoom_in", "global", ("Ctrl+=", "Ctrl++"), "Larger text", "&View", autorepeat=True),
    Command("view.zoom_out", "global", ("Ctrl+-",), "Smaller text", "&View", autorepeat=True),
    Command("view.zoom_reset", "global", ("Ctrl+0",), "Normal text size", "&View"),
    Command("view.diff", "labeling", ("Ctrl+Shift+W",),
            "Highlight word differences (demonstration: changes against the draft)", "&View"),
    Command("view.sync", "labeling", ("Ctrl+Shift+L",), "Synchronized scrolling", "&View"),
    Command("view.dark", "global", ("Ctrl+Shift+D",), "Dark theme", "&View"),
    Command("view.settings", "global", ("Ctrl+,",), "Settings…", "&View"),
    *_workspace(),
    Command("help.guidelines", "global", ("Ctrl+G",), "Guidelines", "&Help"),
    Command("help.keys", "global", ("F1",), "Keyboard shortcuts", "&Help"),
    Command("help.about", "global", (), "About Annotary", "&Help"),  # menu only: no key to learn
)


def by_id() -> dict[str, Command]:
    return {c.id: c for c in COMMANDS}


def effective(keymap: dict[str, list[str]] | None) -> tuple[Command, ...]:
    """The table with the user's remapped keys; a stored map that clashes is ignored whole."""
    if not keymap:
        return COMMANDS
    known = by_id()
    table = tuple(replace(c, keys=tuple(keymap[c.id])) if c.id in keymap and keymap[c.id] else c
                  for c in COMMANDS)
    if any(cid not in known for cid in keymap) or conflicts(table):
        return COMMANDS
    return table


def normalized(key: str) -> str:
    """Portable text of a key sequence, so 'ctrl+z' and 'Ctrl+Z' compare equal. A real keyboard
    sends Shift+Tab as Backtab and Qt matches a binding of either to it, so they are one key."""
    text = QKeySequence(key).toString(QKeySequence.SequenceFormat.PortableText)
    if text.endswith("Backtab"):
        mods = [m for m in text.removesuffix("Backtab").split("+") if m and m != "Shift"]
        text = QKeySequence("+".join([*mods, "Shift", "Tab"])).toString(
            QKeySequence.SequenceFormat.PortableText)
    return text


def conflicts(commands=COMMANDS) -> list[tuple[str, str, str]]:
    """(key, command, command) pairs bound twice where both can be active at once."""
    seen: dict[tuple[str, str], str] = {}
    out = []
    for c in commands:
        mine = [normalized(key) for key in c.keys]
        # one action bound twice to the same key is an ambiguous shortcut: Qt then runs neither
        out.extend((k, c.id, c.id) for k in {k for k in mine if mine.count(k) > 1})
        for k in dict.fromkeys(mine):
            scopes = SCOPES if c.scope == "global" else ("global", c.scope)
            for s in scopes:
                other = seen.get((s, k))
                if other and other != c.id:
                    out.append((k, other, c.id))
            seen[(c.scope, k)] = c.id
    return out


def with_keys(command_id: str, keys: tuple[str, ...], commands=COMMANDS) -> tuple[Command, ...]:
    """The table with one command remapped (for the settings dialog and its conflict check)."""
    return tuple(replace(c, keys=keys) if c.id == command_id else c for c in commands)
