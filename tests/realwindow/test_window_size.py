"""The window keeps the size it was given while an item is answered by keys (the screen is 1600 px wide)."""

from __future__ import annotations

from tests.realwindow.test_walkthrough import DEMOS, answer


def test_answering_every_demo_by_keys_keeps_the_window_size(demo_app):
    """Scoring once widened the window with every score given (headers that neither wrapped
    nor elided), past the edge of the screen."""
    sizes = {}
    for project in DEMOS:
        s = demo_app.open(project)
        before = (s["window"]["width"], s["window"]["height"])
        answer(demo_app, s["labeling"]["modes"][0])
        s = demo_app.state()
        sizes[project] = (before, (s["window"]["width"], s["window"]["height"]))
    assert all(before == after for before, after in sizes.values()), sizes
