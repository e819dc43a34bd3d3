"""Annotary opens no network socket: a full session runs with every socket entry point guarded."""

from __future__ import annotations

import json
import socket

import pytest
from click.testing import CliRunner

from annotary.app import cli
from annotary.paths import resources_dir
from tests.ui.conftest import FakeAsker


class NetworkUsed(AssertionError):
    pass


class Guard:
    """Records and refuses every attempt to make a socket, resolve a name or connect.

    One thing stays allowed: an AF_UNIX socketpair(). It never leaves the machine, and event
    loops use one to wake themselves up (asyncio does; Qt's own dispatcher uses eventfd or a
    pipe from C++, which no Python guard sees anyway). Such pairs are counted, not refused.
    """

    def __init__(self, monkeypatch):
        self.hits: list[str] = []
        self.unix_pairs = 0
        real_socket, real_pair = socket.socket, socket.socketpair
        guard = self
        self._wrapping = False

        class GuardedSocket(real_socket):
            def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
                if not guard._wrapping:
                    guard.trip(f"socket.socket(family={family}, type={type})")
                super().__init__(family, type, proto, fileno)

        def socketpair(family=None, type=socket.SOCK_STREAM, proto=0):
            if family not in (None, socket.AF_UNIX):
                guard.trip(f"socket.socketpair(family={family})")
            guard.unix_pairs += 1
            guard._wrapping = True  # socketpair wraps its two ends with socket.socket(fileno=...)
            try:
                return real_pair(socket.AF_UNIX, type, proto)
            finally:
                guard._wrapping = False

        def refuse(name):
            def refused(*args, **kwargs):
                guard.trip(f"socket.{name}{args!r}")
            return refused

        monkeypatch.setattr(socket, "socket", GuardedSocket)
        monkeypatch.setattr(socket, "socketpair", socketpair)
        for name in ("create_connection", "create_server", "getaddrinfo", "gethostbyname",
                     "gethostbyname_ex", "gethostbyaddr", "fromfd"):
            monkeypatch.setattr(socket, name, refuse(name))
        for name in ("connect", "connect_ex", "bind", "sendto"):
            monkeypatch.setattr(real_socket, name, refuse(f"socket.{name}"), raising=False)

    def trip(self, what: str):
        self.hits.append(what)
        raise NetworkUsed(f"Annotary tried to use the network: {what}")


@pytest.fixture
def guard(monkeypatch):
    return Guard(monkeypatch)


def test_the_guard_catches_network_use(guard):
    """The session test below can fail: each entry point trips the guard."""
    with pytest.raises(NetworkUsed):
        socket.create_connection(("127.0.0.1", 9))
    with pytest.raises(NetworkUsed):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(NetworkUsed):
        socket.getaddrinfo("example.org", 443)
    with pytest.raises(NetworkUsed):
        socket.socketpair(socket.AF_INET)
    import urllib.request

    with pytest.raises(Exception):  # noqa: B017 - urllib wraps the error in URLError
        urllib.request.urlopen("http://127.0.0.1:9/", timeout=1)
    assert len(guard.hits) == 5
    a, b = socket.socketpair()  # a local pair is allowed
    a.close()
    b.close()
    assert guard.unix_pairs == 1 and len(guard.hits) == 5


def press(qtbot, window, key, mod=None):
    from PySide6.QtCore import Qt

    qtbot.keyClick(window.windowHandle(), key, mod or Qt.KeyboardModifier.NoModifier)


def cli_ok(*args) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_full_session_opens_no_socket(guard, qtbot, tmp_path, annotary_home):
    from PySide6.QtCore import Qt

    from annotary.flows.labeling import LabelingFlow
    from annotary.ops import queries
    from annotary.ops.identity import require_identity
    from annotary.paths import store_path
    from annotary.store import open_store
    from annotary.ui.main_window import MainWindow
    from annotary.ui.runner import Runner

    demo = resources_dir() / "demo"
    bundle = tmp_path / "round1.annotary"
    cli_ok("identity", "create", "--name", "Dr. Ada Lee", "--role", "annotator")
    cli_ok("tasks", "build", demo / "spec.toml", demo / "items.jsonl", "--out", bundle)
    cli_ok("import", bundle, "--trust")
    me = require_identity()

    store = open_store(store_path())
    try:
        # three items through the flow
        flow = LabelingFlow(store, "demo-pairwise", me.key_id)
        flow.start()
        for _ in range(3):
            flow.choose("A")
            flow.choose("tie")
            assert flow.submit().ok

        # three more through the window, by keyboard only
        asker = FakeAsker()
        window = MainWindow(store, me, runner=Runner(synchronous=True), asker=asker)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        window.activateWindow()
        press(qtbot, window, Qt.Key.Key_Return)  # open the selected (only) project
        assert window.labeling is not None
        screen_flow = window.labeling.flow
        assert screen_flow.current.position == 3
        for _ in range(3):
            press(qtbot, window, Qt.Key.Key_B)
            press(qtbot, window, Qt.Key.Key_T)
            press(qtbot, window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        assert screen_flow.current.position == 6
        gui_out = tmp_path / "gui-results.annotary"
        asker.paths.append(str(gui_out))
        press(qtbot, window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
        assert asker.errors == []
        assert len(queries.current_labels(store, "demo-pairwise", me.key_id)) == 12
        window.close()
    finally:
        store.close()

    cli_out = tmp_path / "cli-results.annotary"
    cli_ok("results", "export", "--project", "demo-pairwise", "--out", cli_out)
    for out in (gui_out, cli_out):
        report = json.loads(cli_ok("verify", out, "--json"))
        assert report["counts"] == {"labels": 12} and report["signer_key_id"] == me.key_id

    assert guard.hits == []
