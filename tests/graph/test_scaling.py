"""The scale-out speed ratios run end to end on the tiny data and student (the numbers are the benchmark's)."""

from __future__ import annotations

import re

import pytest

from evokd.bench import scaling


def test_cells_on_ray_and_in_sequence_each_run_every_cell_from_scratch(sentiment_dir, tiny_student):
    lines: list[str] = []
    result = scaling.cells(str(sentiment_dir), str(tiny_student), lines.append, n=2)
    # In sequence each seed's cell trained here; on Ray both were submitted, none found finished on disk.
    assert {m.group(1) for line in lines if (m := re.search(r"seed-only seed (\d+) · round 0", line))} == {"1", "2"}
    assert "ray: 2 of 2 cells to run (0 finished on disk)" in lines
    assert result["speedup"] == pytest.approx(result["sequence_s"] / result["ray_s"], abs=0.01)


def test_two_ranks_against_one_process_keep_one_set_of_weights(sentiment_dir, tiny_student):
    result = scaling.ranks(str(sentiment_dir), str(tiny_student), lambda _: None, n=12)
    assert result["examples"] == 12 and result["procs"] == 2 and result["same_weights"]
    # Each wall time brackets its own training pass (start-up and the ranks' launch come on top).
    assert result["train_s_one"] <= result["one_s"] and result["train_s_ranks"] <= result["ranks_s"]
