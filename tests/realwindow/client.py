"""Xvfb, xdotool and the driver process, seen from a test: real keys in, state and store out."""

from __future__ import annotations

import json
import os
import queue
import re
import select
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

DRIVER = Path(__file__).with_name("driver.py")
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "tests" / "screenshots" / "realwindow"
TOOLS = ("Xvfb", "xdotool")
SCREEN = "1600x1000x24"
MESSAGE = "QT-MESSAGE "  # driver.MESSAGE: the driver is a script, not imported here

# Qt messages that fail any test: a shortcut Qt cannot resolve does nothing when pressed
SHORTCUT_TROUBLE = re.compile(r"shortcut|QAction::event|ambiguous", re.IGNORECASE)

# Qt messages seen in a real window that say nothing about Annotary: pattern -> the reason. Empty:
# under Xvfb the walkthrough prints none; add one only with the reason it is harmless.
HARMLESS: dict[str, str] = {}


class DriverError(RuntimeError):
    pass


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


class Display:
    """A private X server (Xvfb) on a free display number that it picks itself (-displayfd)."""

    def __init__(self):
        self.proc: subprocess.Popen | None = None
        self.name = ""

    def start(self, timeout: float = 20.0) -> str:
        read_end, write_end = os.pipe()
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_end), "-screen", "0", SCREEN, "-nolisten", "tcp",
             "-noreset"], pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(write_end)
        got = b""
        deadline = time.monotonic() + timeout
        try:
            while not got.endswith(b"\n"):
                ready, _, _ = select.select([read_end], [], [], max(0.0, deadline - time.monotonic()))
                chunk = os.read(read_end, 32) if ready else b""
                if not chunk:
                    self.stop()
                    raise DriverError("Xvfb did not report its display number")
                got += chunk
        finally:
            os.close(read_end)
        self.name = ":" + got.decode().strip()
        return self.name

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class RealWindow:
    """The app in a real (Xvfb) window, in a process of its own.

    key() sends X key events through the XTEST extension (xdotool without --window), which is
    what a keyboard does; XSendEvent (xdotool --window) would send synthetic events instead."""

    def __init__(self, display: str, home: Path, *, args: tuple[str, ...] = ()):
        self.display, self.home, self.args = display, Path(home), args
        self.keystrokes = 0  # every chord sent by key(), for keys-per-decision figures
        self.refocused = 0  # times the keyboard was handed back after a dialog closed
        self.replies: queue.Queue[dict | None] = queue.Queue()
        self.output: list[str] = []  # what the app printed that was no reply
        self.proc: subprocess.Popen | None = None
        self.wid = 0
        self.env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "DISPLAY": display,
                    "ANNOTARY_HOME": str(self.home), "PYTHONUNBUFFERED": "1"}
        for noisy in ("QT_QPA_PLATFORMTHEME", "QT_STYLE_OVERRIDE", "WAYLAND_DISPLAY"):
            self.env.pop(noisy, None)
        self.stderr_path = self.home.parent / f"{self.home.name}-stderr.log"

    # -- process ------------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> RealWindow:
        self.home.mkdir(parents=True, exist_ok=True)
        self._stderr = self.stderr_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, str(DRIVER), "--shots", str(SHOTS), *self.args], cwd=ROOT, env=self.env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True, bufsize=1)
        threading.Thread(target=self._read, daemon=True).start()
        first = self._reply(timeout)
        if not first.get("ready"):
            raise DriverError(f"the app did not start: {first}")
        self.wid = first["wid"]
        self.focus()
        return self

    def _read(self) -> None:
        for line in self.proc.stdout:
            if line.startswith("REPLY "):
                self.replies.put(json.loads(line[len("REPLY "):]))
            else:
                self.output.append(line.rstrip("\n"))
        self.replies.put(None)

    def _reply(self, timeout: float) -> dict:
        try:
            got = self.replies.get(timeout=timeout)
        except queue.Empty:
            raise DriverError(f"no answer from the app in {timeout:.0f} s; stderr:\n{self.stderr()}") from None
        if got is None:
            raise DriverError(f"the app exited ({self.proc.poll()}); stderr:\n{self.stderr()}")
        return got

    def command(self, line: str, timeout: float = 30.0) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            raise DriverError(f"the app is not running; stderr:\n{self.stderr()}")
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        got = self._reply(timeout)
        if not got.get("ok"):
            raise DriverError(f"{line!r} failed: {got.get('traceback') or got.get('error')}")
        return got

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def close(self, timeout: float = 20.0) -> int | None:
        """Quit as the close button does; kill only if the app hangs."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.command("quit", timeout=5)
            except DriverError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stderr.close()
        return self.proc.returncode

    # -- looking ------------------------------------------------------------------------------
    def state(self) -> dict:
        return self.command("state")

    def sync(self) -> None:
        self.command("sync")

    def wait_until(self, predicate: Callable[[dict], bool], timeout: float = 5.0, what: str = "") -> dict:
        """Poll the app's state until predicate(state) holds; the state, or an error showing it."""
        deadline = time.monotonic() + timeout
        while True:
            s = self.state()
            if predicate(s):
                return s
            if time.monotonic() > deadline:
                raise DriverError(f"timed out waiting for {what or predicate}; last state:\n"
                                  + json.dumps(s, indent=1))
            time.sleep(0.02)

    def labeling(self) -> dict:
        s = self.state()
        assert s["screen"] == "labeling", s
        return s["labeling"]

    def shot(self, name: str, screen: bool = False) -> Path:
        """The window as it draws itself; screen=True: the whole X screen, open dialogs too."""
        return Path(self.command(f"shot {name}" + (" screen" if screen else ""))["path"])

    def messages(self) -> list[dict]:
        """Qt's messages so far, asked of the running app."""
        return self.command("warnings")["messages"]

    def recorded(self) -> list[dict]:
        """Qt's messages as the app wrote them to its stderr: also after it has ended."""
        return [json.loads(line[len(MESSAGE):]) for line in self.stderr().splitlines()
                if line.startswith(MESSAGE)]

    # -- doing --------------------------------------------------------------------------------
    def xdotool(self, *args: str) -> str:
        done = subprocess.run(["xdotool", *args], env=self.env, capture_output=True, text=True, timeout=20)
        if done.returncode != 0:
            raise DriverError(f"xdotool {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout.strip()

    def keep_focus(self) -> None:
        """With no window manager, the X focus falls to the root window when a dialog closes;
        a window manager would hand it back to the main window, so this does (and counts it)."""
        if self.state()["active_window"] is None:
            self.refocused += 1
            self.focus()

    def focus(self, timeout: float = 10.0) -> None:
        """Give the window the keyboard, as a click on it would (there is no window manager)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.xdotool("windowfocus", "--sync", str(self.wid))
                break
            except DriverError:  # not viewable yet: a busy machine maps windows late
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.wait_until(lambda s: s["active_window"] is not None, what="the window to become active")

    def key(self, *keys: str, until: Callable[[dict], bool] | None = None, timeout: float = 5.0) -> dict:
        """Press each chord (xdotool names: "a", "Tab", "shift+Tab", "ctrl+Return") in turn,
        then wait until the app has handled them (and until `until(state)` holds)."""
        self.keep_focus()
        self.keystrokes += len(keys)
        self.xdotool("key", "--delay", "20", *keys)
        self.sync()
        if until is None:
            return self.state()
        return self.wait_until(until, timeout, what=f"the app to take {' '.join(keys)}")

    def type(self, text: str) -> dict:
        self.keep_focus()
        self.keystrokes += len(text)
        self.xdotool("type", "--delay", "10", text)
        self.sync()
        return self.state()

    def open(self, project: str) -> dict:
        pid = self.command(f"open {project}")["project"]
        return self.wait_until(lambda s: s.get("labeling", {}).get("project") == pid, what=f"{pid} to open")

    def workspace(self, path: str | Path) -> dict:
        self.command(f"workspace {path}")
        return self.wait_until(lambda s: s["screen"] == "workspace" and s.get("workspace_ready"),
                               timeout=30, what="the workspace's figures")

    # -- the store ----------------------------------------------------------------------------
    def store_path(self) -> Path:
        return self.home / "annotary.db"  # annotary.paths.store_path() under this ANNOTARY_HOME

    def labels(self, project: str, item: str | None = None) -> list[dict]:
        """Submitted labels (latest revisions) read straight from the app's SQLite file."""
        conn = sqlite3.connect(f"file:{self.store_path()}?mode=ro", uri=True)
        try:
            rows = conn.execute(
                "SELECT item_id, question_id, revision, data FROM labels WHERE project_id=? AND retracted=0"
                + (" AND item_id=?" if item else "") + " ORDER BY item_id, question_id, revision",
                (project, item) if item else (project,)).fetchall()
        finally:
            conn.close()
        latest = {}
        for item_id, qid, rev, data in rows:
            latest[(item_id, qid)] = {"item": item_id, "question": qid, "revision": rev, **json.loads(data)}
        return list(latest.values())


def unexplained(messages: list[dict]) -> list[str]:
    """Qt messages other than those listed in HARMLESS."""
    return [m["text"] for m in messages
            if m["kind"] != "debug" and not any(re.search(p, m["text"]) for p in HARMLESS)]


def shortcut_trouble(messages: list[dict]) -> list[str]:
    return [m["text"] for m in messages if SHORTCUT_TROUBLE.search(m["text"])]
