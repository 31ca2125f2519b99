"""A stand-in chat robot (DingTalk 自定义机器人 / WeCom 群机器人) for the hub's alerts, over HTTPS.

As the real robots do, it answers HTTP 200 whatever happens and says in the body whether the
message was taken: ``{"errcode": 0, "errmsg": "ok"}``, or a non-zero errcode:

- DingTalk (``/robot/send?access_token=…``): 310000 when the 加签 signature (``timestamp`` and
  ``sign``, HMAC-SHA256 of ``"{timestamp}\\n{secret}"``, base64) is missing, wrong or more than an
  hour off; 300001 for an unknown token.
- WeCom (``/cgi-bin/webhook/send?key=…``): 93000 for an unknown key.
- ``refuse(n, errcode)``: the next n messages are refused with that errcode (rate limits:
  130101 DingTalk, 45009 WeCom), to test that the hub retries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class ChatRobot:
    url: str
    token: str
    secret: str | None
    messages: list[dict[str, Any]] = field(default_factory=list)
    refusals: list[int] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    _server: Any = None

    def refuse(self, times: int, errcode: int) -> None:
        self.refusals.extend([errcode] * times)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        robot: ChatRobot = self.server.robot
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        errcode, errmsg = self._judge(robot, parts.path, query)
        if errcode == 0 and robot.refusals:
            errcode, errmsg = robot.refusals.pop(0), "refused by the stand-in (rate limit)"
        if errcode == 0:
            try:
                robot.messages.append(json.loads(body))
            except ValueError:
                errcode, errmsg = 40008, "invalid message"
        robot.answers.append(errcode)
        out = json.dumps({"errcode": errcode, "errmsg": errmsg}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    @staticmethod
    def _judge(robot: ChatRobot, path: str, query: dict[str, str]) -> tuple[int, str]:
        if path == "/cgi-bin/webhook/send":
            return (0, "ok") if query.get("key") == robot.token else (93000, "invalid webhook url")
        if path != "/robot/send":
            return 404, "no such robot"
        if query.get("access_token") != robot.token:
            return 300001, "token is not exist"
        if robot.secret is not None:
            stamp, sign = query.get("timestamp", ""), query.get("sign", "")
            if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 16):
                return 310000, "sign not match"
            if abs(time.time() * 1000 - int(stamp)) > 3_600_000:
                return 310000, "invalid timestamp"
            if not hmac.compare_digest(sign, dingtalk_sign(robot.secret, int(stamp))):
                return 310000, "sign not match"
        return 0, "ok"


def start(ctx: ssl.SSLContext, token: str, secret: str | None = None) -> ChatRobot:
    """Serve HTTPS on a free loopback port in a thread."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    robot = ChatRobot(f"https://127.0.0.1:{server.server_address[1]}", token, secret, _server=server)
    server.robot = robot  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, name="chat-robot", daemon=True).start()
    return robot
