"""The scale-out speed ratios run end to end on the tiny data and student (the numbers are the benchmark's)."""

from __future__ import annotations

from evokd.bench import scaling


def test_cells_on_ray_and_in_sequence_are_both_timed(sentiment_dir, tiny_student):
    result = scaling.cells(str(sentiment_dir), str(tiny_student), lambda _: None, n=2)
    assert result["cells"] == 2 and result["sequence_s"] > 0 and result["ray_s"] > 0 and result["speedup"] > 0


def test_two_ranks_against_one_process_keep_one_set_of_weights(sentiment_dir, tiny_student):
    result = scaling.ranks(str(sentiment_dir), str(tiny_student), lambda _: None, n=12)
    assert result["examples"] == 12 and result["procs"] == 2 and result["same_weights"]
    assert result["one_s"] > 0 and result["ranks_s"] > 0
