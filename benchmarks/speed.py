"""Speed, as ratios measured in one run: where a round's time goes, teacher concurrency, student training.

- `node_split`: per-round wall time split by node, and what is left beyond the teacher's requests and
  the student's training and evaluation (graph, parsing, persistence), from the benchmark's evokd runs;
- `concurrency`: one EvoKD round against a scripted OpenAI-compatible server that answers every
  request after a fixed delay; each teacher node's wall time against (calls / concurrency) x delay;
- `trainer`: `student.train` against a plain `transformers.Trainer` on identical data and
  hyper-parameters, each in a fresh process so its peak RSS is its own.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evokd.records import write_json, write_text

Say = Callable[[str], None]
TEACHER_NODES = ("analyst", "generator", "critic")


def ratio(measured: float, calls: int, concurrency: int, delay: float) -> float:
    """Measured teacher wall time over the ideal ``ceil(calls / concurrency) * delay`` (1.0 is perfect overlap)."""
    return measured / (math.ceil(calls / concurrency) * delay)


def concurrency(
    data: str,
    student: str,
    say: Say,
    per_round: int = 8,
    workers: int = 4,
    delay: float = 1.0,
    work: str = "runs/bench-speed",
) -> dict:
    """One round of the real graph against a server answering each request after ``delay`` seconds."""
    from langgraph.checkpoint.memory import InMemorySaver

    from evokd.graph.build import build_graph
    from evokd.records import read_jsonl
    from evokd.settings import Context

    try:  # the scripted server is test support code: it is in a source checkout, not in an installed evokd
        from tests.support.fake_openai import FakeOpenAI, Scripted, SentimentTeacher
    except ModuleNotFoundError as e:
        raise RuntimeError(
            "the concurrency measurement needs a source checkout of evokd "
            "(it uses tests/support/fake_openai.py); run `evokd bench --speed` from one"
        ) from e

    scripted = SentimentTeacher()

    def delayed(body: dict) -> Scripted:
        """The scripted reply, sent after ``delay`` seconds (a label-only reply comes scripted whole)."""
        reply = scripted(body)
        return dataclasses.replace(reply, delay=delay) if isinstance(reply, Scripted) else Scripted(reply, delay=delay)

    with (
        tempfile.TemporaryDirectory(dir=Path(work).parent if Path(work).parent.exists() else None) as tmp,
        FakeOpenAI(delayed) as server,
    ):
        ctx = Context(
            data=data,
            student=student,
            teacher_url=server.url,
            teacher_model="teacher",
            run_dir=tmp,
            max_rounds=1,
            per_round=per_round,
            concurrency=workers,
            max_retries=0,
            epochs=1,
            min_steps=4,
            json_mode="json_schema",
        )
        build_graph().compile(checkpointer=InMemorySaver()).invoke(
            {}, {"configurable": {"thread_id": "speed"}}, context=ctx
        )
        nodes = read_jsonl(Path(tmp) / "rounds.jsonl")[1]["nodes"]
    per_node: dict[str, dict[str, float]] = {}
    out: dict[str, object] = {"delay_s": delay, "concurrency": workers, "nodes": per_node}
    for name in TEACHER_NODES:
        n = nodes[name]
        per_node[name] = {
            "calls": n["calls"],
            "seconds": n["seconds"],
            "ideal_s": math.ceil(n["calls"] / workers) * delay,
            "ratio": round(ratio(n["seconds"], n["calls"], workers, delay), 3),
        }
    calls = sum(nodes[n]["calls"] for n in TEACHER_NODES)
    wall = sum(nodes[n]["seconds"] for n in TEACHER_NODES)
    out.update(
        calls=calls,
        teacher_wall_s=round(wall, 3),
        formula_s=round(calls / workers * delay, 3),
        round_ratio=round(wall / (calls / workers * delay), 3),
    )
    say(
        f"concurrency: {calls} teacher calls at {delay} s each, {workers} in flight: round teacher wall {wall:.2f} s "
        f"= {out['round_ratio']}x (calls / concurrency) x delay"
    )
    return out


def node_split(work: str, datasets: list[str], method: str = "evokd") -> dict:
    """Mean per-round seconds by node, over every evolution round of the benchmark's ``method`` runs."""
    out = {}
    for dataset in datasets:
        rows = []
        for result in sorted((Path(work) / Path(dataset).name / method).glob("seed-*/result.json")):
            r = json.loads(result.read_text(encoding="utf-8"))
            for wall, nodes in list(zip(r["round_walls"], r["round_nodes"], strict=False))[
                1:
            ]:  # round 0 has no teacher
                teacher = sum(nodes.get(n, {}).get("request_seconds", 0.0) for n in TEACHER_NODES)
                student = nodes["student"].get("train_seconds", 0.0) + nodes["student"].get("eval_seconds", 0.0)
                rows.append(
                    {
                        "wall": wall,
                        **{n: nodes.get(n, {}).get("seconds", 0.0) for n in (*TEACHER_NODES, "student")},
                        "teacher_requests": teacher,
                        "student_train": nodes["student"].get("train_seconds", 0.0),
                        "student_eval": nodes["student"].get("eval_seconds", 0.0),
                        "overhead": wall - teacher - student,
                        "graph": wall - sum(nodes.get(n, {}).get("seconds", 0.0) for n in (*TEACHER_NODES, "student")),
                    }
                )
        if rows:
            mean = {k: round(statistics.fmean(row[k] for row in rows), 2) for k in rows[0]}
            mean["overhead_share"] = round(mean["overhead"] / mean["wall"], 4) if mean["wall"] else 0.0
            out[dataset] = {"rounds": len(rows), "mean_seconds": mean}
    return out


def _peak_rss_mb() -> float:
    """This process's peak resident memory in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(spec: dict) -> dict:
    """Train once, in this (fresh) process, with ``spec['kind']`` = ``student`` or ``trainer``; report speed and
    memory."""
    import torch

    from evokd.student import model
    from evokd.student.train import TrainConfig, train
    from evokd.tasks import head_for, load_dataset

    torch.manual_seed(spec["seed"])
    torch.set_num_threads(spec["threads"])
    ds = load_dataset(spec["data"], "classification")
    examples = ds.train[: spec["n"]]
    device = spec["device"]
    net = model.load(spec["student"] or model.default_student_path(), head_for(ds.task), device=device)
    rss_loaded = _peak_rss_mb()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    if spec["kind"] == "student":
        train(
            net,
            examples,
            TrainConfig(
                lr=spec["lr"],
                batch_size=spec["batch_size"],
                epochs=1,
                min_steps=0,
                max_length=spec["max_length"],
                seed=spec["seed"],
            ),
        )
    else:
        from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

        enc = net.tokenizer([e["text"] for e in examples], truncation=True, max_length=spec["max_length"])
        label_id = {lab: i for i, lab in enumerate(ds.task.labels)}
        rows = [
            {
                "input_ids": enc["input_ids"][i],
                "attention_mask": enc["attention_mask"][i],
                "labels": label_id[e["label"]],
            }
            for i, e in enumerate(examples)
        ]
        steps = math.ceil(len(rows) / spec["batch_size"])
        with tempfile.TemporaryDirectory() as tmp:
            args = TrainingArguments(
                output_dir=tmp,
                per_device_train_batch_size=spec["batch_size"],
                num_train_epochs=1,
                learning_rate=spec["lr"],
                weight_decay=0.01,
                warmup_steps=int(0.1 * steps),
                lr_scheduler_type="linear",
                max_grad_norm=1.0,
                logging_strategy="no",
                save_strategy="no",
                report_to=[],
                seed=spec["seed"],
                use_cpu=device == "cpu",
                bf16=device == "cuda",
                dataloader_num_workers=0,
                disable_tqdm=True,
            )
            Trainer(
                model=net.model, args=args, train_dataset=rows, data_collator=DataCollatorWithPadding(net.tokenizer)
            ).train()
    seconds = time.perf_counter() - started
    return {
        "kind": spec["kind"],
        "device": device,
        "examples": len(examples),
        "seconds": round(seconds, 2),
        "samples_per_s": round(len(examples) / seconds, 2),
        "rss_after_load_mb": round(rss_loaded),
        "peak_rss_mb": round(_peak_rss_mb()),
        "peak_gpu_mb": round(torch.cuda.max_memory_allocated() / 2**20) if device == "cuda" else None,
        "threads": torch.get_num_threads(),
    }


def _run_child(spec: dict) -> dict:
    """Run `_child` in a fresh interpreter and read its JSON answer (the last stdout line)."""
    code = "import json,sys; from evokd.bench.speed import _child; print(json.dumps(_child(json.loads(sys.argv[1]))))"
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(spec)],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"},
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"speed child ({spec['kind']}) failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def trainer(
    data: str,
    student: str,
    say: Say,
    n: int = 320,
    batch_size: int = 16,
    lr: float = 5e-5,
    max_length: int = 128,
    repeats: int = 2,
    threads: int = 1,
) -> dict:
    """`student.train` against `transformers.Trainer`: samples/s (best of ``repeats``, alternating) and peak RSS."""
    import torch

    devices = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]
    out: dict[str, object] = {
        "examples": n,
        "batch_size": batch_size,
        "lr": lr,
        "max_length": max_length,
        "epochs": 1,
        "threads": threads,
    }
    for device in devices:
        best: dict[str, dict] = {}
        for _ in range(repeats):  # alternate so a noisy neighbour on a shared CPU hits both alike
            for kind in ("student", "trainer"):
                r = _run_child(
                    {
                        "kind": kind,
                        "data": data,
                        "student": student,
                        "n": n,
                        "batch_size": batch_size,
                        "lr": lr,
                        "max_length": max_length,
                        "seed": 0,
                        "device": device,
                        "threads": threads,
                    }
                )
                if kind not in best or r["samples_per_s"] > best[kind]["samples_per_s"]:
                    best[kind] = r
        speedup = best["student"]["samples_per_s"] / best["trainer"]["samples_per_s"]
        out[device] = {
            **best,
            "speedup": round(speedup, 3),
            "precision": "bf16 autocast" if device == "cuda" else "fp32",
        }
        say(
            f"trainer ({device}): student.train {best['student']['samples_per_s']} samples/s, peak RSS "
            f"{best['student']['peak_rss_mb']} MB; transformers.Trainer {best['trainer']['samples_per_s']} samples/s, "
            f"peak RSS {best['trainer']['peak_rss_mb']} MB; ratio {speedup:.2f}x"
        )
    if "cuda" not in out:
        out["cuda"] = "not measured: no GPU on this machine"
    return out


def markdown(result: dict) -> str:
    """speed.md: the three measurements as short tables."""
    lines = [f"## Speed — {result['date']} · {result['machine']}", ""]
    c = result.get("concurrency")
    if c:
        lines += [
            f"**Teacher concurrency** (scripted server, {c['delay_s']} s per call, {c['concurrency']} in flight): "
            f"a round's teacher wall time is **{c['round_ratio']}x** (calls / concurrency) x delay "
            f"({c['teacher_wall_s']} s for {c['calls']} calls).",
            "",
            "| node | calls | wall s | ideal s (ceil(calls/concurrency) x delay) | ratio |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {k} | {v['calls']} | {v['seconds']:.2f} | {v['ideal_s']:.2f} | {v['ratio']} |"
            for k, v in c["nodes"].items()
        ]
        lines.append("")
    t = result.get("trainer")
    if t:
        lines += [
            f"**Student training** ({t['examples']} examples, batch {t['batch_size']}, 1 epoch, max length "
            f"{t['max_length']}; best of alternating runs, each in a fresh process):",
            "",
            "| device | trainer | samples/s | peak RSS MB | ratio to transformers.Trainer |",
            "|---|---|---|---|---|",
        ]
        for device in ("cpu", "cuda"):
            d = t.get(device)
            if isinstance(d, dict):
                for kind in ("student", "trainer"):
                    name = "student.train" if kind == "student" else "transformers.Trainer"
                    lines.append(
                        f"| {device} ({d['precision']}) | {name} | {d[kind]['samples_per_s']} | "
                        f"{d[kind]['peak_rss_mb']} | {d['speedup'] if kind == 'student' else 1.0} |"
                    )
            elif d:
                lines.append(f"| {device} | – | {d} | | |")
        lines.append("")
    scale = result.get("scaling")
    if scale:
        cells, ranks = scale["cells"], scale["ranks"]
        lines += [
            f"**Scale-out** ({cells['cpus']} CPUs): {cells['cells']} seed-only benchmark cells as Ray tasks took "
            f"{cells['ray_s']} s against {cells['sequence_s']} s one after another (**{cells['speedup']}x**); one "
            f"training pass over {ranks['examples']} examples in {ranks['procs']} data-parallel ranks took "
            f"{ranks['ranks_s']} s against {ranks['one_s']} s in one process (**{ranks['speedup']}x**, start-up of the "
            f"ranks included; same weights on every rank: {ranks['same_weights']}).",
            "",
        ]
    for dataset, split in (result.get("node_split") or {}).items():
        m = split["mean_seconds"]
        lines += [
            f"**Where a round goes** ({dataset}, evokd, mean of {split['rounds']} rounds, seconds):",
            "",
            "| round wall | analyst | generator | critic | student | teacher requests | student train | "
            "student eval | overhead (graph, parsing, persistence) |",
            "|---|---|---|---|---|---|---|---|---|",
            f"| {m['wall']} | {m['analyst']} | {m['generator']} | {m['critic']} | {m['student']} | "
            f"{m['teacher_requests']} | {m['student_train']} | {m['student_eval']} | "
            f"{m['overhead']} ({m['overhead_share']:.1%}) |",
            "",
        ]
    return "\n".join(lines)


def run(out: str, data: str, student: str, work: str, datasets: list[str], say: Say, quick: bool = False) -> dict:
    """All speed measurements; writes ``<out>/speed.json`` and ``speed.md``."""
    import datetime

    from evokd.bench.tables import machine

    result: dict[str, object] = {"date": datetime.date.today().isoformat(), "machine": machine()}
    result["concurrency"] = concurrency(data, student, say, per_round=4 if quick else 8)
    result["trainer"] = trainer(data, student, say, n=64 if quick else 320, repeats=1 if quick else 2)
    result["node_split"] = node_split(work, datasets)
    if not quick:  # the scale-out ratios (issue 15): real Ray tasks and torch ranks, minutes on 2 cores
        from evokd.bench import scaling

        result["scaling"] = {"cells": scaling.cells(data, student, say), "ranks": scaling.ranks(data, student, say)}
    return save(out, result)


def refresh_split(out: str, work: str, datasets: list[str]) -> dict:
    """Recompute only the per-node split in ``<out>/speed.json`` from the runs finished since it was measured."""
    import datetime

    from evokd.bench.tables import machine

    path = Path(out) / "speed.json"
    result: dict[str, Any] = (
        json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"date": datetime.date.today().isoformat()}
    )
    result.setdefault("machine", machine())
    result["node_split"] = {**result.get("node_split", {}), **node_split(work, datasets)}
    return save(out, result)


def save(out: str, result: dict) -> dict:
    """Write ``speed.json`` and ``speed.md`` and refresh the results index."""
    from evokd.bench.tables import write_index

    write_json(Path(out) / "speed.json", result)
    write_text(Path(out) / "speed.md", markdown(result))
    write_index(Path(out))
    return result
