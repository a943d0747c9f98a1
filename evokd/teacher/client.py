"""The one teacher client every agent shares.

It talks to any OpenAI-compatible endpoint through `langchain_openai.ChatOpenAI`, asks for JSON
(schema-constrained where the server supports it), repairs or retries malformed replies a bounded
number of times, counts tokens, runs requests concurrently, and can cache replies on disk so a
rerun never pays twice. Transport faults (5xx, 429, timeouts, refused connections) are retried
with backoff by the OpenAI client itself, which honours ``Retry-After``; when they persist the
caller gets a `TeacherUnavailable` with a one-line reason.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar, get_origin
from urllib.parse import urlparse

import openai
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, ValidationError

from evokd.settings import JsonMode

T = TypeVar("T", bound=BaseModel)
A = TypeVar("A")
R = TypeVar("R")

# Far above any reply a max_tokens cap allows; a server that ignores the cap is not parsed at all.
MAX_REPLY_CHARS = 100_000
BAD_RESPONSE = "bad_response"  # an HTTP 200 whose body is not a chat completion (cut off, not JSON, wrong shape)


class TeacherUnavailable(RuntimeError):
    """The endpoint kept failing after the client's retries; the run stops with its checkpoint intact."""


@dataclass
class Reply(Generic[T]):
    """What one request produced: the parsed model, or the reason it was rejected, and its cost."""

    parsed: T | None
    reason: str | None  # None when parsed; otherwise malformed / truncated / empty / oversized / bad_response
    prompt_tokens: int = 0
    completion_tokens: int = 0
    attempts: int = 0
    raw: str = ""
    cached: bool = False
    seconds: float = 0.0  # wall time spent waiting on the endpoint (0 for cache hits), for speed accounting
    token_logprobs: list[tuple[str, float]] = field(default_factory=list)
    """(token, log-probability) of the kept reply, when asked for and the endpoint returns them."""
    top_logprobs: list[list[tuple[str, float]]] = field(default_factory=list)
    """Per reply token, the likeliest tokens at that position with their log-probabilities (`ask_plain` only)."""

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens spent on this request, retries included."""
        return self.prompt_tokens + self.completion_tokens


def value_confidences(reply: Reply[Any], values: Sequence[str]) -> list[float | None]:
    """The teacher's probability for each of ``values`` as its reply writes them, in order: the product of
    the probabilities of the tokens that spell each value's quoted string (``"positive"``), each looked
    for after the previous one, so a call labelling several texts gives each its own confidence.

    All None when the reply carries no log-probabilities, or its tokens do not spell its text (a server
    that normalised the content), since no span can then be located honestly; None for a value not found.
    """
    tokens = reply.token_logprobs
    if not tokens or "".join(t for t, _ in tokens) != reply.raw:
        return [None] * len(values)
    out: list[float | None] = []
    cursor = reply.raw.find("[")  # past the field name, so a label spelled like the key is not matched in it
    for value in values:
        quoted = json.dumps(value, ensure_ascii=False)
        found = reply.raw.find(quoted, max(cursor, 0)) if value else -1
        if found < 0:
            out.append(None)
            continue
        start, end, logprob, offset = found + 1, found + len(quoted) - 1, 0.0, 0  # inside the quotes
        for token, lp in tokens:
            if offset < end and offset + len(token) > start:  # the token overlaps the value's characters
                logprob += lp
            offset += len(token)
        out.append(math.exp(logprob))
        cursor = end
    return out


def value_probabilities(reply: Reply[Any], values: Sequence[str]) -> dict[str, float] | None:
    """The teacher's probability for each of ``values`` (short answers such as labels), renormalised over them,
    from the likeliest tokens at each position of a free-text reply (`Reply.top_logprobs`); None without them.

    It walks the reply's own tokens: at each position every alternative token that, after what the reply spelled
    so far, begins a value (or spells it and more) adds its probability to that value (shared equally where it
    begins several), and the reply's own path adds its probability to the value it spells. Case and leading
    spaces are ignored, so "Positive" and " positive" both count for "positive". Where no likely token begins
    any value, None: the reply is then read from its text alone.
    """
    if not reply.top_logprobs:
        return None
    folded = {v: v.casefold() for v in values}

    def fitting(spelled: str) -> list[str]:
        return [v for v in values if spelled and (folded[v].startswith(spelled) or spelled.startswith(folded[v]))]

    mass = dict.fromkeys(values, 0.0)
    prefix, path = "", 0.0  # what the reply spelled so far and its log-probability
    for (chosen, logprob), alternatives in zip(reply.token_logprobs, reply.top_logprobs, strict=False):
        for token, lp in alternatives:
            fits = fitting((prefix + token).lstrip().casefold()) if token != chosen else []
            for v in fits:
                mass[v] += math.exp(path + lp) / len(fits)
        prefix, path = prefix + chosen, path + logprob
        spelled = prefix.lstrip().casefold()
        if not spelled:
            continue
        named = [v for v in values if spelled.startswith(folded[v])]
        if named or not fitting(spelled):  # the path has spelled a value, or left them all: it ends here
            break
    spelled = prefix.lstrip().casefold()
    ends = [v for v in values if spelled.startswith(folded[v])] or fitting(spelled)
    for v in ends:
        mass[v] += math.exp(path) / len(ends)
    total = sum(mass.values())
    return {v: m / total for v, m in mass.items()} if total > 0 else None


def extract_json(raw: str) -> object | None:
    """The first JSON object in ``raw``, tolerating code fences and prose around it."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[{\[]", raw):
        try:
            value, _ = decoder.raw_decode(raw, match.start())
        except json.JSONDecodeError:
            continue
        except RecursionError:  # absurdly deep nesting: every later start nests as deep, so give up at once
            return None
        if isinstance(value, dict):
            return value
        if isinstance(value, list) and value and isinstance(value[0], dict):
            return value[0]  # a one-element list around the object is a common small-model slip
    return None


def bare_value(text: str, schema: type[BaseModel]) -> dict[str, Any] | None:
    """A bare one-line answer to a one-field request as that field's value ("positive", or the text itself;
    for a list field a JSON list or a single item), else None: small models often drop the JSON wrapper."""
    line = text.strip("`").strip()
    if len(schema.model_fields) != 1 or "{" in text or "\n" in line:
        return None
    name, info = next(iter(schema.model_fields.items()))
    if get_origin(info.annotation) is list:
        try:
            items = json.loads(line)
        except json.JSONDecodeError:
            items = [line.strip("\"' ")]
        except RecursionError:  # absurdly deep nesting is no answer
            return None
        return {name: items if isinstance(items, list) else [items]}
    return None if line.startswith("[") else {name: line.strip("\"' ")}


def parse_reply(raw: str, schema: type[T]) -> tuple[T | None, str | None]:
    """Parse a reply into ``schema``, repairing what can be repaired; else return a reason code."""
    text = raw.strip()
    if not text:
        return None, "empty"
    if len(text) > MAX_REPLY_CHARS:
        return None, "oversized"
    value = extract_json(text)
    if value is None:
        value = bare_value(text, schema)
        if value is None:
            return None, "malformed"
    try:
        return schema.model_validate(value), None
    except ValidationError:
        return None, "malformed"


@dataclass
class Completion:
    """What the endpoint sent back for one request (or what the cache kept of it)."""

    content: str
    finish: str
    prompt_tokens: int
    completion_tokens: int
    logprobs: list[tuple[str, float]] = field(default_factory=list)
    top: list[list[tuple[str, float]]] = field(default_factory=list)


class ReplyCache:
    """Teacher replies on disk, keyed by the exact request, so reruns and resumed runs do not pay twice."""

    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, content TEXT, finish TEXT,"
            " prompt_tokens INTEGER, completion_tokens INTEGER, logprobs TEXT DEFAULT '[]', top TEXT DEFAULT '[]')"
        )
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(replies)")}
        for column in ("logprobs", "top"):  # a cache written before (top) log-probabilities were kept
            if column not in columns:
                self._db.execute(f"ALTER TABLE replies ADD COLUMN {column} TEXT DEFAULT '[]'")
        self._lock = threading.Lock()

    def get(self, key: str) -> Completion | None:
        """The cached completion, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT content, finish, prompt_tokens, completion_tokens, logprobs, top FROM replies WHERE key=?",
                (key,),
            ).fetchone()
        if not row:
            return None
        top = [[(t, lp) for t, lp in position] for position in json.loads(row[5] or "[]")]
        return Completion(row[0], row[1], row[2], row[3], [(t, lp) for t, lp in json.loads(row[4] or "[]")], top)

    def put(self, key: str, c: Completion) -> None:
        """Store one completion (the first write for a key wins)."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO replies VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    c.content,
                    c.finish,
                    c.prompt_tokens,
                    c.completion_tokens,
                    json.dumps(c.logprobs),
                    json.dumps(c.top),
                ),
            )


def response_format(schema: type[BaseModel], mode: JsonMode) -> dict[str, Any] | None:
    """The ``response_format`` to send: a JSON schema (OpenAI, vLLM, llama.cpp), JSON mode, or none."""
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": schema.__name__, "schema": schema.model_json_schema()}}
    if mode == "json_object":  # llama.cpp also reads the schema here and constrains decoding to it
        return {"type": "json_object", "schema": schema.model_json_schema()}
    return None


class Teacher:
    """A chat model plus the JSON discipline, accounting, concurrency and caching the agents need."""

    def __init__(
        self,
        chat: BaseChatModel,
        *,
        model_id: str = "",
        json_mode: JsonMode = "json_schema",
        parse_attempts: int = 2,
        concurrency: int = 4,
        cache: ReplyCache | None = None,
    ) -> None:
        self.chat = chat
        self.model_id = model_id
        self.json_mode = json_mode
        self.parse_attempts = max(1, parse_attempts)
        self.concurrency = max(1, concurrency)
        self.cache = cache

    def _params(
        self, rf: dict[str, Any] | None, seed: int | None, logprobs: bool, top: int, max_tokens: int | None
    ) -> dict[str, Any]:
        """The extra chat-completion parameters of one request; invoke forwards them to the endpoint."""
        kwargs: dict[str, Any] = {}
        if rf is not None:
            kwargs["response_format"] = rf
        if seed is not None:
            kwargs["seed"] = seed
        if max_tokens is not None:
            kwargs["max_tokens"] = max_tokens
            if LEGACY_CAP in (extra := getattr(self.chat, "extra_body", None) or {}):
                kwargs["extra_body"] = {**extra, LEGACY_CAP: max_tokens}  # the same cap under the older name
        if logprobs:  # llama.cpp's Python server sends them only when top_logprobs is set too (0: the chosen token)
            kwargs["logprobs"], kwargs["top_logprobs"] = True, top
        return kwargs

    def _call(
        self,
        prompt: str,
        rf: dict[str, Any] | None,
        seed: int | None,
        logprobs: bool,
        *,
        system: str = "",
        top: int = 0,
        max_tokens: int | None = None,
    ) -> tuple[Completion, bool]:
        """One request (or a cache hit), and whether it came from the cache.

        ``system`` goes before the prompt as a system message; ``top`` asks for that many alternatives per
        reply token (with ``logprobs``); ``max_tokens`` caps this reply instead of the client's own cap."""
        request: list[object] = [self.model_id, prompt, rf, seed]
        if logprobs:  # only then, so replies cached without log-probabilities keep their keys; "top_logprobs=0"
            request.append(f"logprobs, top_logprobs={top}")  # since a request without it got none from llama.cpp
        if system or max_tokens is not None:  # likewise: the keys of plain JSON calls stay as they were
            request.append({"system": system, "max_tokens": max_tokens})
        key = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
        if self.cache and (hit := self.cache.get(key)):
            return hit, True
        kwargs = self._params(rf, seed, logprobs, top, max_tokens)
        messages: list[BaseMessage] = [SystemMessage(system)] if system else []
        try:
            msg = self.chat.invoke([*messages, HumanMessage(prompt)], **kwargs)
        except openai.APIStatusError as e:
            hint = "; if the server rejects response_format, try --json-mode none" if e.status_code == 400 else ""
            raise TeacherUnavailable(
                f"teacher answered HTTP {e.status_code} after retries: {_short(e)}{hint}"
            ) from None
        except (openai.APIConnectionError, openai.APITimeoutError) as e:
            raise TeacherUnavailable(f"teacher unreachable after retries: {_short(e)}") from None
        except (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError) as e:
            # In json_schema mode the client refuses to hand over a reply cut off by max_tokens or a
            # content filter; it is still a paid reply, kept and counted like any other.
            result = _unparsed(e)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
            # The client could not read the body as a chat completion: a bad reply, re-asked like a
            # malformed one and never cached. The first line of the error stays visible in Reply.raw.
            return Completion(f"{BAD_RESPONSE}: {_short(e)}", BAD_RESPONSE, 0, 0), False
        else:
            content = msg.content if isinstance(msg.content, str) else json.dumps(msg.content)
            usage = getattr(msg, "usage_metadata", None) or {}
            meta = msg.response_metadata or {}
            positions = (meta.get("logprobs") or {}).get("content") or []
            tokens = [(str(t.get("token", "")), float(t.get("logprob", 0.0))) for t in positions]
            alternatives = [
                [(str(a.get("token", "")), float(a.get("logprob", 0.0))) for a in t.get("top_logprobs") or []]
                for t in positions
            ]
            result = Completion(
                content,
                str(meta.get("finish_reason") or ""),
                int(usage.get("input_tokens", 0)),
                int(usage.get("output_tokens", 0)),
                tokens,
                alternatives if top else [],
            )
        if self.cache:
            self.cache.put(key, result)
        return result, False

    def ask(
        self,
        prompt: str,
        schema: type[T],
        seed: int | None = None,
        logprobs: bool = False,
        max_tokens: int | None = None,
    ) -> Reply[T]:
        """Ask once, re-asking on a malformed reply up to ``parse_attempts`` times in all.

        ``logprobs`` asks the endpoint for token log-probabilities (kept in `Reply.token_logprobs`);
        ``max_tokens`` caps this reply instead of the client's own cap.
        """
        rf = response_format(schema, self.json_mode)
        reply: Reply[T] = Reply(parsed=None, reason="empty")
        for attempt in range(self.parse_attempts):
            # A different seed per attempt so a re-ask is not answered with the same broken reply.
            attempt_seed = None if seed is None else seed + 7919 * attempt
            started = time.perf_counter()
            c, cached = self._call(prompt, rf, attempt_seed, logprobs, max_tokens=max_tokens)
            reply.seconds += 0.0 if cached else time.perf_counter() - started
            reply.prompt_tokens += c.prompt_tokens
            reply.completion_tokens += c.completion_tokens
            reply.attempts = attempt + 1
            reply.raw, reply.cached, reply.token_logprobs = c.content, cached, c.logprobs
            parsed, reason = (None, BAD_RESPONSE) if c.finish == BAD_RESPONSE else parse_reply(c.content, schema)
            if parsed is not None:
                reply.parsed, reply.reason = parsed, None
                return reply
            reply.reason = "truncated" if c.finish == "length" else reason
        return reply

    def ask_many(
        self,
        prompts: Sequence[str],
        schema: type[T],
        seeds: Sequence[int | None] | None = None,
        logprobs: bool = False,
        max_tokens: int | None = None,
    ) -> list[Reply[T]]:
        """Ask several prompts concurrently (at most ``concurrency`` in flight), replies in order."""
        seeds = list(seeds) if seeds is not None else [None] * len(prompts)
        return self._concurrently(
            lambda ps: self.ask(ps[0], schema, ps[1], logprobs, max_tokens), list(zip(prompts, seeds, strict=True))
        )

    def ask_plain(self, system: str, prompts: Sequence[str], max_tokens: int, top: int) -> list[Reply[BaseModel]]:
        """Short free-text replies (no JSON asked for, nothing parsed: ``parsed`` stays None), one per prompt,
        each after the same ``system`` message, with the ``top`` likeliest tokens at each reply position.

        One request each, concurrently: at temperature 0 a re-ask would get the same reply. ``reason`` is None
        for a reply with text, else empty / bad_response."""

        def one(prompt: str) -> Reply[BaseModel]:
            started = time.perf_counter()
            c, cached = self._call(prompt, None, None, True, system=system, top=top, max_tokens=max_tokens)
            reason = BAD_RESPONSE if c.finish == BAD_RESPONSE else None if c.content.strip() else "empty"
            return Reply(
                parsed=None,
                reason=reason,
                prompt_tokens=c.prompt_tokens,
                completion_tokens=c.completion_tokens,
                attempts=1,
                raw=c.content,
                cached=cached,
                seconds=0.0 if cached else time.perf_counter() - started,
                token_logprobs=c.logprobs,
                top_logprobs=c.top,
            )

        return self._concurrently(one, list(prompts))

    def _concurrently(self, ask: Callable[[A], R], items: list[A]) -> list[R]:
        """``ask`` on every item, at most ``concurrency`` in flight, results in order."""
        if self.concurrency == 1 or len(items) <= 1:
            return [ask(item) for item in items]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(ask, items))


def _unparsed(e: openai.LengthFinishReasonError | openai.ContentFilterFinishReasonError) -> Completion:
    """A completion the client would not parse (cut off or filtered), kept with its cost."""
    completion = e.completion
    if completion is None or not completion.choices:
        return Completion("", "content_filter", 0, 0)
    usage = completion.usage
    return Completion(
        completion.choices[0].message.content or "",
        completion.choices[0].finish_reason,
        usage.prompt_tokens if usage else 0,
        usage.completion_tokens if usage else 0,
    )


def _short(e: Exception) -> str:
    """First line of an exception message, without the API key (a server may echo it) or request body."""
    key, text = os.environ.get("OPENAI_API_KEY", ""), str(e)
    if len(key) >= 8:  # redacted before cutting, so no part of it survives the cut
        text = text.replace(key, "***")
    return text.splitlines()[0][:200] if text.strip() else e.__class__.__name__


TOP_P = 0.95  # llama.cpp's server default, sent explicitly so OpenAI (1.0) and vLLM sample the same way


LEGACY_CAP = "max_tokens"  # the reply cap's older request field, which llama-cpp-python's server reads


def reply_cap(base_url: str, max_tokens: int) -> dict[str, int]:
    """The reply cap under its older name, sent beside the ``max_completion_tokens`` langchain-openai sends.

    llama-cpp-python's server reads only ``max_tokens``: without it every cap was ignored and a runaway reply ran
    to the end of the context (3,742 tokens of one Analyst reply in a 16,000-token benchmark run). OpenAI's own
    API (no base URL, or an openai.com host) gets the newer name alone.
    """
    host = (urlparse(base_url).hostname or "") if base_url else "api.openai.com"
    return {} if host == "openai.com" or host.endswith(".openai.com") else {LEGACY_CAP: max_tokens}


def chat_model(
    base_url: str,
    model: str,
    *,
    temperature: float,
    max_tokens: int,
    timeout: float,
    max_retries: int,
    top_p: float = TOP_P,
) -> BaseChatModel:
    """A `ChatOpenAI` for the endpoint; the key comes only from ``OPENAI_API_KEY`` and is never stored.

    Every sampling parameter of the OpenAI API is sent on every call (temperature, top_p, no frequency
    or presence penalty, max_tokens; the seed per request), so a server's own defaults never change the
    method. Server-specific samplers (llama.cpp's top_k, min_p, repeat_penalty) are not part of that API
    and keep each server's defaults.
    """
    from langchain_openai import ChatOpenAI  # imported here so importing the graph needs no OpenAI setup

    return ChatOpenAI(
        base_url=base_url or None,
        model=model,
        api_key=os.environ.get("OPENAI_API_KEY") or "EMPTY",
        temperature=temperature,
        top_p=top_p,
        frequency_penalty=0.0,
        presence_penalty=0.0,
        max_tokens=max_tokens,
        extra_body=reply_cap(base_url, max_tokens) or None,
        timeout=timeout,
        max_retries=max_retries,
    )
