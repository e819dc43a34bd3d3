"""Creating a coordinator project from a spec and a data file, without Qt: templates, preview, the create."""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from annotary.core.changes import Change
from annotary.core.errors import AnnotaryError, SpecError
from annotary.core.items import Item
from annotary.core.spec import Spec, load_spec_file
from annotary.ops.demo import demo_dir
from annotary.ops.project import create_project, read_source_items

# what each mode asks of the expert, in words (the template list and the preview)
MODE_WORDS = {
    "pairwise": "Pairwise: which of two responses is better",
    "ranking": "Ranking: order the responses best first",
    "scoring": "Scoring: rate each response on several axes",
    "rubric": "Rubric: mark criteria met or not met",
    "demonstration": "Demonstration: write or edit the ideal response",
    "categorical": "Categories: pick one or several named categories",
}
ITEM_FILES = ("Data files (*.jsonl *.ndjson *.json *.csv *.parquet *.jsonl.gz *.json.gz *.csv.gz);;"
              "All files (*)")
SPEC_FILES = "Project specs (*.toml *.json);;All files (*)"
PREVIEW_ROWS = 5


@dataclass(frozen=True)
class Template:
    """A ready-made spec for one mode (the demo projects' specs), to start a project from."""

    label: str
    path: Path  # its spec.toml
    modes: tuple[str, ...]


def templates() -> list[Template]:
    """The bundled specs, one per mode, pairwise first."""
    out = []
    for folder in sorted(demo_dir().parent.glob("demo*")):
        path = folder / "spec.toml"
        if not path.is_file():
            continue
        try:
            spec = load_spec_file(path)
        except AnnotaryError:
            continue
        modes = tuple(dict.fromkeys(q.mode for q in spec.questions))
        words = MODE_WORDS.get(modes[0], modes[0])
        more = len(spec.questions)
        label = words + (f" ({more} questions)" if more > 1 else "")
        out.append(Template(label=label, path=path, modes=modes))
    order = list(MODE_WORDS)
    return sorted(out, key=lambda t: order.index(t.modes[0]) if t.modes[0] in order else len(order))


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:48] or "project"


def load_spec(path: str | Path, name: str | None = None) -> Spec:
    """The spec of a file; with `name`, renamed (a template's project takes the name given)."""
    spec = load_spec_file(path)
    if name is not None:
        name = " ".join(name.split())
        if not name:
            raise SpecError("give the project a name")
        spec = spec.model_copy(update={"name": name, "project_id": slug(name)})
    return spec


def prompt_text(item: Item, width: int = 120) -> str:
    """The prompt in one line: the last user turn of a conversation, shortened."""
    turns = [t for t in item.turns if t.role == "user"] or item.turns
    text = " ".join(turns[-1].content.split()) if turns else ""
    if isinstance(item.prompt, list) and len(item.prompt) > 1:
        text = f"({len(item.prompt)} turns) {text}"
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass
class Preview:
    """What a data file gives under a spec: how it was read, how many items, the first few."""

    shape: str  # the record shape the file was read as
    count: int
    kinds: dict[str, int]
    rows: list[tuple[str, str, int]]  # item id, prompt in one line, number of responses

    @property
    def line(self) -> str:
        extra = ", ".join(f"{n} {k}" for k, n in self.kinds.items() if n and k != "normal")
        return (f"{self.count} item{'s' if self.count != 1 else ''} read as {self.shape}"
                + (f" ({extra})" if extra else "") + "; every one fits the spec")


def preview(spec: Spec, items_path: str | Path, n: int = PREVIEW_ROWS) -> Preview:
    """Read and check the whole file as `annotary project create` does; AnnotaryError (one line) if not."""
    items, shapes = read_source_items([items_path], spec)
    if not items:
        raise AnnotaryError(f"{Path(items_path).name}: no items")
    shape = shapes[0].split(": ", 1)[-1].split(",")[0]
    kinds = {k: sum(1 for i in items if i.kind == k) for k in ("normal", "gold", "calibration")}
    return Preview(shape=shape, count=len(items), kinds=kinds,
                   rows=[(i.id, prompt_text(i), len(i.responses)) for i in items[:n]])


def suggested_out(spec: Spec, items_path: str | Path) -> Path:
    """A project file beside the data, named after the project, not over an existing one."""
    folder = Path(items_path).parent
    base = spec.resolved_project_id
    out = folder / f"{base}.db"
    n = 2
    while out.exists():
        out, n = folder / f"{base}-{n}.db", n + 1
    return out


def remove_project(path: str | Path) -> None:
    """Remove a project file just created (a create cancelled while it ran)."""
    for p in (Path(path), Path(f"{path}-wal"), Path(f"{path}-shm")):
        p.unlink(missing_ok=True)


def create(*, spec_path: str | Path, items_path: str | Path, out: str | Path, identity,
           name: str | None = None) -> Change:
    """Create the project as `annotary project create` does (every item checked; a failure writes
    nothing). With `name` (a template), the spec is renamed first, and the template's own
    guidelines stay behind: they describe the demo data."""
    if not str(items_path).strip():
        raise AnnotaryError("choose the data file with the items")
    if not str(out).strip():
        raise AnnotaryError("choose where to write the project file")
    out = Path(out)
    if out.suffix.lower() != ".db":
        out = out.with_name(out.name + ".db")
    if name is None:
        return create_project(spec_path=spec_path, items_paths=[items_path], out=out, identity=identity)
    spec = load_spec(spec_path, name)
    with tempfile.TemporaryDirectory(prefix="annotary-spec-") as tmp:
        renamed = Path(tmp) / "spec.json"
        renamed.write_text(json.dumps(spec.model_dump(mode="json", exclude_none=True)), encoding="utf-8")
        return create_project(spec_path=renamed, items_paths=[items_path], out=out, identity=identity)
