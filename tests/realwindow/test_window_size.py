"""The window keeps the size it was given while an item is answered by keys (the screen is 1600 px wide)."""

from __future__ import annotations

import pytest

from tests.realwindow.test_walkthrough import DEMOS, answer


@pytest.mark.xfail(strict=True, reason=(
    "defect: on the scoring demo each score given lengthens its response's header "
    "('Response A  Helpfulness 2 · Correctness 3 · …'), which neither wraps nor elides; the "
    "window widens with it, from 1280 to 1800 px, past the edge of a 1600 px screen, and "
    "response C is squeezed to a narrow column"))
def test_answering_every_demo_by_keys_keeps_the_window_size(demo_app):
    sizes = {}
    for project in DEMOS:
        s = demo_app.open(project)
        before = (s["window"]["width"], s["window"]["height"])
        answer(demo_app, s["labeling"]["modes"][0])
        s = demo_app.state()
        sizes[project] = (before, (s["window"]["width"], s["window"]["height"]))
    assert all(before == after for before, after in sizes.values()), sizes
