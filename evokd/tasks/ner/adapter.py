"""NER for the agents: the types' meanings, the Critic's calls, the Analyst's and Generator's text, and the adapter.

The text handling these build on (tokeniser, type matching, mention placement) is in `.text`; the
rules for accepting a sentence are in that module's docstring.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from evokd.data.bio import Span, bio_spans, entity_types, to_iob2
from evokd.data.formats import DataError, Row, jsonl_rows
from evokd.data.readers import Record, check_tags, read_conll, read_table, tagged_example
from evokd.prompts import render
from evokd.schemas import Annotation
from evokd.state import Prediction, Sample
from evokd.student.metrics import f1_of_counts, span_scores
from evokd.student.model import Head
from evokd.task import MASKED, Example, Task
from evokd.tasks.base import HubMetric, LabelCall, TaskAdapter
from evokd.tasks.ner.text import PLACEHOLDER, Tokenizer, fold_type, resolve
from evokd.teacher.client import Reply, Teacher
from evokd.text import bullet_list, clip, described

if TYPE_CHECKING:
    import torch

# ---- the types' meanings ------------------------------------------------------------------------


def glossary_of(label_descriptions: Mapping[str, str] | None) -> dict[str, str]:
    """A data card's ``label_descriptions`` (type -> meaning) keyed by folded type name, so a meaning finds its
    type whatever the card's casing or hyphens ("Geo_Loc" for ``geo-loc``)."""
    return {fold_type(name): meaning for name, meaning in (label_descriptions or {}).items() if meaning}


def describe_types(types: Sequence[str], names: bool = True, glossary: Mapping[str, str] | None = None) -> str:
    """The task's types as a bullet list, each with its meaning where the glossary (the data card's
    ``label_descriptions``, type names matched as `glossary_of` folds them) has one, else by its name alone.

    ``names=False`` drops the example names in brackets: a small Critic copies them into its answer.
    """
    meaning = {k: v if names else re.sub(r"\s*\([^)]*\)$", "", v) for k, v in glossary_of(glossary).items()}
    return described(types, {t: meaning[fold_type(t)] for t in types if fold_type(t) in meaning})


# ---- the Critic's calls --------------------------------------------------------------------------


def ask_entities(
    teacher: Teacher,
    prompt: str,
    task: Task,
    description: str,
    texts: Sequence[str],
    glossary: Mapping[str, str] | None = None,
) -> list[Reply[Annotation]]:
    """The Critic's (text, type) mentions for each sentence: one call each, concurrently."""
    labels = describe_types(task.labels, names=False, glossary=glossary)
    return teacher.ask_many([render(prompt, task=description, labels=labels, text=t) for t in texts], Annotation)


def annotate(
    teacher: Teacher,
    prompt: str,
    task: Task,
    description: str,
    todo: list[Sample],
    tokenizer: Tokenizer | None = None,
    glossary: Mapping[str, str] | None = None,
    mask: bool = False,
) -> list[Reply[Annotation]]:
    """Ask the Critic for each sentence's entities (one call each, concurrently), then place and check them
    in code; set ``tokens``, ``tags``, ``entities``, ``verdict`` and ``reason`` on each sample in place.
    ``mask`` keeps a sentence with failing mentions, their tokens masked (`resolve`), and records them as
    ``masked``."""
    tokenizer = tokenizer or Tokenizer()
    for s in todo:
        if PLACEHOLDER.search(s["text"]):  # "I heard <NAME> play": the Generator left a slot unfilled
            s.update(
                {
                    "verdict": "rejected",
                    "reason": "placeholder",
                    "tokens": tokenizer.tokenize(s["text"]),
                    "tags": [],
                    "entities": [],
                }
            )
    todo = [s for s in todo if s["verdict"] == "pending"]
    replies = ask_entities(teacher, prompt, task, description, [s["text"] for s in todo], glossary)
    for s, reply in zip(todo, replies, strict=True):
        s["teacher_tokens"] = s.get("teacher_tokens", 0) + reply.tokens
        # A bare object without "entities" (one mention instead of the list) validates as an empty list.
        if reply.parsed is None or (not reply.parsed.entities and '"entities"' not in reply.raw):
            s.update(
                {
                    "verdict": "rejected",
                    "reason": reply.reason or "malformed",
                    "tokens": tokenizer.tokenize(unicodedata.normalize("NFC", s["text"])),
                    "tags": [],
                    "entities": [],
                }
            )
            continue
        res = resolve(s["text"], [e.model_dump() for e in reply.parsed.entities], task.labels, tokenizer, mask)
        s.update({"tokens": res.tokens, "tags": res.tags, "entities": res.entities})  # type: ignore[typeddict-item]
        if res.masked and not res.reason:
            s["masked"] = res.masked  # type: ignore[typeddict-item]
        if res.reason:
            s.update({"verdict": "rejected", "reason": res.reason})
        elif s.get("requested") and s["requested"] not in res.types:
            # The Generator was asked for this type: without it the sentence does not serve its purpose.
            s.update({"verdict": "rejected", "reason": "missing_type"})
        else:
            s.update({"verdict": "accepted", "reason": ""})
    return replies


# ---- what the Analyst and Generator read ------------------------------------------------------


def _quote(tokens: Sequence[str], first: int, last: int) -> str:
    return '"' + " ".join(tokens[first:last]) + '"'


def read_spans(gold: Sequence[str], predicted: Sequence[str]) -> tuple[list[Span], list[Span]]:
    """The gold and predicted spans of one sentence; a predicted span touching a masked gold token is left out,
    since what the right answer is there is unknown."""
    hidden = {i for i, tag in enumerate(gold) if tag == MASKED}
    return bio_spans(gold), [s for s in bio_spans(predicted) if not hidden.intersection(range(s[0], s[1]))]


def compare(tokens: Sequence[str], gold: Sequence[str], predicted: Sequence[str]) -> tuple[list[str], list[str]]:
    """The student's span errors in one sentence (missed, spurious, wrong type, wrong extent) and its correct spans."""
    g, p = read_spans(gold, predicted)
    errors, right = [], []
    for first, last, etype in g:
        q = _quote(tokens, first, last)
        if (first, last, etype) in p:
            right.append(f"{q} ({etype})")
            continue
        over = [(f, t, e) for f, t, e in p if f < last and first < t]
        if not over:
            errors.append(f"missed {q} ({etype})")
        for f, t, e in over:
            if (f, t) == (first, last):
                errors.append(f"{q} is {etype}, tagged as {e}")
            elif e == etype:
                how = "only as" if first <= f and t <= last else "too widely as" if f <= first and last <= t else "as"
                errors.append(f"{q} ({etype}) tagged {how} {_quote(tokens, f, t)}")
            else:
                errors.append(f"{q} is {etype}, but {_quote(tokens, f, t)} was tagged as {e}")
    for f, t, e in p:
        if not any(f < last and first < t for first, last, _ in g):
            errors.append(f"{_quote(tokens, f, t)} tagged as {e} but is not an entity")
    return errors, right


def format_feedback(feedback: list[Prediction], limit: int) -> tuple[str, str]:
    """The sentences the student tagged wrongly (with each span error) and rightly, at most ``limit`` of each."""
    wrong, right_with, right_without = [], [], []
    for p in feedback:
        gold, pred = list(p["gold"]), list(p["predicted"])
        tokens = p["text"].split()
        if len(tokens) != len(gold):  # a token holding a space: fall back to numbered words
            tokens = [f"word{i + 1}" for i in range(len(gold))]
        errors, right = compare(tokens, gold, pred)
        if errors:
            line = f'"{clip(p["text"])}": ' + "; ".join(errors)
            wrong.append(line + (f" (right: {', '.join(right)})" if right else ""))
        elif right:
            right_with.append(f'"{clip(p["text"])}": ' + ", ".join(right))
        else:
            right_without.append(f'"{clip(p["text"])}": no entities')
    return bullet_list(wrong[:limit]), bullet_list((right_with + right_without)[:limit])


def format_examples(seeds: Sequence[Example], label: str | None = None, limit: int = 6) -> str:
    """Seed sentences with their entities, those holding ``label`` first, for the Generator's style reference."""
    ranked = sorted(seeds, key=lambda ex: label is None or label not in {t for _, _, t in bio_spans(ex["tags"])})
    lines = []
    for ex in ranked[:limit]:
        spans = bio_spans(ex["tags"])
        names = ", ".join(f"{_quote(ex['tokens'], f, t)} ({e})" for f, t, e in spans) or "no entities"
        lines.append(f'"{clip(ex["text"])}" -> {names}')
    return bullet_list(lines)


# ---- the adapter ---------------------------------------------------------------------------------


def _tagged_row(tokens: object, tags: object, where: str) -> Example:
    """A JSONL row's checked example."""
    check_tags(tags, where)
    return tagged_example(tokens, tags, where)  # type: ignore[arg-type]


class Ner(TaskAdapter):
    """Named-entity recognition: one BIO tag per token; the Critic names entities, code places them.

    ``tokenizer`` splits generated sentences like the run's training data (`fitted`); unfitted, the
    default rules apply. ``label_descriptions`` are the data card's meanings of the types, which the
    Critic and the Generator read next to the type names; a type without one is shown by its name.
    """

    kind = "ner"
    metric = "span_f1"
    label_noun = "entity type"
    extensions = (".conll", ".txt", ".jsonl", ".parquet")
    shots_unit = "training sentences not already picked"
    examples_shown = 4
    default_description = "Find the named entities in each sentence and give each its type."
    pipeline_tag = "token-classification"
    pipeline_args = 'aggregation_strategy="first"'  # a word's tag from its first sub-token, as the student was trained
    card_metrics = (
        HubMetric("f1", "span_f1", "span F1 (strict IOB2, micro)"),
        HubMetric("precision", "precision", "precision"),
        HubMetric("recall", "recall", "recall"),
    )
    export_columns = "`tokens`, `tags` (IOB2), `text` (the raw sentence)"
    batches_labels = False

    def __init__(self, tokenizer: Tokenizer | None = None, label_descriptions: Mapping[str, str] | None = None) -> None:
        self.tokenizer = tokenizer or Tokenizer()
        self.glossary = dict(label_descriptions or {})  # the card's meanings; `describe_types` matches the names

    def fitted(self, train: Sequence[Example], label_descriptions: Mapping[str, str] | None = None) -> Ner:
        """An adapter whose tokenizer splits clitics as the training tokens do and whose prompts explain the
        types as the data card does."""
        return Ner(Tokenizer.fit(ex["tokens"] for ex in train), label_descriptions)

    def read_split(self, file: Path, text: str) -> list[Record]:
        """JSONL ``{"tokens", "tags"}`` lines, or CoNLL token/tag lines."""
        if file.suffix == ".jsonl":
            return self.read_rows(file, jsonl_rows(file, text))
        return read_conll(file, text)

    def read_rows(self, file: Path, rows: list[Row]) -> list[Record]:
        """Rows with ``tokens`` and ``tags`` (JSONL, Parquet, a `datasets` split)."""
        return read_table(file, rows, ("tokens", "tags"), _tagged_row)

    def labels_in(self, ex: Example) -> set[str]:
        """The entity types in the sentence's tags."""
        return entity_types(ex["tags"])

    def check_label_set(self, labels: tuple[str, ...], file: Path) -> None:
        """Train must tag at least one entity."""
        if not labels:
            raise DataError(f"{file}: no entities in train; tag at least one span with B-<type>")

    def pool_item(self, value: str | list[str]) -> Example:
        """A token list as it is; a raw line split by the fitted tokenizer, as generated sentences are."""
        if isinstance(value, list):
            return Example(tokens=list(value), text=" ".join(value))
        tokens = self.tokenizer.tokenize(unicodedata.normalize("NFC", value))
        return Example(tokens=tokens, text=" ".join(tokens))

    def head(self, task: Task) -> Head:
        """A tag per word: ``O`` plus B-/I- for each type."""
        return Head(names=("O", *(f"{p}-{t}" for t in task.labels for p in ("B", "I"))), per_token=True)

    def gold(self, ex: Example) -> list[str]:
        """The tag sequence."""
        return ex["tags"]

    def agrees(self, gold: Any, predicted: Any) -> bool:
        """The same tags; where the gold tags mask a token, the same spans outside the masked words."""
        if MASKED not in gold:
            return list(gold) == list(predicted)
        g, p = read_spans(gold, predicted)
        return g == p

    def scores(self, task: Task, gold: list[Sequence[str]], predicted: list[Sequence[str]]) -> dict[str, Any]:
        """Strict IOB2 span scores, micro and per type."""
        return span_scores(task.labels, gold, predicted)

    def to_example(self, sample: Sample) -> Example:
        """Text is the tokens joined by spaces, as for the real data (the raw sentence stays in the sample)."""
        return Example(text=" ".join(sample["tokens"]), tokens=sample["tokens"], tags=sample["tags"])

    def task_for(self, head: Head) -> Task | None:
        """A per-token head whose tags are in `head`'s order (O, then B- and I- per type)."""
        if not head.per_token:
            return None
        task = Task(self.kind, tuple(dict.fromkeys(tag[2:] for tag in head.names if tag != "O")))
        return task if self.head(task) == head else None

    def weighted_scores(
        self, task: Task, gold: list[Sequence[str]], predicted: list[Sequence[str]], weights: np.ndarray
    ) -> np.ndarray:
        """Micro span F1 from each sentence's (tp, fp, fn) spans."""
        spans = [(set(bio_spans(want)), set(bio_spans(got))) for want, got in zip(gold, predicted, strict=True)]
        counts = np.array(
            [(len(want & got), len(got - want), len(want - got)) for want, got in spans], dtype=float
        ).reshape(len(gold), 3)
        return f1_of_counts(weights @ counts)

    def label_text(self, task: Task) -> str:
        """The types with their meanings ("geo-loc" or "other" alone tell a small model little)."""
        return describe_types(task.labels, glossary=self.glossary)

    def format_feedback(self, feedback: list[Prediction], limit: int) -> tuple[str, str]:
        """Each sentence with its span errors, or its correct spans."""
        return format_feedback(feedback, limit)

    def format_examples(self, seeds: Sequence[Example], label: str | None = None, limit: int = 6) -> str:
        """Each sentence with its entities, those holding ``label`` first."""
        return format_examples(seeds, label, limit)

    def written_for(self, pool: Sequence[Example], label: str) -> list[Example]:
        """All of them: a sentence for one type may hold any other."""
        return list(pool)

    def label_calls(self, call: LabelCall, todo: list[Sample]) -> list[Reply[Any]]:
        """The Critic names the entities of one sentence per call; code places them (`annotate`). An annotation
        is no short answer, so ``call.style`` changes nothing: NER keeps its JSON call. The call lists the types
        by name alone: the card's meanings cost more tokens than they gave (benchmarks/decisions/
        ner-label-prompt.md); the Generator still reads them (`label_text`)."""
        return annotate(call.teacher, call.prompt, call.task, call.description, todo, self.tokenizer, mask=call.mask)

    def show_label(self, sample: Mapping[str, Any]) -> str:
        """The Critic's mentions with their types."""
        if sample.get("entities") is not None:
            return "; ".join(f"{e['text']} ({e['type']})" for e in sample["entities"]) or "(no entities)"
        return str(sample.get("label", ""))

    def show_prediction(self, sample: Mapping[str, Any]) -> str:
        """The predicted tags read as entity mentions, like the Critic's label."""
        p = sample.get("predicted", "")
        if not isinstance(p, list):
            return str(p)
        tokens = sample.get("tokens") or []
        return "; ".join(f"{' '.join(tokens[a:b])} ({t})" for a, b, t in bio_spans(p)) or "(no entities)"

    def output_row(
        self, task: Task, text: str, scores: torch.Tensor, offsets: Sequence[tuple[int, int]]
    ) -> dict[str, Any]:
        """The entity spans read from the words' likeliest tags, each with its type, character offsets and mean
        probability (the words and spans of ``pipeline("token-classification", aggregation_strategy="first")``)."""
        names = self.head(task).names
        best = scores.max(-1)
        tags = to_iob2([names[i] for i in best.indices.tolist()])
        return {
            "text": text,
            "entities": [
                {
                    "text": text[offsets[first][0] : offsets[last - 1][1]],
                    "type": etype,
                    "start": offsets[first][0],
                    "end": offsets[last - 1][1],
                    "score": round(float(best.values[first:last].mean()), 6),
                }
                for first, last, etype in bio_spans(tags)
            ],
        }

    def export_row(self, sample: Mapping[str, Any]) -> dict[str, Any]:
        """Tokens, IOB2 tags and the raw sentence (empty lists for a sample rejected before it was tagged)."""
        tokens = list(sample.get("tokens") or [])
        text = sample.get("text") or " ".join(tokens)
        return {"tokens": tokens, "tags": list(sample.get("tags") or []), "text": text}

    def label_counts(self, examples: Iterable[Mapping[str, Any]]) -> Counter[str]:
        """Entity mentions per type."""
        return Counter(tag[2:] for ex in examples for tag in ex["tags"] if tag.startswith("B-"))
