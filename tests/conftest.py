"""Shared fixtures: offline settings, tiny sentiment and NER datasets, tiny students, scripted teachers.

The folder a test lives in is its layer, and marks the slow and server lanes (see `LANE_MARKS`):
unit/ (a module alone), graph/ (the graph or CLI end to end), wire/ (the real ChatOpenAI client against
the scripted loopback server: faults, security, determinism, crashes), server/ (`langgraph dev` through
the SDK, marked ``server``), slow/ (the real teacher and student, marked ``slow``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["TRANSFORMERS_VERBOSITY"] = "error"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
os.environ.pop("OPENAI_BASE_URL", None)
os.environ.pop("OPENAI_API_KEY", None)

import torch

# One thread: the suite shares 2 cores with loopback servers, and oversubscribed torch threads run ~6x slower.
torch.set_num_threads(1)

from tests.support.data import NEG, NER_DEV, NER_TEST, NER_TRAIN, POS, conll, write_jsonl  # noqa: E402
from tests.support.fake_openai import FakeOpenAI, NerTeacher, SentimentTeacher  # noqa: E402
from tests.support.tiny_model import make_tiny_model  # noqa: E402

LANE_MARKS = {"slow": pytest.mark.slow, "server": pytest.mark.server}  # folder under tests/ -> marker


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test by its folder, so a test's lane is where it lives (`-m "not slow"` etc. select lanes)."""
    root = Path(__file__).parent
    for item in items:
        folder = item.path.relative_to(root).parts[0]
        if folder in LANE_MARKS:
            item.add_marker(LANE_MARKS[folder])


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
def teacher_server() -> Iterator[FakeOpenAI]:
    """A scripted sentiment teacher on 127.0.0.1, spoken to by the real ChatOpenAI client."""
    with FakeOpenAI(SentimentTeacher()) as server:
        yield server


@pytest.fixture
def ner_dir(tmp_path: Path) -> Path:
    """A three-type NER dataset: train as a CoNLL file, dev and test as JSONL."""
    folder = tmp_path / "ner-data"
    folder.mkdir()
    (folder / "train.conll").write_text(conll(NER_TRAIN), encoding="utf-8")
    for name, rows in (("dev", NER_DEV), ("test", NER_TEST)):
        write_jsonl(folder / f"{name}.jsonl", [{"tokens": s.split(), "tags": t.split()} for s, t in rows])
    return folder


@pytest.fixture(scope="session")
def ner_student(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny untrained BERT whose vocabulary covers the NER data and the scripted teacher's sentences."""
    words = " ".join(s for s, _ in NER_TRAIN + NER_DEV + NER_TEST) + " we met in today at mordor near gotham"
    return make_tiny_model(tmp_path_factory.mktemp("tiny-ner") / "student", [words])


@pytest.fixture
def ner_server() -> Iterator[FakeOpenAI]:
    """A scripted NER teacher on 127.0.0.1."""
    with FakeOpenAI(NerTeacher()) as server:
        yield server
