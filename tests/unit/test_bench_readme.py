"""The README's result tables come from the committed benchmark files: regenerated, they are the same, and
every score in them is a number those files hold."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from evokd.bench.readme import BLOCKS, DATASETS, README, RESULTS, block, load, marker, render

INTERVAL_HEADER = "95 % t-interval at the top"


def numbers_in(obj: object) -> set[str]:
    """Every number in a JSON value, to three places (as the tables print scores)."""
    if isinstance(obj, dict):
        return set().union(*(numbers_in(v) for v in obj.values())) if obj else set()
    if isinstance(obj, list):
        return set().union(*(numbers_in(v) for v in obj)) if obj else set()
    if isinstance(obj, float | int) and not isinstance(obj, bool):
        return {f"{obj:.3f}"}
    return set()


def headline_row(name: str) -> str:
    """The row for dataset ``name`` in the README's "Where it stands" table."""
    headline = README.read_text(encoding="utf-8").split("**Where it stands**")[1].split("\n\n")[1]
    return next(line for line in headline.splitlines() if line.startswith(f"| {name}"))


def committed(path: str) -> dict:
    """A committed result file under benchmarks/results/, parsed."""
    return json.loads((RESULTS / path).read_text(encoding="utf-8"))


def generated(text: str, name: str) -> str:
    """The block between a dataset's markers in ``text``."""
    return text.split(marker(name, False))[1].split(marker(name, True))[0]


def test_the_readme_tables_are_what_the_committed_files_give():
    text = README.read_text(encoding="utf-8")
    assert all(marker(name, False) in text for name in DATASETS)
    assert render(text) == text, "README result tables differ from benchmarks/results: python -m evokd.bench.readme"


def test_every_score_in_a_readme_table_is_in_the_committed_files():
    text = README.read_text(encoding="utf-8")
    for name in [n for n in BLOCKS if marker(n, False) in text]:
        held = set().union(*(numbers_in(summary) for _, summary in load(RESULTS, BLOCKS[name])))
        rows = [line for line in generated(text, name).splitlines() if line.startswith("| ")]
        header = rows[0].split(" | ")
        derived = header.index(INTERVAL_HEADER)  # recomputed from the per-seed scores, not stored
        scores = [
            n
            for row in rows[2:]
            for i, cell in enumerate(row.split(" | "))
            if i != derived
            for n in re.findall(r"\d+\.\d{3}", cell)
        ]
        assert scores and [n for n in scores if n not in held] == [], name


def test_an_edited_number_or_result_file_is_caught(tmp_path: Path):
    text = README.read_text(encoding="utf-8")
    row = next(line for line in generated(text, "rotten_tomatoes").splitlines() if line.startswith("| static |"))
    edited = text.replace(row, row.replace("0.571", "0.581"))
    assert edited != text and render(edited) == text  # a hand edit is overwritten by the files' number
    # A changed result file changes the table: the block is read from the files, not kept from the README.
    for path, summary in load(RESULTS, BLOCKS["rotten_tomatoes"]):
        if "static" in summary["methods"]:
            summary["methods"]["static"]["score_mean"] = 0.123
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(json.dumps(summary))
    assert "0.123 ± 0.028" in block(tmp_path, BLOCKS["rotten_tomatoes"]) and "0.123" not in generated(
        text, "rotten_tomatoes"
    )


def test_a_file_with_intervals_over_texts_shows_them_below_its_table(tmp_path: Path):
    path, summary = load(RESULTS, BLOCKS["few-shot-default/rotten_tomatoes"])[0]
    assert "Over seeds and test texts" not in block(RESULTS, (path,))  # collected before these intervals existed
    over = {"mean": 0.7, "interval": [0.65, 0.75], "covers_zero": False, "seeds": 5, "texts": 2000}
    summary["over_texts"] = {"pool-random": over, "pool-random vs teacher": {**over, "mean": -0.13,
                                                                           "interval": [-0.16, -0.1]}}  # fmt: skip
    (tmp_path / path).parent.mkdir(parents=True)
    (tmp_path / path).write_text(json.dumps(summary))
    table = block(tmp_path, (path,))
    assert "- pool-random: 0.700 [0.650, 0.750] (5 seeds, 2,000 texts)" in table
    assert "- pool-random vs teacher: Δ -0.130 [-0.160, -0.100], loses to (5 seeds, 2,000 texts)" in table


def test_tables_from_before_the_protocols_count_the_gold_dev_labels_they_read():
    table = block(RESULTS, BLOCKS["rotten_tomatoes"])
    # 2 shots plus the 300 gold dev labels that chose epoch and round; setfit read no dev label.
    assert "| static | 5 | 302 | yes (300) |" in table and "| setfit | 5 | 2 | – |" in table


def test_the_student_size_table_quotes_its_committed_file():
    size = committed("student-size-rotten_tomatoes.json")
    text = README.read_text(encoding="utf-8")
    for name in ("default", "mpnet"):
        test = size["over_seeds"][name]["test"]
        low, high = test["interval"]
        assert f"{test['mean']:.3f} ± {test['std']:.3f} [{low:.3f}, {high:.3f}]" in text
    paired = size["against_first_student"]["mpnet"]["test"]
    low, high = paired["interval"]
    assert f"{paired['delta_mean']:+.3f} [{low:+.3f}, {high:+.3f}]" in text


def test_the_bbc_student_size_table_quotes_its_committed_file():
    size = committed("student-size-bbc_news.json")
    row = next(
        line for line in README.read_text(encoding="utf-8").splitlines() if line.startswith("| minus the teacher")
    )
    for name in ("continual", "default", "mpnet"):
        d = size["over_texts"][f"{name} vs teacher"]
        assert f"| {d['mean']:+.3f} [{d['interval'][0]:+.3f}, {d['interval'][1]:+.3f}] |" in row
    text = README.read_text(encoding="utf-8")
    assert f"| {size['over_texts']['continual']['mean']:.3f} | " in text
    means = " | ".join(f"{size['over_seeds'][n]['test']['mean']:.3f} ± {size['over_seeds'][n]['test']['std']:.3f}"
                       for n in ("default", "mpnet"))  # fmt: skip
    assert f"| {means} |" in text
    paired = size["against_first_student"]["mpnet"]["test"]
    low, high = paired["interval"]
    assert (
        f"**mpnet − MiniLM on the same labels: {paired['delta_mean']:+.3f} [{low:+.3f}, {high:+.3f}] on test**" in text
    )
    later = committed("student-size-bbc_news-seeds4-5.json")
    paired, against = later["against_first_student"]["mpnet"]["test"], later["over_texts"]["mpnet vs teacher"]
    low, high = paired["interval"]
    assert f"mpnet − MiniLM {paired['delta_mean']:+.3f} [{low:+.3f}, {high:+.3f}]" in text
    low, high = against["interval"]
    assert f"mpnet minus the teacher {against['mean']:+.3f} [{low:+.3f}," in text


@pytest.mark.parametrize("name", DATASETS)
def test_the_headline_quotes_the_shipped_defaults_committed_file(name: str):
    summary = committed(f"few-shot-16k-default/{name}.json")
    pool = summary["methods"]["pool-random"]
    low, high = pool["score_interval"]
    row = headline_row(name)
    assert f"**{pool['score_mean']:.3f} ± {pool['score_std']:.3f}** [{low:.3f}, {high:.3f}]" in row
    assert f"seeds {pool['seeds'][0]}-{pool['seeds'][-1]}" in row
    assert f"| {pool['tokens_per_accepted_pool']:,.0f} " in row  # the whole cell's number: "| 46 |", "| 1,101 per"


def test_the_headlines_bbc_full_shot_is_its_committed_reference_on_the_same_texts():
    summary = committed("full-shot-bbc_news/bbc_news.json")
    ref = summary["references"]["full-shot"]
    assert ref["seeds"] == [1] and ref["labelled"] == 1000  # the README says: one seed, 1,000 gold texts
    row = headline_row("bbc_news")
    assert f"| {ref['score']:.3f}, one seed, {ref['labelled']:,} gold texts (" in row


@pytest.mark.parametrize("name", DATASETS)
def test_the_headlines_teacher_is_its_committed_reference_on_the_same_texts(name: str):
    ref = committed(f"teacher-label-only/{name}.json")["references"]
    teacher = ref["teacher"]
    assert teacher["n"] == teacher["of"]  # it labelled the whole test split, as every student is scored on
    row = headline_row(name)
    low, high = teacher["interval"]
    link = f"([teacher-label-only](benchmarks/results/teacher-label-only/{name}.json))"
    assert f"| {teacher['score']:.3f} [{low:.3f}, {high:.3f}] {link}" in row


@pytest.mark.parametrize("name", ["bbc_news", "wnut16"])
def test_student_against_teacher_is_quoted_from_its_committed_file(name: str):
    over = committed(f"over-texts-{name}.json")["over_texts"]
    pool, against, alone = over["pool-random"], over["pool-random vs teacher"], over["seed-only vs teacher"]
    counted = f"| {name} ({pool['seeds']} seeds, {pool['texts']} "  # the row names the seeds and texts it covers
    row = next(line for line in README.read_text(encoding="utf-8").splitlines() if line.startswith(counted))
    assert f"| {pool['mean']:.3f} [{pool['interval'][0]:.3f}, {pool['interval'][1]:.3f}] |" in row
    for d in (against, alone):
        assert f"{d['mean']:+.3f} [{d['interval'][0]:+.3f}, {d['interval'][1]:+.3f}]" in row
    assert ("no difference shown" in row) == against["covers_zero"]


def test_the_recipes_dev_rule_is_quoted_from_its_committed_file():
    path = RESULTS / "recipe-dev" / "learning-curve-rotten_tomatoes.json"
    rule = json.loads(path.read_text(encoding="utf-8"))["decision"]
    low, high = rule["interval"]
    assert rule["kept"] == "few-shot"  # the README says the shipped recipe stays
    assert f"{rule['mean']:+.3f} [{low:+.3f}, {high:+.3f}]" in README.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["wnut16", "bbc_news", "rotten_tomatoes"])
def test_the_training_passes_control_is_quoted_from_its_committed_file(name: str):
    control = committed(f"passes-control-{name}.json")
    assert control["first_pass_is_seed_only"]  # the control trains as the loop does: its first pass is seed-only
    counted = f"| {name} ({len(control['runs'])} seeds) |"
    row = next(line for line in README.read_text(encoding="utf-8").splitlines() if line.startswith(counted))
    for arm in ("seed-only", "control", "pool-random"):
        assert f"| {control['over_seeds'][arm]['test']['mean']:.3f} |" in row
    for key in ("pool-random - control", "control - seed-only"):
        d = control[key]["test"]
        assert f"{d['delta_mean']:+.3f} [{d['interval'][0]:+.3f}, {d['interval'][1]:+.3f}]" in row


def test_the_rerun_cells_behind_the_rotten_tomatoes_control_repeat_the_committed_default():
    """The control ran on a rerun of the default's cells; the README says they repeated its scores to the digit."""
    control = committed("passes-control-rotten_tomatoes.json")
    base = committed("few-shot-16k-default/rotten_tomatoes.json")
    for arm in ("seed-only", "pool-random"):
        shipped = {r["seed"]: r["score"] for r in base["runs"][arm]}
        assert {r["seed"]: r["scores"][arm]["test"] for r in control["runs"]} == shipped


def test_the_one_evokd_pool_pair_is_quoted_from_its_committed_files():
    ours = committed("few-shot-16k-evokd-pool/rotten_tomatoes.json")
    base = committed("few-shot-16k-default/rotten_tomatoes.json")
    (run,) = ours["runs"]["evokd-pool"]
    pool = next(r for r in base["runs"]["pool-random"] if r["seed"] == run["seed"])
    text = " ".join(README.read_text(encoding="utf-8").split())
    assert f"evokd-pool {run['score']:.3f} against pool-random's {pool['score']:.3f} on the same seed" in text


def test_the_step_rule_is_quoted_from_the_committed_tables_it_reads():
    from evokd.bench.decide import dev_verdict
    from evokd.bench.methods import LONG_STEPS
    from evokd.settings import MIN_STEPS

    assert MIN_STEPS == {"ner": LONG_STEPS, "classification": 40}  # what the verdicts below decided

    def runs(name: str) -> dict:
        return committed(f"min-steps-dev/{name}.json")["runs"]

    text = " ".join(README.read_text(encoding="utf-8").split())
    for verdict, adopted in (
        (dev_verdict(runs("wnut16"), "seed-only-long", pairs=5), True),
        (dev_verdict(runs("rotten_tomatoes"), "seed-only-long", runs("bbc_news"), pairs=10), False),
    ):
        assert verdict["adopt"] is adopted
        low, high = verdict["interval"]
        assert f"{verdict['dev_difference']:+.3f} [{low:+.3f}, {high:+.3f}]" in text


def generating() -> tuple[dict, dict]:
    """The generating methods' committed file and the shipped default's (pool-random on the same seeds)."""
    ours = committed("few-shot-16k-gen/rotten_tomatoes.json")
    base = committed("few-shot-16k-default/rotten_tomatoes.json")
    return ours, base


def test_the_generating_loop_against_the_pool_is_quoted_from_both_committed_files():
    """evokd and pool-random share seeds (so shots) but not code: the README pairs them from the two files."""
    from evokd.bench.tables import compared, difference

    ours, base = generating()
    pool = {r["seed"]: r["score"] for r in base["runs"]["pool-random"]}
    diffs = [r["score"] - pool[r["seed"]] for r in ours["runs"]["evokd"]]
    assert len(diffs) == 5
    text = " ".join(README.read_text(encoding="utf-8").split())
    assert compared("evokd vs pool-random", difference("pool-random", diffs)) in text


def test_the_generating_loops_hard_texts_and_its_swings_are_quoted_from_its_committed_file():
    ours, _ = generating()
    m = ours["methods"]["evokd"]
    text = " ".join(README.read_text(encoding="utf-8").split())
    assert f"{m['hard_fooled']} of {m['hard_accepted']} times" in text
    assert f"its easy ones {m['easy_fooled']} of {m['easy_accepted']}" in text
    # The largest fall of the test score from one round to the next, over every evokd run.
    falls = [
        (a["test"]["score"] - b["test"]["score"], run["seed"], b["round"])
        for run in ours["runs"]["evokd"]
        for a, b in zip(run["rounds_run"], run["rounds_run"][1:], strict=False)
    ]
    fall, seed, rnd = max(falls)
    assert f"by up to {fall:.2f} (seed {seed}, round {rnd})" in text


def rung_differences() -> dict[int, list[float]]:
    """pool-random-oracle minus pool-random at each rung, per seed, from their committed file."""
    ours = committed("few-shot-16k-oracle/rotten_tomatoes.json")
    rungs = {
        m: {r["seed"]: {b["budget"]: b["score"] for b in r["budgets"]} for r in ours["runs"][m]}
        for m in ("pool-random", "pool-random-oracle")
    }
    base, oracle = rungs["pool-random"], rungs["pool-random-oracle"]
    return {b: [oracle[s][b] - base[s][b] for s in oracle] for b in oracle[next(iter(oracle))]}


def test_what_gold_dev_labels_are_worth_is_quoted_from_its_committed_file():
    from evokd.bench.tables import difference

    diffs = rung_differences()
    text = " ".join(README.read_text(encoding="utf-8").split())
    means = [f"+{difference('pool-random', diffs[b])['delta_mean']:.3f} at {b // 1000}k" for b in (1000, 2000, 4000)]
    assert ", ".join(means) in text
    at_8k = difference("pool-random", diffs[8000])
    low, high = at_8k["interval"]
    assert f"+{at_8k['delta_mean']:.3f} at 8k" in text and f"([{low:+.3f}, {high:+.3f}]" in text
    assert not at_8k["covers_zero"] and all(
        difference("pool-random", diffs[b])["covers_zero"] for b in (1000, 2000, 4000)
    )


def test_the_oracle_tables_pool_random_repeats_the_shipped_defaults_seeds():
    ours = committed("few-shot-16k-oracle/rotten_tomatoes.json")
    base = committed("few-shot-16k-default/rotten_tomatoes.json")
    shipped = {r["seed"]: r["score"] for r in base["runs"]["pool-random"]}
    here = {r["seed"]: r["score"] for r in ours["runs"]["pool-random"]}
    assert sorted(here) == [1, 2, 3, 4] and all(shipped[s] == v for s, v in here.items())
    assert "seeds 1-4 here repeat the shipped default's table (commit ae5a934) to the digit" in " ".join(
        README.read_text(encoding="utf-8").split()
    )
