"""``evokd predict`` and ``evokd export``: use the student on new text, take the training data elsewhere.

    evokd predict runs/<name> --input texts.txt --output predictions.jsonl   # or a model folder; .csv out
    evokd export runs/<name> --format hf --out my-data                       # jsonl | csv | parquet | hf

Bad input raises the CLI's one-line errors (exit code 2); the work itself is in `evokd.handoff`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

console = Console(stderr=True, highlight=False, soft_wrap=True)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``predict`` and ``export`` to the ``evokd`` parser."""
    from evokd.handoff import FORMATS

    p = sub.add_parser("predict", help="label a file of texts with a trained student (a run folder or model folder)")
    p.add_argument("model", metavar="MODEL_OR_RUN")
    p.add_argument(
        "--input",
        required=True,
        metavar="FILE",
        help="texts: .txt (one per line), .jsonl, .csv, .parquet, or a datasets folder",
    )
    p.add_argument("--output", default=None, metavar="FILE", help=".jsonl or .csv (default: JSONL on stdout)")
    p.add_argument("--text-column", default="text", help="the column (key) holding the text in JSONL, CSV, Parquet")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument(
        "--max-length", type=int, default=None, help="sub-tokens per text (default: the run's --max-length, else 128)"
    )
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    e = sub.add_parser("export", help="write a run's accepted training data with a dataset card")
    e.add_argument("run_dir")
    e.add_argument("--format", choices=FORMATS, default="jsonl")
    e.add_argument("--out", default="", help="folder to write (default RUN_DIR/export-<format>)")
    e.add_argument(
        "--include-rejected",
        action="store_true",
        help="add the samples the Critic rejected, with their reasons (to audit the teacher)",
    )
    p.set_defaults(handler=cmd_predict)
    e.set_defaults(handler=cmd_export)


def cmd_predict(args: argparse.Namespace) -> int:
    """``evokd predict MODEL_OR_RUN --input FILE``."""
    from evokd.cli import UsageError
    from evokd.handoff.predict import predict_file

    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {args.batch_size}")
    max_length = args.max_length or _run_max_length(Path(args.model))
    with Progress(
        TextColumn("predicting"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("predict", total=None)
        stats = predict_file(
            args.model,
            args.input,
            args.output,
            args.text_column,
            args.batch_size,
            max_length,
            args.device,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    where = args.output or "stdout"
    console.print(
        f"{stats['texts']:,} texts in {stats['seconds']:.2f} s: {stats['texts_per_s']:,.1f} texts/s "
        f"on {stats['device']} (model loaded in {stats['load_seconds']:.1f} s) → {where}"
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """``evokd export RUN_DIR --format F``."""
    from evokd.handoff.export import export

    out = Path(args.out or Path(args.run_dir) / f"export-{args.format}")
    counts = export(args.run_dir, out, args.format, include_rejected=args.include_rejected)
    console.print(
        f"exported {sum(counts.values()):,} rows ({', '.join(f'{k} {v}' for k, v in counts.items())}) "
        f"as {args.format} → {out}"
    )
    return 0


def _run_max_length(path: Path) -> int:
    """The run's training ``max_length`` when ``path`` is a run folder, else the default 128."""
    settings = path / "run.json"
    if settings.is_file():
        return int(json.loads(settings.read_text(encoding="utf-8")).get("max_length", 128))
    return 128
