"""A real HTTP server on 127.0.0.1 that plays a script of OpenAI-compatible replies.

Why a server and not a mocked transport: the client's timeouts, retries, status handling and
body parsing are exercised over a real socket, exactly as against a hosted API or llama.cpp.
Each request is recorded (body and headers) so tests can assert what was sent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict -> JSON, str -> as is
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Seen:
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def format(self) -> str:
        rf = self.body.get("response_format")
        return "plain" if rf is None else str(rf["type"])


Script = Callable[[int, Seen], Reply]
"""(index of the request, the request) -> what to answer."""


def completion(
    content: str | None,
    finish_reason: str = "stop",
    prompt_tokens: int = 120,
    completion_tokens: int = 30,
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def verdict_json(
    decision: str = "approve", confidence: float = 0.8, reasons: tuple[str, ...] = ("ok",)
) -> str:
    return json.dumps(
        {"decision": decision, "confidence": confidence, "reasons": list(reasons), "risks": []}
    )


def ok(decision: str = "approve", confidence: float = 0.8) -> Reply:
    return Reply(body=completion(verdict_json(decision, confidence)))


LLAMA_CPP_REFUSAL = Reply(
    500,
    {
        "error": {
            "code": 500,
            "message": "Unrecognized response_format type: json_schema (validation error)",
            "type": "server_error",
        }
    },
)
"""How llama.cpp's server refuses ``json_schema``: HTTP 500, the message names the field."""


class FakeOpenAI:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's spelling
                size = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(size)
                headers = {k.lower(): v for k, v in self.headers.items()}
                seen = Seen(json.loads(raw or b"{}"), headers)
                with fake._lock:
                    index = len(fake.seen)
                    fake.seen.append(seen)
                if self.path != "/v1/chat/completions":
                    reply = Reply(404, {"error": {"message": f"no route {self.path}"}})
                else:
                    reply = fake.script(index, seen)
                if reply.delay_s and fake._stop.wait(reply.delay_s):
                    return
                body = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                data = body.encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout) and closed the socket

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"

    @contextmanager
    def running(self) -> Iterator[FakeOpenAI]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._server.shutdown()
            self._server.server_close()
            thread.join(timeout=10)

    @property
    def formats(self) -> list[str]:
        return [s.format for s in self.seen]


def always(reply: Reply) -> Script:
    return lambda _i, _seen: reply


def sequence(*replies: Reply) -> Script:
    """The i-th request gets the i-th reply; later ones get the last."""
    return lambda i, _seen: replies[min(i, len(replies) - 1)]
