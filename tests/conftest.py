"""Shared fixtures: offline settings, a tiny sentiment dataset, a tiny student, a scripted teacher."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["TRANSFORMERS_VERBOSITY"] = "error"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
os.environ.pop("OPENAI_BASE_URL", None)
os.environ.pop("OPENAI_API_KEY", None)

import torch  # noqa: E402

# One thread: the suite shares 2 cores with loopback servers, and oversubscribed torch threads run ~6x slower.
torch.set_num_threads(1)

from tests.support.fake_openai import FakeOpenAI, SentimentTeacher  # noqa: E402
from tests.support.tiny_model import make_tiny_model  # noqa: E402

POS = ["good film", "great acting", "lovely story", "a good and great movie", "lovely great cast", "good fun"]
NEG = ["bad film", "awful acting", "boring story", "a bad and awful movie", "boring awful cast", "bad plot"]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    """Write rows as JSONL."""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture
def sentiment_dir(tmp_path: Path) -> Path:
    """A small two-label dataset folder with train/dev/test JSONL splits."""
    folder = tmp_path / "data"
    folder.mkdir()
    rows = [{"text": t, "label": "positive"} for t in POS] + [{"text": t, "label": "negative"} for t in NEG]
    write_jsonl(folder / "train.jsonl", rows)
    write_jsonl(folder / "dev.jsonl", [{"text": f"{r['text']} indeed", "label": r["label"]} for r in rows])
    write_jsonl(folder / "test.jsonl", [{"text": f"truly {r['text']}", "label": r["label"]} for r in rows])
    return folder


@pytest.fixture(scope="session")
def tiny_student(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny untrained BERT whose vocabulary covers the sentiment data and the scripted teacher's texts."""
    words = " ".join(POS + NEG) + " indeed truly film number a and"
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "student", [words, *POS, *NEG])


@pytest.fixture
def teacher_server() -> FakeOpenAI:
    """A scripted sentiment teacher on 127.0.0.1, spoken to by the real ChatOpenAI client."""
    with FakeOpenAI(SentimentTeacher()) as server:
        yield server
