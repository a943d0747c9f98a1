"""A run's training data in a plain schema, as JSONL, CSV, Parquet or a `datasets` folder, with a dataset card.

Rows: the human-labelled seeds (``source`` "seed", round 0) and every sample the Critic accepted
(``source`` "generated", or the sample's own source such as "pool", with its round). The task kind's
adapter says what else a row holds (`TaskAdapter.export_row`): classification rows ``text`` and
``label``; NER rows ``tokens`` and ``tags`` (IOB2; in a run with ``mask_mentions`` also ``?`` on a word whose
tag is unknown, which a trainer should skip as evokd does) and the raw sentence as ``text``. The kind is the
one whose reader accepts the run's seeds. ``include_rejected`` adds the rejected samples for auditing
the teacher, and a ``reason`` column (empty for kept rows). In CSV, list cells (tokens, tags) are JSON
arrays.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

from huggingface_hub import DatasetCardData

from evokd.data.formats import DataError, require
from evokd.handoff import FORMATS
from evokd.handoff.card import data_card, describe_teacher
from evokd.records import read_json, read_jsonl, write_text
from evokd.tasks import adapter_for, kind_of
from evokd.tasks.base import TaskAdapter


def rows(run: Path, include_rejected: bool = False) -> tuple[TaskAdapter, list[dict[str, Any]]]:
    """The run's task adapter and its exported rows, seeds first, then samples in run order."""
    seeds = read_jsonl(run / "seeds.jsonl")
    if not seeds:
        raise DataError(f"{run}: no seeds.jsonl; give a run folder made by 'evokd run' (after its first round)")
    adapter = adapter_for(kind_of(list(enumerate(seeds, 1)), run / "seeds.jsonl"))
    samples = [
        s
        for s in read_jsonl(run / "samples.jsonl")
        if s.get("verdict") == "accepted" or (include_rejected and s.get("verdict") == "rejected")
    ]
    out = [{**adapter.export_row(s), "source": "seed", "round": 0} for s in seeds]
    out += [
        {**adapter.export_row(s), "source": s.get("source", "generated"), "round": int(s.get("round", 0))}
        for s in samples
    ]
    if include_rejected:
        for row, s in zip(out, [{}] * len(seeds) + samples, strict=True):
            row["reason"] = s.get("reason", "") if s.get("verdict") == "rejected" else ""
    return adapter, out


def export(run: str | Path, out: str | Path, fmt: str, include_rejected: bool = False) -> dict[str, int]:
    """Write the run's rows to ``out`` (a folder) in ``fmt`` with a README.md dataset card; return rows by source."""
    run, out = Path(run), Path(out)
    if fmt not in FORMATS:
        raise DataError(f"unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}")
    adapter, data = rows(run, include_rejected)
    if out.exists() and any(out.iterdir()):
        raise DataError(f"{out}: already exists and is not empty; remove it or give another --out")
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "hf":
        datasets = require("datasets", "export as hf")
        datasets.Dataset.from_list(data).save_to_disk(str(out))
        files = 'a `datasets` folder: `datasets.load_from_disk("<this folder>")`'
    elif fmt == "parquet":
        pa, pq = require("pyarrow", "export as parquet"), require("pyarrow.parquet", "export as parquet")
        pq.write_table(pa.Table.from_pylist(data), out / "train.parquet")
        files = '`train.parquet`: `datasets.load_dataset("parquet", data_files="train.parquet")`'
    elif fmt == "csv":
        write_text(out / "train.csv", _csv(data))
        files = '`train.csv` (list cells as JSON arrays): `datasets.load_dataset("csv", data_files="train.csv")`'
    else:
        write_text(out / "train.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in data))
        files = '`train.jsonl`: `datasets.load_dataset("json", data_files="train.jsonl")`'
    write_text(out / "README.md", dataset_card(run, adapter, data, files, include_rejected))
    return dict(Counter(r["source"] if not r.get("reason") else "rejected" for r in data))


def dataset_card(
    run: Path, adapter: TaskAdapter, data: list[dict[str, Any]], files: str, include_rejected: bool
) -> str:
    """A Hub dataset card: YAML metadata, then what the rows are, where they came from and their limits."""
    settings = read_json(run / "run.json")
    teacher = read_json(run / "teacher.json")
    source = data_card(settings["data"]) if settings.get("data") else {}
    name = source.get("name") or Path(settings.get("data", "data")).name
    n = len(data)
    size = "n<1K" if n < 1_000 else "1K<n<10K" if n < 10_000 else "10K<n<100K"
    kind = adapter.kind
    meta = DatasetCardData(
        language=source.get("language"),
        task_categories=[adapter.pipeline_tag],
        size_categories=[size],
        tags=["evokd", "synthetic", "knowledge-distillation"],
        pretty_name=f"evokd training data: {name} ({kind})",
    )
    kept = [r for r in data if not r.get("reason")]
    by_source = Counter((r["source"], r["round"]) for r in kept)
    labels = adapter.label_counts(kept)
    teacher_line = describe_teacher(
        teacher or {"model": settings.get("teacher_model") or "teacher", "endpoint": "unknown"}
    )
    rejected = len(data) - len(kept)
    return "\n".join(
        [
            f"---\n{meta.to_yaml()}\n---",
            "",
            f"# evokd training data: {name} ({kind})",
            "",
            f"The data an evokd run trained its student on: human-labelled seed examples from `{name}` and samples a "
            f"teacher LLM wrote and labelled, aimed at the student's mistakes. Teacher: {teacher_line}.",
            "",
            f"Columns: {adapter.export_columns}, `source` (seed, generated or pool) and `round` (0 for seeds)"
            + (", `reason` (why the Critic rejected it; empty for kept rows)." if include_rejected else "."),
            f"Files: {files}.",
            "",
            "| source | round | rows |",
            "|---|---|---|",
            *(f"| {src} | {rnd} | {count} |" for (src, rnd), count in sorted(by_source.items())),
            *([f"| rejected (audit only, not trained on) | | {rejected} |"] if include_rejected else []),
            "",
            f"Occurrences per {adapter.label_noun} (kept rows): "
            + ", ".join(f"`{k}` {v}" for k, v in sorted(labels.items()))
            + ".",
            "",
            "## Limits",
            "",
            "- Generated rows were written and labelled by the teacher, not by people: expect some wrong labels, "
            "and text narrower and more uniform than real text. Seed rows keep the licence of their source dataset"
            + (f" ({source['licence']})." if source.get("licence") else "."),
            "- Use it to train or study students for the same task; evaluate on real, human-labelled data.",
            "",
        ]
    )


def _csv(data: list[dict[str, Any]]) -> str:
    """CSV text with list cells as JSON arrays."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(data[0]))
    writer.writeheader()
    writer.writerows(
        {k: json.dumps(v, ensure_ascii=False) if isinstance(v, list) else v for k, v in r.items()} for r in data
    )
    return buffer.getvalue()
