"""A loopback TCP proxy that replaces the first N answers with a 504, as a load balancer does
when the backend is slow: the server has stored the events, the client hears a gateway timeout
and retries (the realistic way a retry creates duplicates)."""

from __future__ import annotations

import contextlib
import socket
import threading

_BODY = b'{"code": "gateway_timeout", "message": "upstream answered too late"}'
GATEWAY_TIMEOUT = (
    b"HTTP/1.1 504 Gateway Timeout\r\nContent-Type: application/json\r\n"
    b"Content-Length: " + str(len(_BODY)).encode() + b"\r\nConnection: close\r\n\r\n" + _BODY
)


class DroppingProxy:
    def __init__(self, upstream_port: int, drop: int = 1):
        self.upstream_port = upstream_port
        self.drop = drop
        self.dropped = 0
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port = int(self._sock.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _take_drop(self) -> bool:
        with self._lock:
            if self.dropped < self.drop:
                self.dropped += 1
                return True
            return False

    def _handle(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
        client.settimeout(10)

        def pump_requests() -> None:
            try:
                while data := client.recv(65536):
                    upstream.sendall(data)
            except OSError:
                pass

        threading.Thread(target=pump_requests, daemon=True).start()
        try:
            while data := upstream.recv(65536):
                if self._take_drop():  # the server answered; the client hears a timeout
                    client.sendall(GATEWAY_TIMEOUT)
                    break
                client.sendall(data)
        except OSError:
            pass
        finally:
            for s in (client, upstream):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()
