"""Serving speed of a distilled student: torch fp32, ONNX fp32 and ONNX int8 against the teacher, on this CPU.

    python -m evokd.bench.serving [--run RUN] [--texts 2000] [--batch1-texts 300]

Writes benchmarks/results/serving-speed.md and .json. Each variant runs in its own process (so its
memory is its own) through `evokd.handoff.predict.predict_texts`, the path behind `evokd predict`:
tokenising, length-sorted batches, the forward passes and the softmax, timed after one warm-up
batch, ``--repeats`` times (the median is reported). Every variant labels the same texts, the first
N of rotten_tomatoes' test split, and is scored on them (macro-F1).

The student: ``--run`` (a run folder with model/), else one made here once and reused from
``--work``: the bundled all-MiniLM-L6-v2 fine-tuned on the first ``--train`` texts of rotten_tomatoes'
train split with gold labels (the benchmark's full-shot reference size; a fixed recipe: 3 epochs, lr
1e-4, batch 16, class-balanced, seed 0, 128 sub-tokens, no epoch selection), so the table needs no
teacher. The exports are `evokd export RUN --format onnx [--quantize int8]`. The teacher's labelling
rate is read from the committed call comparison (the default label-only call), not run again.

Then ONNX Runtime's own profiler runs each export over the batch-64 texts once more, in its own process: the
kernel time by operator type says where int8's time goes, and what int8 could reach at best here if its
quantized matrix products took no time at all (`int8_bound`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
LABEL_CALL = RESULTS / "label-call-rotten_tomatoes-dev.json"  # the default (label-only) call's measured rate
DATASET = "rotten_tomatoes"
VARIANTS = {  # name: (backend, folder under the run)
    "torch fp32": ("torch", "model"),
    "ONNX fp32": ("onnx", "export-onnx"),
    "ONNX int8": ("onnx", "export-onnx-int8"),
}
GOAL_SPEEDUP, GOAL_F1_GAP = 3.0, 0.005  # ONNX int8 against torch fp32 at batch 64
QUANTIZED_OPS = frozenset(
    {"MatMulInteger", "DynamicQuantizeLinear", "MatMulIntegerToFloat", "DynamicQuantizeMatMul", "QGemm"}
)
"""ONNX Runtime kernels of dynamic quantization's path (int8 products and the activation quantizing they need);
every other kernel runs in fp32 in both exports."""
FP32_PRODUCTS = frozenset({"MatMul", "Gemm", "FusedGemm"})
"""fp32 matrix-product kernels, the ones dynamic quantization can replace (those it leaves, such as attention's
products of two activations, stay in the int8 graph too)."""


def make_student(work: Path, n_train: int) -> Path:
    """A run-like folder (model/ and run.json) with the bundled MiniLM fine-tuned on gold train labels."""
    import torch

    from evokd.data.registry import resolve_data
    from evokd.records import write_json
    from evokd.student import model
    from evokd.student.train import TrainConfig, class_keys, train
    from evokd.tasks import head_for, load_dataset

    run = work / f"full-shot-{n_train}"
    if (run / "model" / "config.json").is_file():
        return run
    data = load_dataset(resolve_data(DATASET), "classification")
    examples = data.train[:n_train]
    student = model.load(model.default_student_path(), head_for(data.task), device="cpu")
    cfg = TrainConfig(lr=1e-4, batch_size=16, epochs=3, min_steps=0, max_length=128, patience=0, seed=0)
    torch.set_num_threads(1)  # two threads on a shared 2-core machine oversubscribe it (the benchmark's --threads 1)
    stats = train(student, examples, cfg, balance_by=class_keys(student.head, examples))
    model.save(student, run / "model")
    write_json(run / "run.json", {"data": DATASET, "max_length": 128, "train": n_train, "train_stats": stats})
    return run


def ensure_exports(run: Path) -> dict[str, dict]:
    """The run's fp32 and int8 ONNX exports (written when missing), by variant name, with their manifests."""
    from evokd.handoff import onnx
    from evokd.handoff.deploy import default_out, export_model

    found = {}
    for quantize in (None, "int8"):
        out = default_out(run, quantize)
        if not onnx.is_export(out):
            export_model(run, out, quantize)
        found["ONNX int8" if quantize else "ONNX fp32"] = onnx.manifest(out)
    return found


def measure(folder: Path, backend: str, n_texts: int, batch_size: int, repeats: int, threads: int) -> dict[str, Any]:
    """In this process: label the first ``n_texts`` test texts ``repeats`` times on ``threads`` threads (0: the
    libraries' defaults); speed, resident memory, macro-F1."""
    import torch

    from evokd.data.registry import resolve_data
    from evokd.handoff.predict import load_for, predict_texts
    from evokd.tasks import evaluate, load_dataset

    data = load_dataset(resolve_data(DATASET), "classification")
    gold = data.test[:n_texts]
    texts = [ex["text"] for ex in gold]
    if threads:
        torch.set_num_threads(threads)
    base_rss = _rss_mb()
    student, task, temperature = load_for(folder, backend, "cpu", threads or None)
    predict_texts(student, task, texts[:batch_size], batch_size, 128, temperature=temperature)  # warm-up
    speeds, predicted = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        predicted = predict_texts(student, task, texts, batch_size, 128, temperature=temperature)
        speeds.append(len(texts) / (time.perf_counter() - started))
    return {
        "texts": len(texts),
        "texts_per_s": round(statistics.median(speeds), 1),
        "texts_per_s_runs": [round(s, 1) for s in speeds],
        "rss_mb": round(_rss_mb(), 1),
        "rss_before_model_mb": round(base_rss, 1),
        "macro_f1": round(float(evaluate(task, gold, [p["label"] for p in predicted])["macro_f1"]), 4),
        "torch_threads": torch.get_num_threads(),
        "onnxruntime_threads": threads or "default",
    }


def profile(folder: Path, n_texts: int, batch_size: int, threads: int) -> dict[str, Any]:
    """In this process: one pass of `evokd predict`'s path over the first ``n_texts`` test texts with ONNX
    Runtime's profiler on; the pass's wall time, the session's run time and the kernel time by operator type."""
    import tempfile

    from evokd.data.registry import resolve_data
    from evokd.handoff import onnx
    from evokd.handoff.predict import load_for, predict_texts
    from evokd.tasks import load_dataset

    texts = [ex["text"] for ex in load_dataset(resolve_data(DATASET), "classification").test[:n_texts]]
    student, task, temperature = load_for(folder, "onnx", "cpu", threads or None)
    ort = onnx.runtime()
    options = ort.SessionOptions()
    options.enable_profiling = True
    options.profile_file_prefix = str(Path(tempfile.mkdtemp(prefix="evokd-ort-")) / "profile")
    if threads:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(folder / onnx.MODEL_FILE), options, providers=["CPUExecutionProvider"])
    student.model.session = session  # the same graph, now traced
    started = time.perf_counter()
    predict_texts(student, task, texts, batch_size, 128, temperature=temperature)
    wall = time.perf_counter() - started
    trace = json.loads(Path(session.end_profiling()).read_text(encoding="utf-8"))
    return {"texts": len(texts), "batch_size": batch_size, "wall_ms": round(wall * 1000, 1), **kernel_ms(trace)}


def kernel_ms(trace: list[dict[str, Any]]) -> dict[str, Any]:
    """From an ONNX Runtime profile (Chrome trace events): the sessions' total run time and each operator type's
    kernel time, in milliseconds, largest first."""
    by_op: dict[str, float] = {}
    for ev in trace:
        if ev.get("cat") == "Node" and str(ev.get("name", "")).endswith("_kernel_time"):
            op = ev["args"]["op_name"]
            by_op[op] = by_op.get(op, 0.0) + ev["dur"] / 1000
    runs = sum(ev["dur"] for ev in trace if ev.get("cat") == "Session" and ev.get("name") == "model_run") / 1000
    ordered = sorted(by_op.items(), key=lambda kv: -kv[1])
    return {"session_ms": round(runs, 1), "kernels_ms": {op: round(ms, 1) for op, ms in ordered}}


def int8_bound(
    torch_row: dict[str, Any], int8_row: dict[str, Any], fp32: dict[str, Any], int8: dict[str, Any]
) -> dict[str, Any]:
    """What ONNX int8 could reach against torch fp32 at the table's batch size. The profiles give shares: the
    int8 path's share of the profiled int8 pass, and how much faster its int8 products run than the fp32 products
    they replace (both profiled alike). The shares are applied to the timed rows, because the profiled pass runs
    slower than a timed one (the profiler's overhead, no warm-up). From them: the best speed-up if the int8
    products were free (tokenising, the fp32 kernels and Python stay), and how much faster than fp32 they would
    have to run for the goal with everything else unchanged."""
    quantized = sum(ms for op, ms in int8["kernels_ms"].items() if op in QUANTIZED_OPS)
    replaced = sum(fp32["kernels_ms"].get(op, 0.0) - int8["kernels_ms"].get(op, 0.0) for op in FP32_PRODUCTS)
    share, products_speedup = quantized / int8["wall_ms"], replaced / quantized
    torch_ms = 1000 * int8["texts"] / torch_row["texts_per_s"]
    int8_ms = 1000 * int8["texts"] / int8_row["texts_per_s"]
    rest = int8_ms * (1 - share)
    allowed = torch_ms / GOAL_SPEEDUP - rest  # the int8 products' time that would meet the goal
    return {
        "quantized_share": round(share, 3),
        "products_speedup": round(products_speedup, 2),
        "timed_int8_ms": round(int8_ms, 1),
        "rest_ms": round(rest, 1),
        "best_speedup_vs_torch_fp32": round(torch_ms / rest, 2),
        "products_speedup_for_goal": round(products_speedup * int8_ms * share / allowed, 2) if allowed > 0 else None,
    }


def _rss_mb() -> float:
    """This process's resident memory now, in MiB (Linux's VmRSS; the peak, ru_maxrss, where /proc is absent).
    Now, not the peak: reading the dataset peaks above what the model adds, which a peak would hide."""
    status = Path("/proc/self/status")
    if status.is_file():
        line = next(x for x in status.read_text(encoding="utf-8").splitlines() if x.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def teacher_rate() -> dict[str, Any]:
    """The teacher's labelling rate and macro-F1 with the Critic's default call (label-only, one text per call),
    from the committed call comparison (its own dev texts; the teacher is not run again here)."""
    cost = json.loads(LABEL_CALL.read_text(encoding="utf-8"))
    row = next(r for r in cost["rows"] if r["label_call"] == "label-only")
    return {
        "texts_per_s": row["texts_per_s"],
        "macro_f1": row["macro_f1"],
        "texts": cost["texts"],
        "split": "dev",
        "source": str(LABEL_CALL.relative_to(RESULTS.parent.parent)),
    }


def ratios(rows: list[dict[str, Any]], teacher_per_s: float) -> dict[str, Any]:
    """Add each row's speed-up and F1 gap against torch fp32 at its batch size, and its multiple of the teacher's
    rate; return the goal's verdict (ONNX int8 at batch 64)."""
    for row in rows:
        base = next(r for r in rows if r["variant"] == "torch fp32" and r["batch_size"] == row["batch_size"])
        row["speedup_vs_torch_fp32"] = round(row["texts_per_s"] / base["texts_per_s"], 2)
        row["f1_gap_vs_torch_fp32"] = round(row["macro_f1"] - base["macro_f1"], 4)
        row["times_teacher"] = round(row["texts_per_s"] / teacher_per_s, 1)
    int8 = next(r for r in rows if r["variant"] == "ONNX int8" and r["batch_size"] == 64)
    speedup, gap = int8["speedup_vs_torch_fp32"], int8["f1_gap_vs_torch_fp32"]
    return {"speedup": speedup, "f1_gap": gap, "met": speedup >= GOAL_SPEEDUP and gap >= -GOAL_F1_GAP}


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    """Every variant at batch 1 and batch 64, each in a child process, and the ratios."""
    run = Path(args.run) if args.run else make_student(Path(args.work), args.train)
    exports = ensure_exports(run)
    load_before = os.getloadavg()

    def child(name: str, texts: int, batch_size: int, *extra: str) -> dict[str, Any]:
        """One measurement of variant ``name`` in a fresh process (its own allocator, threads and caches)."""
        backend, sub = VARIANTS[name]
        cmd = [sys.executable, "-m", "evokd.bench.serving", "--measure", str(run / sub), "--backend", backend]
        cmd += ["--texts", str(texts), "--batch-size", str(batch_size), "--threads", str(args.threads), *extra]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        return dict(json.loads(done.stdout.splitlines()[-1]))

    rows = [
        {"variant": name, "batch_size": batch_size, **child(name, n_texts, batch_size, "--repeats", str(args.repeats))}
        for batch_size, n_texts in ((64, args.texts), (1, args.batch1_texts))
        for name in VARIANTS
    ]
    profiles = {name: child(name, args.texts, 64, "--profile") for name in ("ONNX fp32", "ONNX int8")}
    load_after = os.getloadavg()
    teacher = teacher_rate()
    torch64 = next(r for r in rows if r["variant"] == "torch fp32" and r["batch_size"] == 64)
    int8_64 = next(r for r in rows if r["variant"] == "ONNX int8" and r["batch_size"] == 64)
    import onnxruntime
    import torch

    return {
        "dataset": DATASET,
        "student": str(run),
        "student_recipe": json.loads((run / "run.json").read_text(encoding="utf-8")) if not args.run else None,
        "exports": exports,
        "rows": rows,
        "teacher": teacher,
        "goal": ratios(rows, teacher["texts_per_s"]),
        "profile": profiles,
        "int8_bound": int8_bound(torch64, int8_64, profiles["ONNX fp32"], profiles["ONNX int8"]),
        "machine": {
            "cpus": os.cpu_count(),
            "arch": platform.machine(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__,
            "load_average_1m_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
            "note": "shared 2-core machine; other processes were running during the measurement",
        },
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "command": "python -m evokd.bench.serving " + " ".join(sys.argv[1:]),
    }


def markdown(result: dict[str, Any]) -> str:
    """The speed table as Markdown."""
    t, goal = result["teacher"], result["goal"]
    lines = [
        f"# Serving speed: {result['dataset']} ({result['date_utc']} UTC)",
        "",
        f"Written by `{result['command'].strip()}` on a {result['machine']['cpus']}-core "
        f"{result['machine']['arch']} CPU (torch {result['machine']['torch']}, onnxruntime "
        f"{result['machine']['onnxruntime']}); {result['machine']['note']} (1-minute load average "
        f"{' then '.join(map(str, result['machine']['load_average_1m_before_after']))}).",
        "Each row labels the same first N test texts through `evokd predict`'s path (tokenising included), median "
        "of the repeats; memory is the process's resident set after the runs, with what it grew by from just "
        "before the model loaded (the model, its runtime and the batches).",
        "",
        "| variant | batch | texts | texts/s | x torch fp32 | x teacher | resident MiB (added by the model) "
        "| macro-F1 | Δ F1 vs torch fp32 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {r['variant']} | {r['batch_size']} | {r['texts']:,} | {r['texts_per_s']:,.1f} | "
            f"{r['speedup_vs_torch_fp32']:.2f} | {r['times_teacher']:,.0f} | {r['rss_mb']:,.0f} "
            f"({r['rss_mb'] - r['rss_before_model_mb']:+,.0f}) | {r['macro_f1']:.4f} | "
            f"{r['f1_gap_vs_torch_fp32']:+.4f} |"
            for r in result["rows"]
        ),
        f"| teacher (label-only call) | 1 | {t['texts']} | {t['texts_per_s']} | | 1 | | {t['macro_f1']:.4f} | |",
        "",
        f"The teacher's row is read from [{Path(t['source']).name}]({Path(t['source']).name}) (its own "
        f"{t['texts']} {t['split']} texts, not rerun). Goal (ONNX int8 at batch 64 at least "
        f"{GOAL_SPEEDUP:.0f}x torch fp32, "
        f"at most {GOAL_F1_GAP * 100:.1f} points below its macro-F1): **{'met' if goal['met'] else 'not met'}** "
        f"({goal['speedup']:.2f}x, {goal['f1_gap'] * 100:+.2f} points).",
        "",
        *profile_markdown(result),
    ]
    return "\n".join(lines)


def profile_markdown(result: dict[str, Any]) -> list[str]:
    """Where each export's time goes, from ONNX Runtime's profiler, and the best int8 could reach here."""
    fp32, int8, bound = result["profile"]["ONNX fp32"], result["profile"]["ONNX int8"], result["int8_bound"]
    ops = list(dict.fromkeys([*fp32["kernels_ms"], *int8["kernels_ms"]]))
    return [
        f"## Where the time goes (ONNX Runtime's profiler, one more pass of the {int8['texts']:,} texts at batch "
        f"{int8['batch_size']})",
        "",
        "| operator | ONNX fp32 ms | ONNX int8 ms |",
        "|---|---:|---:|",
        *(
            f"| {op}{' (int8 path)' if op in QUANTIZED_OPS else ''} | {fp32['kernels_ms'].get(op, 0):,.1f} | "
            f"{int8['kernels_ms'].get(op, 0):,.1f} |"
            for op in ops
        ),
        f"| all kernels' runs (session) | {fp32['session_ms']:,.1f} | {int8['session_ms']:,.1f} |",
        f"| the whole pass (tokenising, Python, softmax) | {fp32['wall_ms']:,.1f} | {int8['wall_ms']:,.1f} |",
        "",
        f"The int8 path's kernels take {bound['quantized_share']:.0%} of the profiled int8 pass and run "
        f"{bound['products_speedup']:.2f}x faster than the fp32 products they replace. Applied to the timed int8 "
        f"row ({bound['timed_int8_ms']:,.1f} ms; the profiled pass is slower: profiler overhead, no warm-up), the "
        f"other {bound['rest_ms']:,.1f} ms (fp32 kernels: attention's products of two activations, softmax, layer "
        "norm, GELU, transposes; and tokenising) dynamic quantization leaves as they are. So even with free int8 "
        f"products ONNX int8 would reach at most {bound['best_speedup_vs_torch_fp32']:.2f}x torch fp32 here, and "
        f"{GOAL_SPEEDUP:.0f}x would need the int8 products "
        + (
            f"{bound['products_speedup_for_goal']:.1f}x faster than fp32 ones with the rest unchanged."
            if bound["products_speedup_for_goal"]
            else "to take less than no time: the rest alone is too slow."
        ),
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    """Measure every variant (or, with --measure, one of them in this process) and write the result files."""
    for name, value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_VERBOSITY", "error")):
        os.environ.setdefault(name, value)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default="", help="a run folder with model/ (default: the fixed full-shot student)")
    ap.add_argument("--train", type=int, default=1000, help="train texts of the student made when --run is not given")
    ap.add_argument("--work", default="runs/serving", help="where that student and its exports are kept")
    ap.add_argument("--texts", type=int, default=2000, help="test texts at batch 64 (at most the whole split)")
    ap.add_argument("--batch1-texts", type=int, default=300, help="test texts at batch 1")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--threads", type=int, default=0, help="threads for torch and ONNX Runtime alike (0: each library's default)"
    )
    ap.add_argument("--out", default=str(RESULTS / "serving-speed"), help="result path without .md/.json")
    ap.add_argument("--measure", default="", help=argparse.SUPPRESS)  # a child process: one variant
    ap.add_argument("--backend", default="torch", help=argparse.SUPPRESS)
    ap.add_argument("--batch-size", type=int, default=64, help=argparse.SUPPRESS)
    ap.add_argument("--profile", action="store_true", help=argparse.SUPPRESS)  # a child process: one traced pass
    args = ap.parse_args(argv)
    if args.measure and args.profile:
        print(json.dumps(profile(Path(args.measure), args.texts, args.batch_size, args.threads)))
        return 0
    if args.measure:
        found = measure(Path(args.measure), args.backend, args.texts, args.batch_size, args.repeats, args.threads)
        print(json.dumps(found))
        return 0
    from evokd.records import write_json, write_text

    result = run_all(args)
    write_json(f"{args.out}.json", result)
    write_text(Path(f"{args.out}.md"), markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
