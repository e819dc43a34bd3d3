"""Real-window fixtures: one Xvfb per run, the app per test in its own process, Qt's messages checked."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.adjudication.conftest import review  # noqa: F401  (a reviewer's bundle, a merged project)
from tests.coordinator.conftest import world  # noqa: F401  (what review is built on)
from tests.realwindow.client import (
    Display,
    DriverError,
    RealWindow,
    missing_tools,
    shortcut_trouble,
)


def unavailable(reason: str):
    """Skip, saying why; where the layer must run (CI sets ANNOTARY_REALWINDOW=required), fail."""
    if os.environ.get("ANNOTARY_REALWINDOW") == "required":
        pytest.fail(f"{reason} (ANNOTARY_REALWINDOW=required)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def xdisplay():
    """The X display the real windows open on; the tests skip, saying why, without Xvfb or xdotool."""
    missing = missing_tools()
    if missing:
        unavailable(f"real-window tests need {' and '.join(missing)} (apt-get install xvfb xdotool)")
    display = Display()
    try:
        display.start()
    except (OSError, DriverError) as err:
        unavailable(f"real-window tests: Xvfb did not start: {err}")
    yield display.name
    display.stop()


@pytest.fixture
def launch(xdisplay, tmp_path):
    """launch(*driver_args, home=None) -> RealWindow, started and focused; closed after the test.

    Any Qt message about shortcuts printed while the test ran fails it."""
    started: list[RealWindow] = []

    def start(*args: str, home=None) -> RealWindow:
        app = RealWindow(xdisplay, home or tmp_path / f"home{len(started)}", args=args)
        started.append(app)
        try:
            return app.start()
        except DriverError as err:
            # a machine whose Qt cannot open an X window (missing xcb libraries) is no failure here
            if "could not load the qt platform plugin" in str(err).lower():
                unavailable(f"real-window tests: Qt's xcb platform does not load: {err}")
            raise

    yield start
    trouble = []
    for app in started:
        app.close()
        trouble += shortcut_trouble(app.recorded())
    assert not trouble, f"Qt complained about shortcuts: {trouble}"


@pytest.fixture
def reviewer_app(launch, review, tmp_path) -> RealWindow:  # noqa: F811
    """The reviewer's own window: their identity, the adjudication bundle taken in and opened."""
    home = tmp_path / "reviewer"
    home.mkdir()
    for name in ("identity.key", "identity.json"):
        shutil.copy(review.project.parent / "reviewer" / name, home / name)
    return launch("--import", str(review.bundle), home=home)


@pytest.fixture
def demo_app(launch) -> RealWindow:
    """The app as `annotary demo` opens it: the five demo projects, the pairwise one on screen."""
    return launch()


def pytest_terminal_summary(terminalreporter):
    """A skipped real-window layer says so, and why, even under -q."""
    reasons = set()
    for report in terminalreporter.stats.get("skipped", []):
        if "realwindow" in report.nodeid and isinstance(report.longrepr, tuple):
            reasons.add(report.longrepr[2].removeprefix("Skipped: "))
    for reason in sorted(reasons):
        terminalreporter.write_line(reason, yellow=True)
