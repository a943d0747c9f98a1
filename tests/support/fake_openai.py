"""A scripted OpenAI-compatible server on 127.0.0.1: for wire tests with the real `ChatOpenAI` client, and for
the speed benchmark's fixed-delay teacher.

Each request to ``/v1/chat/completions`` is answered by a Python function: return a string (the
reply content) or a `Scripted` to control status, headers, delay, finish reason or raw bytes.
Every request body is recorded for assertions.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar


@dataclass
class Scripted:
    """A fully specified reply."""

    content: str = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    finish_reason: str = "stop"
    raw: bytes | None = None  # sent as the body verbatim (for broken JSON bodies)
    logprobs: list[tuple[str, float]] | None = None  # (token, logprob), sent when the request asks for them
    top: list[list[tuple[str, float]]] | None = None  # per token of `logprobs`, its alternatives (top_logprobs)


Responder = Callable[[dict], "str | Scripted"]


class _QuietServer(ThreadingHTTPServer):
    """A threading HTTP server that does not print a traceback when a client hangs up before the reply."""

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that timed out or was killed is part of the fault tests, not an error of the server.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class FakeOpenAI:
    """A loopback HTTP server speaking the chat-completions API; use as a context manager."""

    def __init__(self, respond: Responder, models: tuple[str, ...] = ("teacher",), api_key: str | None = None) -> None:
        self.respond = respond
        self.models = models
        self.api_key = api_key  # when set, a request without "Authorization: Bearer <api_key>" gets HTTP 401
        self.requests: list[dict] = []
        self.request_headers: list[dict[str, str]] = []  # the HTTP headers of each request, in order
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def unauthorised(self) -> bool:
                if outer.api_key is None or self.headers.get("Authorization") == f"Bearer {outer.api_key}":
                    return False
                self._send(401, {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}})
                return True

            def do_GET(self) -> None:
                if not self.unauthorised():
                    self._send(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in outer.models]})

            def do_POST(self) -> None:
                if self.unauthorised():
                    return
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with outer._lock:
                    outer.requests.append(body)
                    outer.request_headers.append(dict(self.headers))
                reply = outer.respond(body)
                if isinstance(reply, str):
                    reply = Scripted(content=reply)
                time.sleep(reply.delay)
                if reply.raw is not None:
                    self._send(reply.status, None, reply.raw, reply.headers)
                elif reply.status != 200:
                    message = reply.content or f"scripted {reply.status}"
                    self._send(reply.status, {"error": {"message": message}}, headers=reply.headers)
                else:
                    prompt = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
                    choice: dict[str, object] = {
                        "index": 0,
                        "finish_reason": reply.finish_reason,
                        "message": {"role": "assistant", "content": reply.content},
                    }
                    # Like llama-cpp-python's server, the strictest we know: log-probabilities only when the
                    # request sets top_logprobs too (OpenAI and vLLM also answer logprobs=true alone).
                    if body.get("logprobs") and body.get("top_logprobs") is not None and reply.logprobs is not None:
                        top = reply.top or [[] for _ in reply.logprobs]
                        choice["logprobs"] = {
                            "content": [
                                {
                                    "token": t,
                                    "logprob": lp,
                                    "bytes": list(t.encode()),
                                    "top_logprobs": [{"token": a, "logprob": alp, "bytes": None} for a, alp in alts],
                                }
                                for (t, lp), alts in zip(reply.logprobs, top, strict=True)
                            ]
                        }
                    self._send(
                        200,
                        {
                            "id": "chatcmpl-1",
                            "object": "chat.completion",
                            "created": 0,
                            "model": body.get("model", "teacher"),
                            "choices": [choice],
                            "usage": {
                                "prompt_tokens": len(prompt) // 4,
                                "completion_tokens": max(1, len(reply.content) // 4),
                                "total_tokens": len(prompt) // 4 + max(1, len(reply.content) // 4),
                            },
                        },
                        headers=reply.headers,
                    )

            def _send(
                self, status: int, obj: object, raw: bytes | None = None, headers: dict[str, str] | None = None
            ) -> None:
                data = raw if raw is not None else json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        """Base URL for `ChatOpenAI(base_url=...)`."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        # A short poll interval: shutdown() waits up to one interval, and tests start many servers.
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def prompt_of(body: dict) -> str:
    """The text of all messages in a request."""
    return "\n".join(str(m.get("content", "")) for m in body.get("messages", []))


def schema_name(body: dict) -> str:
    """Which reply model the request asks for (from its response_format), or ""."""
    rf = body.get("response_format") or {}
    if "json_schema" in rf:
        return rf["json_schema"].get("name", "")
    return (rf.get("schema") or {}).get("title", "")


def is_label_only(body: dict) -> bool:
    """Whether a request is the Critic's label-only call: plain text (no response_format) with alternatives per
    token asked for."""
    return "response_format" not in body and bool(body.get("top_logprobs"))


def user_turn(body: dict) -> str:
    """The last user message of a request."""
    return next(str(m["content"]) for m in reversed(body["messages"]) if m.get("role") == "user")


def numbered_texts(prompt: str) -> list[str]:
    """The texts of a classification labelling prompt's data block (``[1] ...`` lines), in order."""
    block = prompt.split("<<<")[1].split(">>>")[0]
    return [t.strip() for t in re.split(r"^\[\d+\] ", block, flags=re.M)[1:]]


class SentimentTeacher:
    """A deterministic 'teacher' for a positive/negative task: it writes and labels by keywords.

    Generated texts are unique (a counter word) and use the vocabulary of `tiny_sentiment_data`.
    With ``by_seed`` the unique word is the request's seed instead, so every reply depends on its
    request alone, whatever the order: a resumed run is answered exactly like an uninterrupted one.
    """

    WORDS: ClassVar[dict[str, str]] = {"positive": "good great lovely", "negative": "bad awful boring"}

    def __init__(self, by_seed: bool = False) -> None:
        self.counter = itertools.count()
        self.by_seed = by_seed

    def __call__(self, body: dict) -> str | Scripted:
        prompt, kind = prompt_of(body), schema_name(body)
        if kind == "Analysis":
            return json.dumps(
                {
                    "summary": "It misses mild wording.",
                    "weaknesses": [
                        {"label": "negative", "pattern": "mild complaints"},
                        {"label": "unknown", "pattern": "dropped: not a label"},
                    ],
                }
            )
        if kind == "GeneratedText":
            label = re.search(r"^Label: (\S+)", prompt, re.M).group(1)  # type: ignore[union-attr]
            n = body["seed"] if self.by_seed else next(self.counter)
            return f'```json\n{{"text": "a {self.WORDS[label]} film number w{n}"}}\n```'
        if kind == "LabelVerdict":
            return json.dumps({"labels": ["positive" if "good" in t else "negative" for t in numbered_texts(prompt)]})
        if is_label_only(body):  # the label alone, sure of "good" texts, 70/30 on the others
            sure = "good" in user_turn(body)
            label, other, p = ("positive", "negative", 0.9) if sure else ("negative", "positive", 0.7)
            alternatives = [(label, math.log(p)), (" " + other.capitalize(), math.log(1 - p))]
            return Scripted(content=label, logprobs=[(label, math.log(p))], top=[alternatives])
        return "{}"


class NerTeacher:
    """A deterministic 'teacher' for NER over the types person, geo-loc and company (see tests/test_ner_graph.py).

    The Generator writes one sentence per request around a name of the requested type, made unique by
    the request's seed (``w<seed>``). The seed also picks one of four variants, so each round has
    both accepted and rejected sentences: 0 plain; 1 the Critic retypes the names in capitals
    (accepted: the sentence's casing is kept); 2 the Critic adds an unknown type; 3 it adds a
    mention that is not in the sentence.
    """

    NAMES: ClassVar[dict[str, str]] = {
        "Alice Smith": "person",
        "Bob": "person",
        "Paris": "geo-loc",
        "London": "geo-loc",
        "Acme": "company",
        "Globex": "company",
    }
    BY_TYPE: ClassVar[dict[str, list[str]]] = {
        "person": ["Alice Smith", "Bob"],
        "geo-loc": ["Paris", "London"],
        "company": ["Acme", "Globex"],
    }

    def __init__(self) -> None:
        self.counter = itertools.count(10_000)

    def __call__(self, body: dict) -> str:
        prompt, kind = prompt_of(body), schema_name(body)
        if kind == "Analysis":
            return json.dumps(
                {
                    "summary": "It misses company names.",
                    "weaknesses": [
                        {"label": "company", "pattern": "short company names"},
                        {"label": "ORG", "pattern": "dropped: not a type of the task"},
                    ],
                }
            )
        if kind == "GeneratedText":
            etype = re.search(r"^Entity type: (\S+)", prompt, re.M).group(1)  # type: ignore[union-attr]
            n = body.get("seed") if body.get("seed") is not None else next(self.counter)
            tail = ["", "", "at mordor ", "near gotham "][n % 4]
            return json.dumps({"text": f"we met {self.BY_TYPE[etype][n % 2]} in London today {tail}w{n}"})
        if kind == "Annotation":
            text = prompt.split("<<<")[1].split(">>>")[0]
            n = int(re.search(r"w(\d+)", text).group(1)) if re.search(r"w(\d+)", text) else 0  # type: ignore[union-attr]
            entities = [
                {"text": name.upper() if n % 4 == 1 else name, "type": etype}
                for name, etype in self.NAMES.items()
                if name in text
            ]
            if "mordor" in text:
                entities.append({"text": "mordor", "type": "realm"})  # unknown_type
            if "gotham" in text:
                entities.append({"text": "Gotham City", "type": "geo-loc"})  # not_substring
            return json.dumps({"entities": entities})
        return "{}"
