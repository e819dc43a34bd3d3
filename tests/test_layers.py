"""The import directions of DESIGN.md hold for every module of the package."""

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "desktop" / "annotary"

ALLOWED = {
    "core": set(),
    "store": {"core"},
    "bundles": {"core"},
    "analysis": {"core"},
    "datasets": {"core"},
    "ops": {"core", "store", "bundles", "analysis", "datasets", "paths"},
    "flows": {"core", "ops"},
    "ui": {"core", "flows", "ops", "paths"},
    "cli": {"core", "store", "bundles", "analysis", "datasets", "ops", "paths"},
    "paths": {"core"},
    "app": {"core", "store", "ops", "flows", "ui", "cli", "paths"},
    "__init__": set(),
    "__main__": {"app"},
}
QT = ("PySide6", "shiboken6")


def imports(path: Path, pkg: Path = PKG):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rel = path.relative_to(pkg).with_suffix("").parts
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(rel[: len(rel) - node.level])
                yield node.lineno, ".".join(["annotary", *base, *(node.module or "").split(".")]).rstrip(".")
            elif node.module:
                yield node.lineno, node.module


def violations(pkg: Path = PKG):
    out = []
    for path in sorted(pkg.rglob("*.py")):
        rel = path.relative_to(pkg)
        layer = rel.parts[0].removesuffix(".py")
        for line, name in imports(path, pkg):
            top = name.split(".")[0]
            if top in QT and layer not in ("ui", "app"):
                out.append(f"{rel}:{line} imports Qt outside ui/")
            if top != "annotary" or name == "annotary":
                continue
            target = name.split(".")[1]
            if target != layer and target not in ALLOWED[layer]:
                out.append(f"{rel}:{line} {layer} imports {target}")
    return out


def test_layers_follow_design():
    assert violations() == []


def test_checker_sees_a_violation(tmp_path):
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "probe.py").write_text("from annotary.ui import main_window\nimport PySide6\n")
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "probe.py").write_text("from ..store import db\n")
    found = violations(tmp_path)
    assert any("core imports ui" in v for v in found)
    assert any("Qt outside ui" in v for v in found)
    assert any("flows imports store" in v for v in found)
