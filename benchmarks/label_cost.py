"""What a teacher label costs and how often it is right, one text per call or several per call.

    python -m evokd.bench.label_cost [--dataset rotten_tomatoes] [--split dev] [--texts 300] [--batches 1,4,8,16]
                                     [--teacher-url URL --teacher-model NAME]
    python -m evokd.bench.label_cost --compare-calls [--dataset rotten_tomatoes] [--texts 200]
    python -m evokd.bench.label_cost --compare-prompts [--dataset rotten_tomatoes] [--texts 200]
    python -m evokd.bench.label_cost --compare-leads --dataset bbc_news --texts 100
    python -m evokd.bench.label_cost --compare-ner-prompts --dataset wnut16 --texts 150

The texts are the first ``--texts`` examples of the dev split (or train): the defaults this measurement
decides (the pool methods' label batch, the confidence rule) must never be chosen on the test texts the
benchmark scores, so the test split is refused. Each batch size K labels all of them as pool texts are
labelled (the adapter's `label`, K numbered texts per call, log-probabilities asked for), each K with a
fresh reply cache, so every call is really made and timed; the gold labels only score the answers. Where
the endpoint sends log-probabilities, it also shows what each ``--min-confidence`` of a fixed ladder would
keep, and how often those labels are right. The same texts then go through the student (`evokd predict`'s
function, bundled MiniLM) after the teacher has stopped, for the student/teacher throughput ratio.
Written to benchmarks/results/label-cost-<dataset>.json and .md.

``--compare-calls`` instead labels the first ``--texts`` *dev* texts (never test) with both labelling calls,
today's JSON call and the label-only call (``--label-call``), one text per call, and applies the rule fixed
before the measurement (benchmarks/decisions/label-call.md, `adopt_label_only`); written to
benchmarks/results/label-call-<dataset>-dev.json and .md. ``--compare-prompts`` likewise labels them with
the label-only call under each prompt of `LABEL_PROMPTS` (benchmarks/decisions/label-prompt.md,
`choose_prompt`); written to benchmarks/results/label-prompt-<dataset>-dev.json and .md. ``--compare-leads``
labels them with the shipped label-only call, each text clipped to each lead of `LEAD_WORDS` words
(benchmarks/decisions/lead-words.md, `choose_lead`); written to benchmarks/results/label-lead-<dataset>-dev.json
and .md. ``--compare-meanings`` labels them with the shipped label-only call, with the dataset's own card and
with the label meanings of `MEANINGS_CARD` beside each label (benchmarks/decisions/bbc-label-meanings.md,
`adopt_meanings`); written to benchmarks/results/label-meanings-<dataset>-dev.json and .md.
``--compare-ner-prompts`` labels the first ``--texts`` dev sentences of an NER dataset as a run labels its pool
sentences, once per prompt of `NER_PROMPTS` (benchmarks/decisions/ner-label-prompt.md, `choose_ner_prompt`);
written to benchmarks/results/label-ner-prompt-<dataset>-dev.json and .md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from evokd.settings import LabelStyle

RESULTS = Path(__file__).parent / "results"
BATCHES = (1, 4, 8, 16)
# Fixed before the first measurement (issue 12): the --label-batch the benchmark's pool methods use is the
# largest K whose accuracy is within TOLERANCE of one text per call on the same texts.
TOLERANCE = 0.02
# Fixed before the first measurement with confidences: the --min-confidence values the table reports.
CONFIDENCE_LADDER = (0.5, 0.7, 0.9, 0.99)


def choose(rows: Sequence[dict]) -> int:
    """The batch size to use: the largest K whose accuracy is within `TOLERANCE` of one text per call."""
    one = next(r for r in rows if r["per_call"] == 1)["accuracy"]
    return max(r["per_call"] for r in rows if r["accuracy"] >= one - TOLERANCE)


# Fixed with CONFIDENCE_LADDER, before the first measurement with confidences: a confidence filter is worth a
# benchmark method only if some rung keeps at least KEEP_AT_LEAST of the labels and lifts their accuracy by
# at least LIFT_AT_LEAST over all labels (docs/benchmarks.md, "Label cost").
KEEP_AT_LEAST, LIFT_AT_LEAST = 0.70, 0.05


def confident_rung(row: dict) -> float | None:
    """The lowest ``--min-confidence`` of the ladder that passes the rule above for one batch size's row, or None."""
    if not row.get("with_confidence"):
        return None
    passing = [
        b["min_confidence"]
        for b in row["by_confidence"]
        if b["kept"] >= KEEP_AT_LEAST and (b["accuracy_kept"] or 0.0) >= row["accuracy"] + LIFT_AT_LEAST
    ]
    return min(passing, default=None)


def gate_rung(row: dict) -> float | None:
    """The confidence noise step's gate by the rule in benchmarks/decisions/confidence-gate.md, written before
    the dev measurement: the ladder rung where the accuracy of the labels below it is lowest relative to the
    accuracy of those at or above it (the smallest ratio; the lower rung of equals). None: no rung drops a label."""
    ratios = [
        (b["accuracy_dropped"] / b["accuracy_kept"], b["min_confidence"])
        for b in row.get("by_confidence", [])
        if b["accuracy_dropped"] is not None and b["accuracy_kept"]
    ]
    return min(ratios)[1] if ratios else None


def by_confidence(right: Sequence[bool], confidences: Sequence[float | None]) -> list[dict]:
    """What each ``--min-confidence`` of `CONFIDENCE_LADDER` would do to these labels: the share kept (a label
    without a confidence is kept, as a run keeps it) and the accuracy of the labels kept and of those dropped."""
    out = []
    for t in CONFIDENCE_LADDER:
        keep = [c is None or c >= t for c in confidences]
        kept = [r for r, k in zip(right, keep, strict=True) if k]
        dropped = [r for r, k in zip(right, keep, strict=True) if not k]
        out.append(
            {
                "min_confidence": t,
                "kept": round(len(kept) / len(right), 4),
                "accuracy_kept": round(float(np.mean(kept)), 4) if kept else None,
                "accuracy_dropped": round(float(np.mean(dropped)), 4) if dropped else None,
            }
        )
    return out


SPLITS = ("dev", "train")  # never test: what is measured here decides defaults the test split then judges


def label_all(
    dataset: str,
    texts: int,
    batches: Sequence[int],
    endpoint: dict,
    say: Callable[[str], None],
    split: str = "dev",
    label_call: LabelStyle = "json",
    template: str = "",
    words: int = 0,
    meanings: Mapping[str, str] | None = None,
) -> dict:
    """Label the first ``texts`` texts of ``split`` at every batch size with the ``label_call`` call (the
    label-only call with ``template`` as its prompt and texts clipped to ``words``, where given; each label shown
    with its line of ``meanings`` instead of the card's, where given); return the rows and what they were
    measured on."""
    from evokd.bench.curves import t_interval
    from evokd.handoff.card import bootstrap
    from evokd.services import resolved, services
    from evokd.settings import Context
    from evokd.state import Sample
    from evokd.tasks import evaluate
    from evokd.tasks.classification import LABEL_WORDS, Classification

    if split not in SPLITS:
        raise ValueError(
            f"label cost reads {' or '.join(SPLITS)} texts, not {split}: test texts never choose a default"
        )
    rows, first = [], None
    for k in batches:
        with tempfile.TemporaryDirectory() as tmp:
            ctx = resolved(Context(data=dataset, **endpoint, cache=str(Path(tmp) / "cache.sqlite")))
            run = services(ctx)
            examples = getattr(run.dataset, split)[:texts]
            adapter, task = run.adapter, run.dataset.task
            if meanings is not None:
                adapter = adapter.fitted(run.dataset.train, meanings)
            say(f"[{dataset}] {len(examples)} {split} texts, {label_call} call, {k} per call ...")
            started = time.perf_counter()
            samples = [Sample(id=str(i), source="pool", text=ex["text"]) for i, ex in enumerate(examples)]
            teacher = run.teacher(labelling=True)
            if template or words:
                if not isinstance(adapter, Classification):
                    raise ValueError(f"a label-only call is for classification; {dataset} is {adapter.kind}")
                replies = adapter.label_alone(teacher, task, run.description, samples, template, words or LABEL_WORDS)
            else:
                replies = adapter.label(
                    teacher, ctx.prompt("critic"), task, run.description, samples, True, k, label_call
                )
            seconds = time.perf_counter() - started
        predicted = [s["label"] if s["verdict"] == "accepted" else "(none)" for s in samples]
        confidences = [s.get("teacher_confidence") for s in samples]
        right = np.array([p == adapter.gold(ex) for p, ex in zip(predicted, examples, strict=True)])
        first = right if first is None else first
        gap, low, high = t_interval((right.astype(float) - first.astype(float)).tolist())
        interval = bootstrap(task, list(examples), predicted)
        tokens = sum(r.tokens for r in replies)
        rows.append(
            {
                "per_call": k,
                "calls": len(replies),
                "accuracy": round(float(right.mean()), 4),
                "accuracy_vs_one_per_call": [round(gap, 4), round(low, 4), round(high, 4)],
                "macro_f1": round(evaluate(task, examples, predicted)["score"], 4),
                "macro_f1_interval": [round(interval[0], 4), round(interval[1], 4)],
                "unusable": sum(s["verdict"] != "accepted" for s in samples),
                "with_confidence": sum(c is not None for c in confidences),
                "by_confidence": by_confidence(right.tolist(), confidences),
                "tokens": tokens,
                "tokens_per_text": round(tokens / len(examples), 1),
                "prompt_tokens_per_text": round(sum(r.prompt_tokens for r in replies) / len(examples), 1),
                "completion_tokens_per_text": round(sum(r.completion_tokens for r in replies) / len(examples), 1),
                "seconds": round(seconds, 1),
                "texts_per_s": round(len(examples) / seconds, 2),
                "predicted": predicted,
            }
        )
        say(
            f"[{dataset}] K={k}: accuracy {rows[-1]['accuracy']:.3f}, {rows[-1]['tokens_per_text']} tokens/text, "
            f"{rows[-1]['texts_per_s']} texts/s"
        )
    return {"texts": len(examples), "split": split, "rows": rows}


# Fixed before the first measurement (benchmarks/decisions/label-call.md): the label-only call becomes the
# default if, on the same dev texts, its accuracy is at most ADOPT_WITHIN below the JSON call's and it costs
# fewer billed tokens per label.
ADOPT_WITHIN = 0.02


def adopt_label_only(json_row: dict, label_row: dict) -> bool:
    """The rule above, on the two calls' rows over the same texts."""
    return (
        label_row["accuracy"] >= json_row["accuracy"] - ADOPT_WITHIN
        and label_row["tokens_per_text"] < json_row["tokens_per_text"]
    )


def variants(dataset: str, texts: int, endpoint: dict, say: Callable[[str], None], asks: dict[str, dict]) -> dict:
    """Label the first ``texts`` dev texts once per variant (``asks``: name -> `label_all` arguments), one text
    per call; each row carries its name and its accuracy minus the first variant's, paired on the same texts."""
    from evokd.bench.curves import t_interval

    rows = [label_all(dataset, texts, [1], endpoint, say, "dev", **ask)["rows"][0] for ask in asks.values()]
    gold = dev_gold(dataset, texts)
    right = [np.array([p == g for p, g in zip(r["predicted"], gold, strict=True)], dtype=float) for r in rows]
    for name, row, hits in zip(asks, rows, right, strict=True):
        gap, low, high = t_interval((hits - right[0]).tolist())
        row |= {"variant": name, "gap": [round(gap, 4), round(low, 4), round(high, 4)]}
    return {"texts": len(gold), "rows": rows}


def compare_calls(dataset: str, texts: int, endpoint: dict, say: Callable[[str], None]) -> dict:
    """Both labelling calls on the first ``texts`` dev texts, one text per call: their rows, the label-only
    call's accuracy gap paired on the same texts, and the rule's verdict."""
    measured = variants(dataset, texts, endpoint, say, {c: {"label_call": c} for c in ("json", "label-only")})
    rows = measured["rows"]
    for row in rows:
        row["label_call"] = row["variant"]
    return {
        **measured,
        "gap": rows[1]["gap"],
        "adopt_within": ADOPT_WITHIN,
        "adopt_label_only": adopt_label_only(rows[0], rows[1]),
    }


# The label-only prompts compared (benchmarks/decisions/label-prompt.md), fixed before the measurement; the first
# is the reference, the prompt shipped until that decision. Each keeps the call's layout: the fixed part first
# (the system message), then a line with the text. prompts/classification/label.md is the one `choose_prompt` picks.
LABEL_PROMPTS = {
    "shipped": "$task\nLabels: $labels\nAnswer with one label only.\nText: $text\nLabel:\n",
    "no-scaffold": "$task\nLabels: $labels\n$text\n",
    "labels-only": "Answer with one of: $labels\n$text\n",
}


def compare_prompts(dataset: str, texts: int, endpoint: dict, say: Callable[[str], None]) -> dict:
    """Every label-only prompt on the first ``texts`` dev texts: rows with accuracy, tokens per label and the
    paired gap to the shipped prompt."""
    asks = {name: {"label_call": "label-only", "template": text} for name, text in LABEL_PROMPTS.items()}
    return {**variants(dataset, texts, endpoint, say, asks), "adopt_within": ADOPT_WITHIN}


def choose_prompt(results: Sequence[dict]) -> str:
    """The rule of benchmarks/decisions/label-prompt.md over each measured dataset's `compare_prompts` result
    (rotten_tomatoes first: its tokens per label rank the candidates): the cheapest prompt whose accuracy is at
    most `ADOPT_WITHIN` below the shipped one's on every dataset; "shipped" where none is."""

    def fine(name: str) -> bool:
        return all(
            row["accuracy"] >= result["rows"][0]["accuracy"] - ADOPT_WITHIN
            for result in results
            for row in result["rows"]
            if row["variant"] == name
        )

    ranked = sorted(results[0]["rows"], key=lambda row: (row["tokens_per_text"], row["variant"] != "shipped"))
    return next(row["variant"] for row in ranked if fine(row["variant"]))  # "shipped" is always fine


# The leads compared (benchmarks/decisions/lead-words.md), fixed before the measurement; the first is the
# reference, the lead shipped until that decision.
LEAD_WORDS = (150, 100, 50)


def compare_leads(dataset: str, texts: int, endpoint: dict, say: Callable[[str], None]) -> dict:
    """The shipped label-only call on the first ``texts`` dev texts clipped to each of `LEAD_WORDS` words: rows
    with accuracy, tokens per label and the paired gap to the first, and the rule's choice."""
    asks = {f"{w} words": {"label_call": "label-only", "words": w} for w in LEAD_WORDS}
    measured = variants(dataset, texts, endpoint, say, asks)
    for row, words in zip(measured["rows"], LEAD_WORDS, strict=True):
        row["words"] = words
    return {**measured, "adopt_within": ADOPT_WITHIN, "chosen_words": choose_lead(measured["rows"])}


def choose_lead(rows: Sequence[dict]) -> int:
    """The rule of benchmarks/decisions/lead-words.md: the fewest words whose accuracy is at most `ADOPT_WITHIN`
    below the first (reference) row's on the same texts."""
    return min(r["words"] for r in rows if r["accuracy"] >= rows[0]["accuracy"] - ADOPT_WITHIN)


# The meanings compared (benchmarks/decisions/bbc-label-meanings.md), fixed before the measurement: those of the
# card the 2026-11-27 bbc_news run wrote, one line per label.
MEANINGS_CARD = RESULTS / "bbc-described" / "card.json"


def compare_meanings(dataset: str, texts: int, endpoint: dict, say: Callable[[str], None]) -> dict:
    """The shipped label-only call on the first ``texts`` dev texts with the dataset's card, then with the label
    meanings of `MEANINGS_CARD`: rows with accuracy, tokens per label and the paired gap, and the rule's verdict."""
    import json

    from evokd.services import services
    from evokd.settings import Context

    meanings = json.loads(MEANINGS_CARD.read_text(encoding="utf-8"))["label_descriptions"]
    labels = services(Context(data=dataset)).dataset.task.labels
    if sorted(meanings) != sorted(labels):
        raise ValueError(f"{MEANINGS_CARD}: its meanings are for {sorted(meanings)}, {dataset} has {sorted(labels)}")
    asks = {
        "card as bundled": {"label_call": "label-only"},
        "with meanings": {"label_call": "label-only", "meanings": meanings},
    }
    measured = variants(dataset, texts, endpoint, say, asks)
    return {**measured, "meanings": meanings, "adopt_meanings": adopt_meanings(measured["rows"])}


def adopt_meanings(rows: Sequence[dict]) -> bool:
    """The rule of benchmarks/decisions/bbc-label-meanings.md: the meanings' accuracy gain over the card without
    them, paired on the same texts, has a 95 % t-interval above zero."""
    return rows[1]["gap"][1] > 0


# The NER Critic prompts compared (benchmarks/decisions/ner-label-prompt.md), fixed before the measurement: name ->
# (template, whether the types come with the card's meanings). "" is the shipped prompts/ner/critic.md; the first
# is the reference. Each fences the sentence and asks for the same JSON, so the call's parser and checks hold.
TERSE_NER = (
    "$task\nTypes:\n$labels\nList each name in the sentence, copied exactly, with its type.\n<<<\n$text\n>>>\n"
    'Reply only with JSON: {"entities": [{"text": "<words from the sentence>", "type": "<a type>"}]}\n'
)
NER_PROMPTS: dict[str, tuple[str, bool]] = {
    "shipped": ("", True),
    "shipped-names": ("", False),
    "terse": (TERSE_NER, True),
    "terse-names": (TERSE_NER, False),
}


def compare_ner_prompts(dataset: str, texts: int, endpoint: dict, say: Callable[[str], None]) -> dict:
    """Every NER Critic prompt of `NER_PROMPTS` on the first ``texts`` dev sentences, one sentence per call, each
    from a fresh reply cache and labelled as a run labels its pool sentences: rows with span F1 (failing mentions
    dropped, all sentences), the accepted share and its span F1, tokens per sentence and per accepted sentence,
    and the rule's choice."""
    from evokd.bench.bench_task import placed_tags
    from evokd.handoff.card import bootstrap
    from evokd.services import resolved, services
    from evokd.settings import Context
    from evokd.state import Sample
    from evokd.tasks import evaluate
    from evokd.tasks.ner import Ner, annotate
    from evokd.teacher.client import Reply

    rows = []
    for name, (template, meanings) in NER_PROMPTS.items():
        with tempfile.TemporaryDirectory() as tmp:
            ctx = resolved(Context(data=dataset, **endpoint, cache=str(Path(tmp) / "cache.sqlite")))
            run = services(ctx)
            if not isinstance(run.adapter, Ner):
                raise ValueError(f"--compare-ner-prompts is for NER data; {dataset} is {run.adapter.kind}")
            task, examples, adapter = run.dataset.task, run.dataset.dev[:texts], run.adapter
            say(f"[{dataset}] {len(examples)} dev sentences, NER prompt {name} ...")
            samples = [
                Sample(id=str(i), source="pool", text=" ".join(ex["tokens"]), verdict="pending")
                for i, ex in enumerate(examples)
            ]
            started = time.perf_counter()
            # The run's NER labelling (`annotate`), the card's meanings shown with the types or not.
            prompt, glossary = template or ctx.prompt("critic"), adapter.glossary if meanings else None
            teacher = run.teacher(labelling=True)
            asked = iter(annotate(teacher, prompt, task, run.description, samples, adapter.tokenizer, glossary))
            seconds = time.perf_counter() - started
        # A sentence the checks turned away before asking (an unfilled-slot pattern) got no reply.
        replies = [Reply(None, "placeholder") if s["reason"] == "placeholder" else next(asked) for s in samples]
        tags = placed_tags(examples, replies, task.labels)
        kept = [i for i, s in enumerate(samples) if s["verdict"] == "accepted"]
        tokens = sum(r.tokens for r in replies)
        low, high = bootstrap(task, list(examples), tags)
        rows.append(
            {
                "variant": name,
                "meanings": meanings,
                "span_f1": round(evaluate(task, examples, tags)["score"], 4),
                "span_f1_interval": [round(low, 4), round(high, 4)],
                "accepted": len(kept),
                "accepted_share": round(len(kept) / len(examples), 4),
                "accepted_span_f1": round(
                    evaluate(task, [examples[i] for i in kept], [tags[i] for i in kept])["score"], 4
                )
                if kept
                else None,
                "rejected": dict(Counter(s["reason"] for s in samples if s["verdict"] != "accepted")),
                "tokens": tokens,
                "tokens_per_text": round(tokens / len(examples), 1),
                "prompt_tokens_per_text": round(sum(r.prompt_tokens for r in replies) / len(examples), 1),
                "completion_tokens_per_text": round(sum(r.completion_tokens for r in replies) / len(examples), 1),
                "tokens_per_accepted": round(tokens / len(kept), 1) if kept else None,
                "seconds": round(seconds, 1),
                "texts_per_s": round(len(examples) / seconds, 2),
            }
        )
        say(
            f"[{dataset}] {name}: span F1 {rows[-1]['span_f1']:.3f}, {len(kept)} of {len(examples)} accepted, "
            f"{rows[-1]['tokens_per_text']} tokens a sentence"
        )
    return {"texts": len(examples), "rows": rows, "adopt_within": ADOPT_WITHIN, "chosen": choose_ner_prompt(rows)}


def choose_ner_prompt(rows: Sequence[dict]) -> str:
    """The rule of benchmarks/decisions/ner-label-prompt.md: the fewest billed tokens per accepted sentence among
    the prompts whose span F1 is at most `ADOPT_WITHIN` below the first (shipped) row's; the first where none
    accepted a sentence."""
    fine = [r for r in rows if r["span_f1"] >= rows[0]["span_f1"] - ADOPT_WITHIN and r["accepted"]]
    if not fine:
        return rows[0]["variant"]
    return min(fine, key=lambda r: (r["tokens_per_accepted"], r["variant"] != rows[0]["variant"]))["variant"]


def dev_gold(dataset: str, texts: int) -> list[str]:
    """The gold answers of the first ``texts`` dev examples of ``dataset`` (only to score the teacher's)."""
    from evokd.services import services
    from evokd.settings import Context

    run = services(Context(data=dataset))
    return [run.adapter.gold(ex) for ex in run.dataset.dev[:texts]]


def variants_table(rows: Sequence[dict], what: str) -> list[str]:
    """The measured variants (``what`` names them: call, prompt) as a Markdown table, the reference first."""
    lines = [
        f"| {what} | accuracy | minus the first [95% CI], paired | macro-F1 [95% CI] | tokens/label (prompt + reply) "
        "| labels/s | unusable |",
        "|---|---:|---|---|---|---:|---:|",
    ]
    for r in rows:
        (f1_low, f1_high), (gap, low, high) = r["macro_f1_interval"], r["gap"]
        lines.append(
            f"| {r['variant']} | {r['accuracy']:.3f} | {gap:+.3f} [{low:+.3f}, {high:+.3f}] | {r['macro_f1']:.3f} "
            f"[{f1_low:.3f}, {f1_high:.3f}] | {r['tokens_per_text']} ({r['prompt_tokens_per_text']} + "
            f"{r['completion_tokens_per_text']}) | {r['texts_per_s']} | {r['unusable']} |"
        )
    return lines


def measured_on(result: dict, what: str) -> list[str]:
    """The heading and provenance lines of a comparison on dev texts."""
    return [
        f"# {what}: {result['dataset']}, {result['texts']} dev texts ({result['date_utc']} UTC)",
        "",
        f"Written by `{result['command']}` with {result['teacher']} on {result['machine']}.",
        "Every variant labels the same dev texts (never test), one text per call, each from a fresh reply cache.",
        "Tokens are billed tokens (prompt + reply).",
        "",
    ]


def calls_markdown(result: dict) -> str:
    """The call comparison as a table, with the rule and its outcome."""
    gap, low, high = result["gap"]
    lines = [
        *measured_on(result, "Labelling call"),
        "The label-only call reads every label's probability from the endpoint's log-probabilities; the JSON call",
        "is the Critic's prompt as shipped.",
        "",
        *variants_table(result["rows"], "call"),
        "",
        f"Label-only minus JSON accuracy, paired on the same texts: {gap:+.3f} [{low:+.3f}, {high:+.3f}] (95% CI).",
        "",
        f"Rule fixed before measuring (benchmarks/decisions/label-call.md: label-only becomes the default if its "
        f"accuracy is at most {result['adopt_within']:.2f} below the JSON call's and its tokens per label are "
        f"fewer): **{'adopt label-only' if result['adopt_label_only'] else 'keep the JSON call'}**.",
    ]
    return "\n".join(lines) + "\n"


def prompts_markdown(result: dict) -> str:
    """The prompt comparison as a table, with the prompts and the rule; the choice reads every dataset's file."""
    lines = [
        *measured_on(result, "Label-only prompt"),
        *variants_table(result["rows"], "prompt"),
        "",
        "The prompts (the lines before `$text` are the system message, the rest one user turn per text):",
        "",
        *[f"- {name}: `{text.strip()!r}`" for name, text in LABEL_PROMPTS.items()],
        "",
        f"Rule fixed before measuring (benchmarks/decisions/label-prompt.md): ship the prompt with the fewest "
        f"tokens per label on rotten_tomatoes among those at most {result['adopt_within']:.2f} below the shipped "
        "prompt's accuracy on every measured dataset; `choose_prompt` applies it to the committed files.",
    ]
    return "\n".join(lines) + "\n"


def leads_markdown(result: dict) -> str:
    """The lead comparison as a table, with the rule and its outcome."""
    lines = [
        *measured_on(result, "Lead of a long text"),
        *variants_table(result["rows"], "lead"),
        "",
        f"Rule fixed before measuring (benchmarks/decisions/lead-words.md): the labelling call shows the fewest "
        f"words among {', '.join(map(str, LEAD_WORDS))} whose accuracy is at most {result['adopt_within']:.2f} "
        f"below the {LEAD_WORDS[0]}-word lead's: **{result['chosen_words']} words**.",
    ]
    return "\n".join(lines) + "\n"


def meanings_markdown(result: dict) -> str:
    """The meanings comparison as a table, with the meanings, the rule and its outcome."""
    gap, low, high = result["rows"][1]["gap"]
    lines = [
        *measured_on(result, "Label meanings in the card"),
        *variants_table(result["rows"], "card"),
        "",
        "The meanings, one line each in the call's fixed part (the system message), as the label-only call shows them:",
        "",
        *[f"- {label}: {line}" for label, line in result["meanings"].items()],
        "",
        f"With minus without, accuracy paired on the same texts: {gap:+.3f} [{low:+.3f}, {high:+.3f}] (95% CI).",
        "",
        "Rule fixed before measuring (benchmarks/decisions/bbc-label-meanings.md): the bundled card gains the "
        "meanings if that interval lies above zero; tokens per label are reported, not deciding: "
        f"**{'ship the meanings' if result['adopt_meanings'] else 'keep the card without them'}**.",
    ]
    return "\n".join(lines) + "\n"


def ner_prompts_markdown(result: dict) -> str:
    """The NER prompt comparison as a table, with the candidates and the rule's choice."""

    def share(r: dict) -> str:
        f1 = "–" if r["accepted_span_f1"] is None else f"{r['accepted_span_f1']:.3f}"
        return f"{r['accepted']} ({r['accepted_share']:.0%}), span F1 {f1}"

    lines = [
        *measured_on(result, "NER labelling prompt"),
        "Span F1 is the teacher's mentions on every sentence, the mentions that fail a check dropped; a run keeps",
        "only the accepted sentences (no failing mention): tokens per accepted sentence is what one costs.",
        "",
        "| prompt | types with meanings | span F1 [95% CI] | accepted, their span F1 "
        "| tokens/sentence (prompt + reply) | tokens per accepted sentence | sentences/s |",
        "|---|---|---|---|---|---:|---:|",
        *[
            f"| {r['variant']} | {'yes' if r['meanings'] else 'no'} | {r['span_f1']:.3f} "
            f"[{r['span_f1_interval'][0]:.3f}, {r['span_f1_interval'][1]:.3f}] | {share(r)} | "
            f"{r['tokens_per_text']} ({r['prompt_tokens_per_text']} + {r['completion_tokens_per_text']}) | "
            f"{r['tokens_per_accepted'] or '–'} | {r['texts_per_s']} |"
            for r in result["rows"]
        ],
        "",
        "The terse prompt (`shipped` is prompts/ner/critic.md):",
        "",
        f"```\n{TERSE_NER}```",
        "",
        f"Rule fixed before measuring (benchmarks/decisions/ner-label-prompt.md): the fewest tokens per accepted "
        f"sentence among the prompts whose span F1 is at most {result['adopt_within']:.2f} below `shipped`'s: "
        f"**{result['chosen']}**.",
    ]
    return "\n".join(lines) + "\n"


def markdown(result: dict) -> str:
    """The result as a table with what it means."""
    lines = [
        f"# Label cost: {result['dataset']}, {result['texts']} {result.get('split', 'test')} texts "
        f"({result['date_utc']} UTC)",
        "",
        f"Written by `{result['command']}` with {result['teacher']} on {result['machine']}.",
        "Each row labels the same texts with the Critic's prompt, K numbered texts per teacher call, from a fresh",
        "reply cache. Tokens are billed tokens (prompt + reply); the gap is accuracy minus one text per call,",
        "paired on the same texts, with a 95% interval (Student-t over the texts; bootstrap before the t rule).",
        "",
        "| texts per call | accuracy | gap vs 1 per call [95% CI] | macro-F1 [95% CI] | tokens/text "
        "(prompt + reply) | texts/s | unusable |",
        "|---:|---:|---|---|---|---:|---:|",
    ]
    for r in result["rows"]:
        gap, low, high = r["accuracy_vs_one_per_call"]
        f1_low, f1_high = r["macro_f1_interval"]
        lines.append(
            f"| {r['per_call']} | {r['accuracy']:.3f} | {gap:+.3f} [{low:+.3f}, {high:+.3f}] | "
            f"{r['macro_f1']:.3f} [{f1_low:.3f}, {f1_high:.3f}] | {r['tokens_per_text']} "
            f"({r['prompt_tokens_per_text']} + {r['completion_tokens_per_text']}) | {r['texts_per_s']} | "
            f"{r['unusable']} |"
        )
    chosen, student = result["chosen_per_call"], result["student"]
    lines += confidence_table(result["rows"])
    row = next(r for r in result["rows"] if r["per_call"] == chosen)
    if row.get("with_confidence"):
        rung = confident_rung(row)
        lines += [
            "",
            f"Confidence filter, by the rule fixed before measuring (at {chosen} per call, a rung keeping at least "
            f"{KEEP_AT_LEAST:.0%} of the labels and lifting their accuracy by at least {LIFT_AT_LEAST:.2f}): "
            + (f"**--min-confidence {rung}** qualifies." if rung is not None else "no rung qualifies."),
        ]
    lines += [
        "",
        f"Chosen by the rule fixed before measuring (largest K within {TOLERANCE:.2f} accuracy of one text per "
        f"call): **--label-batch {chosen}**, the benchmark pool methods' setting.",
        "",
        f"Student (`evokd predict`, bundled MiniLM, CPU, batch {student['batch_size']}) on the same texts: "
        f"{student['texts_per_s_median']:.1f} texts/s (median of {len(student['texts_per_s'])}), "
        + ", ".join(
            f"{student['texts_per_s_median'] / r['texts_per_s']:.0f}x the teacher at {r['per_call']} per call"
            for r in result["rows"]
        )
        + ".",
    ]
    return "\n".join(lines) + "\n"


def confidence_table(rows: Sequence[dict]) -> list[str]:
    """Per batch size, what each --min-confidence would keep and how often the kept and dropped labels are right."""
    rows = [r for r in rows if r.get("with_confidence")]
    if not rows:
        return ["", "The endpoint sent no log-probabilities, so no label has a confidence to filter on."]

    def cell(b: dict) -> str:
        kept, dropped = b["accuracy_kept"], b["accuracy_dropped"]
        return (
            f"{b['kept']:.0%} kept, {'–' if kept is None else f'{kept:.3f}'} / "
            f"{'–' if dropped is None else f'{dropped:.3f}'}"
        )

    return [
        "",
        "What `--min-confidence` would do (the label's probability from the teacher's log-probabilities; "
        "share of labels kept, then the accuracy of the kept / the dropped labels):",
        "",
        "| texts per call | labels with a confidence | " + " | ".join(f"≥ {t}" for t in CONFIDENCE_LADDER) + " |",
        "|---:|---:|" + "---|" * len(CONFIDENCE_LADDER),
        *(
            f"| {r['per_call']} | {r['with_confidence']} | " + " | ".join(cell(b) for b in r["by_confidence"]) + " |"
            for r in rows
        ),
    ]


# Each --compare-X: what it measures, the file name's part and the Markdown it writes.
COMPARISONS: dict[str, tuple[Callable[..., dict], str, Callable[[dict], str]]] = {
    "calls": (compare_calls, "call", calls_markdown),
    "prompts": (compare_prompts, "prompt", prompts_markdown),
    "leads": (compare_leads, "lead", leads_markdown),
    "meanings": (compare_meanings, "meanings", meanings_markdown),
    "ner_prompts": (compare_ner_prompts, "ner-prompt", ner_prompts_markdown),
}


def main(argv: list[str] | None = None) -> int:
    """Measure every batch size, the student's throughput on the same texts, and write the result files."""
    from evokd.records import write_json, write_text
    from evokd.settings import endpoint_defaults
    from evokd.teacher.local import DEFAULT_TEACHER, TEACHERS, teacher_endpoint

    from .predict_throughput import measure
    from .tables import write_index

    for name, value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_VERBOSITY", "error")):
        os.environ.setdefault(name, value)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="rotten_tomatoes")
    ap.add_argument("--split", default="dev", choices=SPLITS, help="the texts measured on (never test)")
    ap.add_argument("--texts", type=int, default=300)
    ap.add_argument("--batches", default=",".join(map(str, BATCHES)), help="batch sizes; 1 must be among them")
    ap.add_argument("--teacher-url", default="", help="an OpenAI-compatible endpoint; empty = the local teacher")
    ap.add_argument("--teacher-model", default="", help="the endpoint's model name (default: $OPENAI_MODEL)")
    ap.add_argument("--local-teacher", default=DEFAULT_TEACHER, choices=sorted(TEACHERS))
    ap.add_argument(
        "--local-port",
        type=int,
        default=0,
        help="use the local teacher already serving on 127.0.0.1:PORT (evokd teacher serve) instead of starting it",
    )
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument(
        "--compare-calls", action="store_true", help="both labelling calls on dev texts (see the module's docstring)"
    )
    ap.add_argument(
        "--compare-prompts", action="store_true", help="the label-only prompts on dev texts (see the docstring)"
    )
    ap.add_argument("--compare-leads", action="store_true", help="leads of long texts on dev texts (see the docstring)")
    ap.add_argument(
        "--compare-meanings", action="store_true", help="label meanings in the card on dev texts (see the docstring)"
    )
    ap.add_argument(
        "--compare-ner-prompts",
        action="store_true",
        help="the NER Critic's prompts on dev sentences (see the docstring)",
    )
    args = ap.parse_args(argv)
    chosen = [c for c in COMPARISONS if getattr(args, f"compare_{c}")]
    if len(chosen) > 1:
        ap.error("give one of " + ", ".join("--compare-" + c.replace("_", "-") for c in COMPARISONS))
    comparison = chosen[0] if chosen else ""
    batches = sorted({int(b) for b in args.batches.split(",")})
    if 1 not in batches or min(batches) < 1:
        ap.error("--batches must hold 1 (the reference) and only positive sizes")

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    chosen_flags: dict[str, object] = dict.fromkeys(endpoint_defaults(local=False))
    teacher = args.teacher_url or f"{TEACHERS[args.local_teacher].model} (llama.cpp, local)"
    command = "python -m evokd.bench.label_cost " + " ".join(sys.argv[1:] if argv is None else argv)
    running = {"port": args.local_port, "start": False} if args.local_port else {}
    with teacher_endpoint(args.teacher_url, args.local_teacher, chosen_flags, say, **running) as endpoint:
        endpoint = {**endpoint, "teacher_model": args.teacher_model} if args.teacher_model else endpoint
        if comparison:
            compare, name, write_md = COMPARISONS[comparison]
            compared = {"dataset": args.dataset, **compare(args.dataset, args.texts, endpoint, say)}
        else:
            measured = label_all(args.dataset, args.texts, batches, endpoint, say, args.split)
    if comparison:
        compared |= {
            "teacher": teacher,
            "machine": f"{os.cpu_count()}-core CPU, shared (load average {os.getloadavg()[0]:.2f} at the end)",
            "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
            "command": command,
        }
        text = write_md(compared)
        write_json(Path(args.out) / f"label-{name}-{args.dataset}-dev.json", compared)
        write_text(Path(args.out) / f"label-{name}-{args.dataset}-dev.md", text)
        say(text)
        return 0
    student = measure(measured["texts"], repeats=3, batch_size=64, dataset=args.dataset)
    result = {
        "dataset": args.dataset,
        **measured,
        "chosen_per_call": choose(measured["rows"]),
        "tolerance": TOLERANCE,
        "student": {k: student[k] for k in ("texts_per_s_median", "texts_per_s", "batch_size", "max_length")},
        "teacher": teacher,
        "machine": f"{os.cpu_count()}-core {student['machine']['arch']} CPU ({student['machine']['system']})",
        "load_average_1m": round(os.getloadavg()[0], 2),
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "command": command,
    }
    out = Path(args.out)
    write_json(out / f"label-cost-{args.dataset}.json", result)
    write_text(out / f"label-cost-{args.dataset}.md", markdown(result))
    write_index(out)  # results/README.md gathers every table, this one included
    say(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
