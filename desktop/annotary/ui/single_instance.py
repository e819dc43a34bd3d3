"""One Annotary per store: a second launch hands its file to the first over a local socket.

QLocalServer is a Unix-domain socket (a named pipe on Windows): it never leaves the machine and
opens no network port. The store lock (ops.backup.StoreLock) decides who is first; this only
carries the file across."""

from __future__ import annotations

import json
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from annotary.ops.backup import store_key

REPLY = b"ok\n"


def server_name(store_file: str | Path) -> str:
    return f"annotary-{store_key(store_file)}"


class Receiver(QObject):
    """Listens in the running app; `opened` carries a handed-over path ("" = come to the front)."""

    opened = Signal(str)

    def __init__(self, name: str, parent=None):
        super().__init__(parent)
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        # a crashed instance leaves its socket file behind; we hold the store lock, so it is stale
        QLocalServer.removeServer(name)
        self.listening = self.server.listen(name)
        self.server.newConnection.connect(self._accept)
        self._buffers: dict[QLocalSocket, bytes] = {}

    def _accept(self) -> None:
        while (sock := self.server.nextPendingConnection()) is not None:
            self._buffers[sock] = b""
            sock.readyRead.connect(lambda s=sock: self._read(s))
            sock.disconnected.connect(lambda s=sock: self._drop(s))
            self._read(sock)

    def _drop(self, sock: QLocalSocket) -> None:
        self._buffers.pop(sock, None)
        sock.deleteLater()

    def _read(self, sock: QLocalSocket) -> None:
        data = self._buffers.get(sock, b"") + bytes(sock.readAll().data())
        if b"\n" not in data:
            self._buffers[sock] = data
            return
        line = data.split(b"\n", 1)[0]
        try:
            path = json.loads(line.decode("utf-8")).get("open") or ""
        except (ValueError, AttributeError):
            return  # not one of ours
        sock.write(REPLY)
        sock.flush()
        # after this handler returns: an import may run long, and the socket must not wait
        QTimer.singleShot(0, lambda: self.opened.emit(str(path)))

    def close(self) -> None:
        self.server.close()


def hand_over(name: str, path: str | Path | None, timeout: float = 3.0) -> bool:
    """Give `path` to the Annotary listening on `name`; True once it has answered.

    The event loop keeps turning while we wait, so a receiver in this same process (tests)
    answers too; the first instance may still be starting, so connecting is retried."""
    sock = QLocalSocket()
    deadline = time.monotonic() + timeout
    message = json.dumps({"open": str(Path(path).resolve()) if path else ""}).encode() + b"\n"
    try:
        while sock.state() != QLocalSocket.LocalSocketState.ConnectedState:
            if time.monotonic() > deadline:
                return False
            sock.abort()
            sock.connectToServer(name)
            if not sock.waitForConnected(100):
                QCoreApplication.processEvents()
                time.sleep(0.05)
        sock.write(message)
        sock.flush()
        reply = b""
        while not reply.endswith(b"\n"):
            if time.monotonic() > deadline or sock.state() == QLocalSocket.LocalSocketState.UnconnectedState:
                return False
            QCoreApplication.processEvents()
            if sock.waitForReadyRead(20) or sock.bytesAvailable():
                reply += bytes(sock.readAll().data())
        return reply == REPLY
    finally:
        sock.abort()
