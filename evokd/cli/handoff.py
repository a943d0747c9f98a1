"""``evokd predict``, ``evokd export`` and ``evokd retrain``: use the student on new text, take the training data
elsewhere, or train a bigger student on the labels a run bought.

    evokd predict runs/<name> --input texts.txt --output predictions.jsonl   # or a model folder; .csv out
    evokd predict runs/<name> --input texts.txt --proba --backend onnx       # every label's probability
    evokd export runs/<name> --format hf --out my-data                       # jsonl | csv | parquet | hf
    evokd export runs/<name> --format onnx --quantize int8                   # the student, for serving
    evokd retrain runs/<name> --student mpnet                                # one pass of a bigger student

Bad input raises the CLI's one-line errors (exit code 2); the work itself is in `evokd.handoff`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

console = Console(stderr=True, highlight=False, soft_wrap=True)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``predict``, ``export`` and ``retrain`` to the ``evokd`` parser."""
    from evokd.handoff import BACKENDS, FORMATS, MODEL_FORMATS, QUANTIZATIONS

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
    p.add_argument("--device", default=None, help="cpu or cuda for --backend torch (default: cuda when available)")
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="torch, or onnx (ONNX Runtime on the run's export-onnx, else export-onnx-int8); auto: onnx when the run "
        "has an export and onnxruntime is installed, else torch",
    )
    p.add_argument(
        "--proba",
        action="store_true",
        help="add every label's probability (per word for NER), temperature-scaled when the run calibrated one",
    )
    e = sub.add_parser(
        "export", help="write a run's accepted training data with a dataset card, or its student as ONNX"
    )
    e.add_argument("run_dir")
    e.add_argument(
        "--format",
        choices=FORMATS + MODEL_FORMATS,
        default="jsonl",
        help="training data (jsonl, csv, parquet, hf) or the student (onnx: needs pip install 'evokd[onnx]')",
    )
    e.add_argument(
        "--quantize", choices=QUANTIZATIONS, default=None, help="with --format onnx: dynamic int8 quantization"
    )
    e.add_argument(
        "--out", default="", help="folder to write (default RUN_DIR/export-<format>, export-onnx-int8 when quantized)"
    )
    e.add_argument(
        "--include-rejected",
        action="store_true",
        help="add the samples the Critic rejected, with their reasons (to audit the teacher)",
    )
    r = sub.add_parser(
        "retrain", help="train another student once on every label a finished run bought (no teacher call)"
    )
    r.add_argument("run_dir")
    r.add_argument(
        "--student", required=True, help="a bundled student (mpnet) or a model folder; the run's recipe trains it"
    )
    r.add_argument("--out", default="", help="folder to write (default RUN_DIR/model-<student>)")
    p.set_defaults(handler=cmd_predict)
    e.set_defaults(handler=cmd_export)
    r.set_defaults(handler=cmd_retrain)


def cmd_predict(args: argparse.Namespace) -> int:
    """``evokd predict MODEL_OR_RUN --input FILE``."""
    from evokd.cli import UsageError
    from evokd.handoff.predict import predict_file, run_max_length

    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {args.batch_size}")
    max_length = args.max_length or run_max_length(args.model)
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
            backend=args.backend,
            proba=args.proba,
        )
    where = args.output or "stdout"
    console.print(
        f"{stats['texts']:,} texts in {stats['seconds']:.2f} s: {stats['texts_per_s']:,.1f} texts/s "
        f"on {stats['device']} with {stats['backend']} (model loaded in {stats['load_seconds']:.1f} s) → {where}"
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """``evokd export RUN_DIR --format F``."""
    from evokd.cli import UsageError

    if args.format == "onnx":
        return _export_model(args)
    if args.quantize:
        raise UsageError(f"--quantize applies to --format onnx, not {args.format}")
    from evokd.handoff.export import export

    out = Path(args.out or Path(args.run_dir) / f"export-{args.format}")
    counts = export(args.run_dir, out, args.format, include_rejected=args.include_rejected)
    console.print(
        f"exported {sum(counts.values()):,} rows ({', '.join(f'{k} {v}' for k, v in counts.items())}) "
        f"as {args.format} → {out}"
    )
    return 0


def _export_model(args: argparse.Namespace) -> int:
    """``evokd export RUN_DIR --format onnx [--quantize int8]``."""
    from evokd.handoff.deploy import export_model

    with console.status("exporting the student to ONNX and scoring it on the run's test split"):
        found = export_model(args.run_dir, args.out or None, args.quantize)
    test = found["test"]
    scored = (
        f"test {test['metric']} {test['score']:.4f} (PyTorch {test['torch_score']:.4f}, "
        f"{test['agreement']:.1%} of predictions agree)"
        if test.get("score") is not None
        else f"test score not measured: {test['note']}"
    )
    console.print(f"exported the student as ONNX ({args.quantize or 'fp32'}): {scored} → {found['out']}")
    return 0


def cmd_retrain(args: argparse.Namespace) -> int:
    """``evokd retrain RUN_DIR --student NAME``."""
    from evokd.handoff.retrain import retrain

    with console.status(f"training {args.student} on the labels of {args.run_dir}"):
        found = retrain(args.run_dir, args.student, args.out or None)
    before = found["run_student"]["test"]
    was = f" (the run's own student: {before:.4f})" if before is not None else ""
    console.print(
        f"trained {args.student} on {found['labels']:,} labels in {found['train_seconds']:.0f} s: test "
        f"{found['metric']} {found['test']:.4f}{was} → {found['model']}"
    )
    return 0
