"""The serving speed table's arithmetic and Markdown on made-up measurements (no model runs), and the README's
quotes of the committed table."""

from __future__ import annotations

import json

from evokd.bench.serving import int8_bound, markdown, ratios, teacher_rate
from tests.support import ROOT


def rows(int8_speed: float, int8_f1: float) -> list[dict]:
    made = []
    for batch, scale in ((64, 1.0), (1, 0.5)):
        for variant, speed, f1 in (
            ("torch fp32", 100.0, 0.80),
            ("ONNX fp32", 150.0, 0.80),
            ("ONNX int8", int8_speed, int8_f1),
        ):
            made.append(
                {"variant": variant, "batch_size": batch, "texts": 10, "texts_per_s": speed * scale, "macro_f1": f1,
                 "rss_mb": 900.0, "rss_before_model_mb": 600.0}
            )  # fmt: skip
    return made


def test_ratios_are_against_torch_fp32_at_the_same_batch_and_judge_the_goal() -> None:
    table = rows(320.0, 0.797)
    goal = ratios(table, teacher_per_s=0.5)
    assert goal == {"speedup": 3.2, "f1_gap": -0.003, "met": True}
    by = {(r["variant"], r["batch_size"]): r for r in table}
    assert by[("ONNX fp32", 1)]["speedup_vs_torch_fp32"] == 1.5 and by[("torch fp32", 1)]["times_teacher"] == 100.0
    assert not ratios(rows(320.0, 0.79), 0.5)["met"]  # a full point lost
    assert not ratios(rows(250.0, 0.80), 0.5)["met"]  # 2.5x


PROFILE_FP32 = {"texts": 10, "batch_size": 64, "wall_ms": 100.0, "session_ms": 90.0,
                "kernels_ms": {"MatMul": 60.0, "Softmax": 20.0}}  # fmt: skip
PROFILE_INT8 = {"texts": 10, "batch_size": 64, "wall_ms": 80.0, "session_ms": 70.0,
                "kernels_ms": {"MatMulInteger": 30.0, "MatMul": 20.0, "DynamicQuantizeLinear": 10.0}}  # fmt: skip


def test_the_int8_bound_applies_the_profiled_shares_to_the_timed_rows() -> None:
    # profiled int8 pass: 40 of 80 ms in int8 kernels (50 %); they replace 40 ms of fp32 MatMul (60 - 20): 1.0x.
    # Timed: torch 10 texts at 100 texts/s = 100 ms, int8 at 200 texts/s = 50 ms, so the rest is 25 ms.
    bound = int8_bound({"texts_per_s": 100.0}, {"texts_per_s": 200.0}, PROFILE_FP32, PROFILE_INT8)
    assert bound["quantized_share"] == 0.5 and bound["products_speedup"] == 1.0
    assert bound["timed_int8_ms"] == 50.0 and bound["rest_ms"] == 25.0 and bound["best_speedup_vs_torch_fp32"] == 4.0
    # 3x torch allows 33.3 ms: 8.3 ms for products that take 25 ms now, so they must run 3.0x faster
    assert bound["products_speedup_for_goal"] == 3.0
    # a rest slower than a third of torch's time: no product speed reaches the goal
    assert (
        int8_bound({"texts_per_s": 100.0}, {"texts_per_s": 100.0}, PROFILE_FP32, PROFILE_INT8)[
            "products_speedup_for_goal"
        ]
        is None
    )


def test_markdown_shows_every_row_the_teacher_and_the_verdict() -> None:
    table = rows(320.0, 0.797)
    teacher = teacher_rate()  # read from the committed call comparison
    result = {
        "dataset": "rotten_tomatoes",
        "date_utc": "2026-12-05 10:00",
        "command": "python -m evokd.bench.serving",
        "machine": {"cpus": 2, "arch": "x86_64", "torch": "2", "onnxruntime": "1", "note": "shared",
                    "load_average_1m_before_after": [1.0, 2.0]},
        "rows": table,
        "teacher": teacher,
        "goal": ratios(table, teacher["texts_per_s"]),
        "profile": {"ONNX fp32": PROFILE_FP32, "ONNX int8": PROFILE_INT8},
        "int8_bound": int8_bound(table[0], table[2], PROFILE_FP32, PROFILE_INT8),
    }  # fmt: skip
    text = markdown(result)
    assert "| MatMulInteger (int8 path) | 0.0 | 30.0 |" in text and "| MatMul | 60.0 | 20.0 |" in text
    assert text.count("| ONNX int8 |") == 2 and "| teacher (label-only call) | 1 | 200 | 0.41 |" in text
    assert "**met** (3.20x, -0.30 points)" in text


def test_the_readme_quotes_the_committed_speed_table() -> None:
    result = json.loads((ROOT / "benchmarks" / "results" / "serving-speed.json").read_text(encoding="utf-8"))
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    by = {(r["variant"], r["batch_size"]): r for r in result["rows"]}
    int8 = by[("ONNX int8", 64)]
    assert f"ONNX int8 {int8['texts_per_s']} (**{int8['speedup_vs_torch_fp32']:.2f}x**" in readme
    assert f"torch fp32 {by[('torch fp32', 64)]['texts_per_s']} texts/s" in readme
    assert f"ONNX int8 is {by[('ONNX int8', 1)]['speedup_vs_torch_fp32']:.2f}x torch fp32" in readme
    assert f"about {int8['times_teacher']:,.0f} times faster" in readme
    assert ("goal of 3x at batch 64 is not met here" in readme) == (not result["goal"]["met"])
