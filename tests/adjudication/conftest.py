"""A coordinator project with merged results, a reviewer in the roster, and their adjudication
bundle: built once per run on the coordinator tests' world."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from annotary.bundles.identity import Identity, create_identity
from annotary.ops.adjudication import create_adjudication
from annotary.ops.merge import merge_results
from annotary.ops.project import open_project
from annotary.ops.roster import add_members, export_card
from tests.coordinator.conftest import world  # noqa: F401  (the fixture)


@dataclass
class Review:
    project: Path  # merged, with the reviewer in the roster and the bundle sent
    reviewer: Identity
    bundle: Path
    cases: int
    conflicts: int

    def copy(self, dest: Path):
        path = dest / "project.db"
        shutil.copy(self.project, path)
        return open_project(path)


@pytest.fixture(scope="session")
def review(world, tmp_path_factory) -> Review:  # noqa: F811
    root = tmp_path_factory.mktemp("review")
    store = world.copy(root)
    reports = merge_results(store, paths=world.results)
    assert all(r.refusal is None for r in reports), [r.refusal for r in reports]
    reviewer = create_identity(root / "reviewer", name="Dr. Rae Vu", role="reviewer")
    card = root / "rae.card.json"
    export_card(identity=reviewer, out=card)
    add_members(store, cards=[card])
    bundle = root / "review.annotary"
    change = create_adjudication(store, identity=world.coordinator, reviewer=str(card), out=bundle)
    store.close()
    return Review(root / "project.db", reviewer, bundle, change.counts["cases"], change.counts["conflicts"])
