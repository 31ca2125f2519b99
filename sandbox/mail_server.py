"""A stand-in SMTP server for the hub's alert e-mails: TLS from the first byte (port 465 style) or
STARTTLS (587 style), AUTH PLAIN / LOGIN checked against one account, messages kept in memory.

It refuses mail before TLS and before a successful login, as a county mail server does. Stdlib
only (``socketserver`` + ``ssl``).
"""

from __future__ import annotations

import base64
import socketserver
import ssl
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any


@dataclass
class MailServer:
    port: int
    mode: str  # "ssl" | "starttls"
    login: str
    password: str
    messages: list[Message] = field(default_factory=list)
    _server: Any = None

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Handler(socketserver.StreamRequestHandler):
    server: Any

    def handle(self) -> None:
        box: MailServer = self.server.box
        ctx: ssl.SSLContext = self.server.ctx
        sock = self.request
        tls = box.mode == "ssl"
        if tls:
            try:
                sock = ctx.wrap_socket(sock, server_side=True)
            except (ssl.SSLError, OSError):
                return  # the client refused our certificate
        f = sock.makefile("rwb")
        authed = False
        sender: str | None = None

        def say(line: str) -> None:
            f.write(line.encode() + b"\r\n")
            f.flush()

        say("220 qianwei-stand-in ESMTP")
        while True:
            raw = f.readline()
            if not raw:
                return
            cmd = raw.decode("utf-8", "replace").strip()
            up = cmd.upper()
            if up.startswith(("EHLO", "HELO")):
                for line in ["250-qianwei-stand-in", *([] if tls else ["250-STARTTLS"]),
                             *(["250-AUTH PLAIN LOGIN"] if tls else []), "250 8BITMIME"]:
                    say(line)
            elif up == "STARTTLS" and not tls:
                say("220 ready for TLS")
                try:
                    sock = ctx.wrap_socket(sock, server_side=True)
                except (ssl.SSLError, OSError):
                    return
                tls, f = True, sock.makefile("rwb")
            elif up.startswith("AUTH"):
                if not tls:
                    say("538 encryption required")
                    continue
                parts = cmd.split()
                if len(parts) >= 2 and parts[1].upper() == "PLAIN":
                    if len(parts) > 2:
                        blob = parts[2]
                    else:
                        say("334 ")
                        blob = f.readline().decode().strip()
                    _, user, pw = base64.b64decode(blob).decode().split("\x00")
                else:
                    say("334 VXNlcm5hbWU6")
                    user = base64.b64decode(f.readline().strip()).decode()
                    say("334 UGFzc3dvcmQ6")
                    pw = base64.b64decode(f.readline().strip()).decode()
                authed = (user, pw) == (box.login, box.password)
                say("235 authenticated" if authed else "535 authentication failed")
            elif up.startswith("MAIL FROM"):
                if not tls:
                    say("530 must issue STARTTLS first")
                elif not authed:
                    say("530 authentication required")
                else:
                    sender = cmd[10:]
                    say("250 ok")
            elif up.startswith(("RCPT", "RSET", "NOOP")):
                say("250 ok" if sender or not up.startswith("RCPT") else "503 need MAIL first")
            elif up == "DATA" and sender:
                say("354 end with .")
                lines = []
                while (line := f.readline()) not in (b".\r\n", b""):
                    lines.append(line[1:] if line.startswith(b"..") else line)
                box.messages.append(message_from_bytes(b"".join(lines)))
                say("250 queued")
            elif up == "QUIT":
                say("221 bye")
                return
            else:
                say("502 not implemented")


def start(ctx: ssl.SSLContext, mode: str, login: str, password: str) -> MailServer:
    """Serve on a free loopback port in a thread; ``mode`` ``ssl`` or ``starttls``."""
    if mode not in ("ssl", "starttls"):
        raise ValueError(mode)
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    box = MailServer(server.server_address[1], mode, login, password, _server=server)
    server.box, server.ctx = box, ctx  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, name=f"mail-{mode}", daemon=True).start()
    return box
