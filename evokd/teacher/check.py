"""What an OpenAI-compatible teacher endpoint can do, found by asking it: `evokd teacher check`.

`preflight` is the cheap part (the endpoint answers, the key is accepted, the model is served) that
`evokd run` does before its seed pass, so a wrong URL or key fails in seconds, not after the first
training. `check` also probes structured output (``json_schema``, ``json_object``), token
log-probabilities and whether concurrent requests overlap, and says what to set for each.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import openai
from pydantic import BaseModel, Field

from evokd.settings import JsonMode
from evokd.teacher.client import Teacher, TeacherUnavailable, chat_model

PROBE_PROMPT = 'Reply with the JSON object {"answer": "yes", "number": 7} and nothing else.'
OVERLAP = 1.3  # concurrent requests must finish at least this much faster than one after another to count


class Probe(BaseModel):
    """The reply the probes ask for (two fields, so a bare-word answer cannot pass as structured)."""

    answer: str = Field(description="The word yes.")
    number: int = Field(description="The number 7.")


@dataclass(frozen=True)
class Finding:
    """One thing learnt about the endpoint, and what to set because of it ('' when nothing)."""

    name: str
    ok: bool
    detail: str
    advice: str = ""

    def line(self) -> str:
        """The finding as one terminal line."""
        mark = "ok " if self.ok else "no "
        return f"{mark} {self.name}: {self.detail}" + (f" -> {self.advice}" if self.advice else "")


def served_models(url: str, timeout: float) -> list[str]:
    """The model ids the endpoint lists; `TeacherUnavailable` with one line if it cannot be asked."""
    client = openai.OpenAI(
        base_url=url or None, api_key=os.environ.get("OPENAI_API_KEY") or "EMPTY", timeout=timeout, max_retries=0
    )
    where = url or "the OpenAI API"
    try:
        return [m.id for m in client.models.list()]
    except openai.AuthenticationError:
        raise TeacherUnavailable(
            f"{where} rejected the API key (HTTP 401): set OPENAI_API_KEY to a valid key"
        ) from None
    except (openai.APIConnectionError, openai.APITimeoutError):
        raise TeacherUnavailable(
            f"{where} does not answer: check --teacher-url (or OPENAI_BASE_URL) and that the server is up"
        ) from None
    except openai.APIStatusError as e:
        raise TeacherUnavailable(f"{where} answered HTTP {e.status_code} when asked for its models") from None


def preflight(url: str, model: str, timeout: float = 10.0) -> None:
    """Fail in seconds, with one line, if the endpoint is down, the key is wrong or the model is not served."""
    models = served_models(url, timeout)
    if models and model not in models:
        raise TeacherUnavailable(
            f"model {model!r} is not served at {url or 'the OpenAI API'} (it serves "
            f"{', '.join(models[:8])}): set --teacher-model"
        )


def _teacher(url: str, model: str, json_mode: JsonMode, timeout: float, concurrency: int = 1) -> Teacher:
    chat = chat_model(url, model, temperature=0.0, max_tokens=16, timeout=timeout, max_retries=0)
    return Teacher(chat, model_id=model, json_mode=json_mode, parse_attempts=1, concurrency=concurrency)


def _answers(url: str, model: str, mode: JsonMode, timeout: float) -> bool:
    """Whether a request in this JSON mode comes back as the asked-for object (a 4xx counts as no)."""
    try:
        return _teacher(url, model, mode, timeout).ask(PROBE_PROMPT, Probe).parsed is not None
    except TeacherUnavailable:
        return False


def _overlap(url: str, model: str, mode: JsonMode, timeout: float, concurrency: int) -> tuple[float, float]:
    """Seconds per request one at a time, and the speed-up of ``concurrency`` requests sent together."""
    one = _teacher(url, model, mode, timeout)
    started = time.perf_counter()
    for i in range(concurrency):
        one.ask(PROBE_PROMPT, Probe, seed=i)
    sequential = time.perf_counter() - started
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(lambda i: one.ask(PROBE_PROMPT, Probe, seed=1_000 + i), range(concurrency)))
    together = time.perf_counter() - started
    return sequential / concurrency, sequential / max(together, 1e-9)


def check(url: str, model: str, concurrency: int = 4, timeout: float = 60.0) -> list[Finding]:
    """Probe the endpoint; each finding says what to set. Raises `TeacherUnavailable` if it cannot be reached."""
    models = served_models(url, timeout)
    served = model in models or not models
    findings = [
        Finding("endpoint", True, f"{url or 'the OpenAI API'} answers; serves {', '.join(models[:8]) or '(no list)'}"),
        Finding(
            "model",
            served,
            f"{model!r} " + ("is served" if served else "is not served"),
            "" if served else "set --teacher-model to one of the served ids",
        ),
    ]
    if not served:
        return findings
    modes: dict[JsonMode, bool] = {m: _answers(url, model, m, timeout) for m in ("json_schema", "json_object")}
    best: JsonMode = next((m for m, ok in modes.items() if ok), "none")
    for mode, ok in modes.items():
        findings.append(
            Finding(
                mode,
                ok,
                "structured output " + ("works" if ok else "not honoured"),
                f"--json-mode {best}" if mode == best or (not ok and best == "none") else "",
            )
        )
    reply = _teacher(url, model, best, timeout).ask(PROBE_PROMPT, Probe, logprobs=True)
    findings.append(
        Finding(
            "logprobs",
            bool(reply.token_logprobs),
            "token log-probabilities " + ("returned" if reply.token_logprobs else "not returned"),
            "" if reply.token_logprobs else "teacher confidence unavailable: leave --min-confidence at 0",
        )
    )
    if concurrency > 1:
        latency, speedup = _overlap(url, model, best, timeout, concurrency)
        overlaps = speedup >= OVERLAP
        findings.append(
            Finding(
                "concurrency",
                overlaps,
                f"{latency:.2f} s per request alone; {concurrency} at once ran {speedup:.1f}x faster",
                f"--concurrency {concurrency} pays off"
                if overlaps
                else "the server answers one request at a time: set --concurrency 1",
            )
        )
    return findings
