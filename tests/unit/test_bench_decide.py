"""benchmarks/decide.py: a variant becomes a default only on a paired dev gain whose interval clears zero, and
the test scores never enter the verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evokd.bench.decide import dev_verdict, main


def runs(base: list[float], variant: list[float], test: float = 0.5) -> dict[str, list[dict]]:
    """pool-random and pool-random-all with these dev scores, one per seed, and one fixed test score."""
    return {
        name: [{"seed": i, "dev": d, "score": test} for i, d in enumerate(devs, 1)]
        for name, devs in (("pool-random", base), ("pool-random-all", variant))
    }


def test_adopts_only_when_the_paired_dev_interval_lies_above_zero():
    steady = dev_verdict(runs([0.60, 0.62, 0.58, 0.61, 0.59], [0.63, 0.64, 0.61, 0.63, 0.62]), "pool-random-all")
    assert steady["adopt"] and steady["baseline"] == "pool-random" and steady["seeds"] == 5
    assert steady["dev_difference"] == pytest.approx(0.026) and steady["interval"][0] > 0
    # the same mean gain, but one seed loses: the interval covers zero and the default stays
    noisy = dev_verdict(runs([0.60, 0.62, 0.58, 0.61, 0.59], [0.70, 0.60, 0.61, 0.63, 0.59]), "pool-random-all")
    assert noisy["dev_difference"] == pytest.approx(0.026) and not noisy["adopt"] and noisy["interval"][0] < 0


def test_reads_dev_never_test():
    a = runs([0.60, 0.62, 0.58], [0.63, 0.64, 0.61], test=0.9)
    b = {name: [{**r, "score": 0.1} for r in rs] for name, rs in a.items()}
    assert dev_verdict(a, "pool-random-all") == dev_verdict(b, "pool-random-all")


def test_no_shared_seed_is_an_error_and_the_command_prints_the_verdict(tmp_path: Path, capsys):
    r = runs([0.60, 0.62, 0.58], [0.63, 0.64, 0.61])
    with pytest.raises(ValueError, match="share no seed"):
        dev_verdict({"pool-random-all": r["pool-random-all"]}, "pool-random-all")
    path = tmp_path / "rotten_tomatoes.json"
    path.write_text(json.dumps({"runs": r}), encoding="utf-8")
    main([str(path), "pool-random-all"])
    assert "pool-random-all vs pool-random on dev (3 paired seeds): +0.0267" in capsys.readouterr().out
    path.write_text(json.dumps({"runs": {"pool-random-all": r["pool-random-all"]}}), encoding="utf-8")
    with pytest.raises(SystemExit, match=r"rotten_tomatoes\.json: pool-random-all and pool-random share no seed"):
        main([str(path), "pool-random-all"])


def test_more_datasets_pool_their_seeds_into_one_interval(tmp_path: Path, capsys):
    first = runs([0.60, 0.62, 0.58], [0.62, 0.63, 0.61])
    second = runs([0.50, 0.55, 0.52], [0.53, 0.57, 0.55])
    pooled = dev_verdict(first, "pool-random-all", second)
    assert pooled["seeds"] == 6 and pooled["dev_difference"] == pytest.approx(0.14 / 6, abs=1e-4) and pooled["adopt"]
    assert not dev_verdict(first, "pool-random-all", runs([0.5, 0.5, 0.5], [0.4, 0.45, 0.41]))["adopt"]
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    for path, r in zip(paths, (first, second), strict=True):
        path.write_text(json.dumps({"runs": r}), encoding="utf-8")
    main([str(paths[0]), "pool-random-all", "--with", str(paths[1])])
    assert "(6 paired seeds): +0.0233" in capsys.readouterr().out


def test_fewer_pairs_than_the_rule_asks_for_adopt_nothing(tmp_path: Path, capsys):
    clear_gain = runs([0.60, 0.62, 0.58], [0.63, 0.64, 0.61])
    assert dev_verdict(clear_gain, "pool-random-all", pairs=3)["adopt"]
    short = dev_verdict(clear_gain, "pool-random-all", pairs=5)
    assert not short["adopt"] and short["missing"] == 2 and short["interval"][0] > 0
    path = tmp_path / "rotten_tomatoes.json"
    path.write_text(json.dumps({"runs": clear_gain}), encoding="utf-8")
    main([str(path), "pool-random-all", "--pairs", "5"])
    assert capsys.readouterr().out.rstrip().endswith("-> no verdict: the rule asks for 5 pairs, 2 missing")
