"""Tiny inline data the fixtures write: a two-label sentiment set and a three-type NER set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# --- the sentiment data of the `sentiment_dir` fixture ------------------------------------------

POS = ["good film", "great acting", "lovely story", "a good and great movie", "lovely great cast", "good fun"]
NEG = ["bad film", "awful acting", "boring story", "a bad and awful movie", "boring awful cast", "bad plot"]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write rows as JSONL."""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


# --- the NER data of the `ner_dir` fixture ------------------------------------------------------

NER_TYPES = ["company", "geo-loc", "person"]
NER_TRAIN = [  # (sentence, tags): a user's CoNLL-2003-style file, four columns, IOB1 spans included
    ("Alice Smith lives in Paris", "I-person I-person O O I-geo-loc"),
    ("Bob works at Acme", "B-person O O B-company"),
    ("Globex opened an office in London", "B-company O O O O B-geo-loc"),
    ("we love Paris", "O O B-geo-loc"),
    ("Acme and Globex merged", "B-company O B-company O"),
    ("Bob met Alice Smith", "B-person O B-person I-person"),
]
NER_DEV = [
    ("Bob visited London today", "B-person O B-geo-loc O"),
    ("Acme hired Alice Smith", "B-company O B-person I-person"),
    ("Paris is nice", "B-geo-loc O O"),
    ("nothing here", "O O"),
]
NER_TEST = [
    ("Alice Smith likes Globex", "B-person I-person O B-company"),
    ("London and Paris", "B-geo-loc O B-geo-loc"),
    ("Bob is here", "B-person O O"),
]


def conll(rows: list[tuple[str, str]]) -> str:
    """CoNLL-2003 layout: -DOCSTART-, token POS chunk tag, a blank line after each sentence."""
    out = ["-DOCSTART- -X- -X- O", ""]
    for sentence, tags in rows:
        out += [f"{tok} NN I-NP {tag}" for tok, tag in zip(sentence.split(), tags.split(), strict=True)] + [""]
    return "\n".join(out) + "\n"


# --- prompt files -------------------------------------------------------------------------------

# A valid critic prompt; <<< >>> mark where the scripted teacher looks for the text to label.
CRITIC_PROMPT = "Label this for $task, one of $labels:\n<<<\n$text\n>>>\nReply with JSON."


def write_file(folder: Path, name: str, text: str) -> Path:
    """Write ``text`` to ``folder/name`` (making folders) and return the path."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
