"""The student recipe of issue 12: class-balanced batches, the epoch chosen on dev, early stopping,
the Context settings that switch them, and the learning-curve benchmark that measures the recipe."""

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from evokd.bench import learning_curve
from evokd.settings import Context
from evokd.student import train as train_module
from evokd.student.model import Head, Student, load
from evokd.student.recipe import dev_selection, fit
from evokd.student.train import TrainConfig, class_keys, epoch_orders, train
from evokd.task import Example, Task
from evokd.tasks import evaluate, head_for
from tests.support.data import NEG, POS, write_jsonl
from tests.support.tiny_model import make_tiny_model

TASK = Task("classification", ("negative", "positive"))
HEAD = head_for(TASK)
# Imbalanced 10:2, as a skewed teacher labels a pool.
SKEWED: list[Example] = [{"text": POS[i % len(POS)], "label": "positive"} for i in range(10)] + [
    {"text": t, "label": "negative"} for t in NEG[:2]
]
QUICK = TrainConfig(lr=1e-2, batch_size=4, epochs=3, min_steps=0)


def weights(student: Student) -> dict[str, torch.Tensor]:
    """A detached copy of the student's weights."""
    return {k: v.detach().clone() for k, v in student.model.state_dict().items()}


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The class of every example train() puts into a training batch, in order."""
    seen: list[str] = []
    real = train_module.collate

    def spy(rows: list[list[int]], pad_id: int, labels: list | None = None) -> dict:
        if labels is not None:
            seen.extend(HEAD.names[i] for i in labels)
        return real(rows, pad_id, labels)

    monkeypatch.setattr(train_module, "collate", spy)
    return seen


def scripted(scores: list[float], snapshots: list[dict]) -> object:
    """A dev scorer that returns `scores` in turn and snapshots the weights it was shown."""
    it: Iterator[float] = iter(scores)

    def score(student: Student) -> float:
        snapshots.append(weights(student))
        return next(it)

    return score


# ---- class balance ------------------------------------------------------------------------------


def test_balance_draws_each_class_equally_often(tiny_student: Path, drawn: list[str]) -> None:
    train(load(tiny_student, HEAD, device="cpu"), SKEWED, QUICK, balance_by=class_keys(HEAD, SKEWED))
    per_epoch = [Counter(drawn[i : i + len(SKEWED)]) for i in range(0, len(drawn), len(SKEWED))]
    assert per_epoch == [Counter(positive=6, negative=6)] * 3  # 12 draws an epoch, as without balance
    drawn.clear()
    train(load(tiny_student, HEAD, device="cpu"), SKEWED, QUICK)  # the control: the skew as it comes
    assert Counter(drawn) == Counter(positive=30, negative=6)


def test_balanced_order_repeats_minority_and_rotates_majority() -> None:
    keys = ["a"] * 10 + ["b"] * 2 + ["c"]  # 13 draws over 3 classes: 5/4/4 in some order
    orders = epoch_orders(len(keys), keys, torch.Generator().manual_seed(0))
    epochs = [next(orders) for _ in range(4)]
    for order in epochs:
        assert len(order) == 13 and sorted(Counter(keys[i] for i in order).values()) == [4, 4, 5]
    majority = [i for order in epochs for i in order if keys[i] == "a"]
    assert set(majority) == set(range(10))  # every majority example gets its turn across epochs
    again = epoch_orders(len(keys), keys, torch.Generator().manual_seed(0))
    assert [next(again) for _ in range(4)] == epochs  # seeded


def test_class_keys_only_for_whole_text_heads() -> None:
    assert class_keys(HEAD, SKEWED[:2]) == ["positive", "positive"]
    tagged = [{"tokens": ["bob"], "tags": ["B-PER"], "text": "bob"}]
    assert class_keys(Head(("O", "B-PER", "I-PER"), per_token=True), tagged) is None  # sentences: no single class


# ---- epoch chosen on dev, early stopping ----------------------------------------------------------


def test_dev_selection_restores_best_epoch_and_stops_early(tiny_student: Path) -> None:
    student, snapshots = load(tiny_student, HEAD, device="cpu"), []
    cfg = TrainConfig(lr=1e-2, batch_size=4, epochs=10, min_steps=1, patience=3)
    stats = train(student, SKEWED, cfg, dev_score=scripted([0.2, 0.9, 0.5, 0.9, 0.3, 1.0], snapshots))
    assert (stats["epoch"], stats["dev"], stats["epochs"]) == (2, 0.9, 5)  # a tie (epoch 4) is no improvement
    assert len(snapshots) == 5 and not same(snapshots[1], snapshots[4])  # training went on past epoch 2 ...
    assert same(weights(student), snapshots[1])  # ... and epoch 2's weights came back


def test_patience_zero_runs_every_epoch_and_keeps_best(tiny_student: Path) -> None:
    student, snapshots = load(tiny_student, HEAD, device="cpu"), []
    cfg = TrainConfig(lr=1e-2, batch_size=4, epochs=6, min_steps=1, patience=0)
    stats = train(student, SKEWED, cfg, dev_score=scripted([0.1, 0.2, 0.3, 0.8, 0.1, 0.1], snapshots))
    assert (stats["epoch"], stats["epochs"], stats["dev"]) == (4, 6, 0.8)
    assert same(weights(student), snapshots[3])


def test_dev_is_scored_only_once_min_steps_have_run(tiny_student: Path) -> None:
    progress: list[dict] = []
    cfg = TrainConfig(lr=1e-2, batch_size=4, epochs=5, min_steps=10, patience=0)  # 3 steps an epoch: from epoch 4
    stats = train(load(tiny_student, HEAD, device="cpu"), SKEWED, cfg, progress.append, dev_score=lambda s: 0.5)
    assert [p["epoch"] for p in progress if "dev" in p] == [4, 5]
    assert (stats["epoch"], stats["epochs"]) == (4, 5)


def test_without_dev_the_last_epoch_is_kept(tiny_student: Path) -> None:
    stats = train(load(tiny_student, HEAD, device="cpu"), SKEWED, QUICK)
    assert (stats["epoch"], stats["epochs"], stats["dev"]) == (3, 3, None)


def test_context_switches_balance_and_selection(tiny_student: Path, drawn: list[str]) -> None:
    d = Context()
    assert (d.balance, d.select_epoch, d.patience_epochs, d.lr, d.epochs) == (True, True, 3, 1e-4, 10)
    ctx = Context(epochs=2, min_steps=0, batch_size=4, lr=1e-2, protocol="oracle-dev")
    assert dev_selection(Context(), TASK, SKEWED[:4], evaluate) is None  # few-shot: no gold dev label picks an epoch
    stats = fit(load(tiny_student, HEAD, device="cpu"), SKEWED, ctx, 0, dev_selection(ctx, TASK, SKEWED[:4], evaluate))
    assert Counter(drawn) == Counter(positive=12, negative=12) and stats["dev"] is not None
    drawn.clear()
    off = Context(epochs=2, min_steps=0, batch_size=4, lr=1e-2, balance=False, select_epoch=False)
    stats = fit(load(tiny_student, HEAD, device="cpu"), SKEWED, off, 0, dev_selection(off, TASK, SKEWED[:4], evaluate))
    assert Counter(drawn) == Counter(positive=20, negative=4) and stats["dev"] is None


def test_run_flags_switch_the_recipe(sentiment_dir: Path, tmp_path: Path) -> None:
    from evokd.cli.flags import context_from_args, parser

    argv = ["run", "--data", str(sentiment_dir), "--no-balance", "--no-select-epoch", "--patience-epochs", "1"]
    ctx = context_from_args(parser().parse_args(argv), tmp_path / "run")
    assert (ctx.balance, ctx.select_epoch, ctx.patience_epochs) == (False, False, 1)
    ctx = context_from_args(parser().parse_args(["run", "--data", str(sentiment_dir)]), tmp_path / "run")
    assert (ctx.balance, ctx.select_epoch, ctx.patience_epochs) == (True, True, 3)


# ---- the learning-curve benchmark -----------------------------------------------------------------


def test_learning_curve_end_to_end(sentiment_dir: Path, tiny_student: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    code = learning_curve.main(
        [
            "--datasets",
            str(sentiment_dir),
            "--seeds",
            "1",
            "--sizes",
            "2/label,32",
            "--student",
            str(tiny_student),
            "--out",
            str(out),
            "--work",
            str(tmp_path / "work"),
        ]
    )
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [f"learning-curve-data.{ext}" for ext in ("json", "md", "png")]
    result = json.loads((out / "learning-curve-data.json").read_text())
    assert [(p["recipe"], p["rung"], p["n"]) for p in result["points"]] == [
        (recipe, rung, n) for rung, n in (("2/label", 4), ("32", 12)) for recipe in ("old", "default", "few-shot")
    ]  # 12 = all of train
    old, new, few = (
        next(p for p in result["points"] if p["recipe"] == r and p["rung"] == "32")
        for r in ("old", "default", "few-shot")
    )
    assert old["dev"] is None and few["dev"] is None and new["dev"] is not None  # only oracle-dev picks on dev
    assert all(0 <= p["dev_kept"] <= 1 for p in result["points"])  # every kept student is scored on dev
    assert result["decision"]["kept"] in ("old", "few-shot") and result["decision"]["seeds"] == [1]
    assert result["machine"] and result["date"] and result["device"] == "cpu"
    table = (out / "learning-curve-data.md").read_text()
    assert "| 2/label | 4 |" in table and "Δ default − old" in table and "**Rule**" in table


def _points(dev: dict[tuple[str, int], list[float]]) -> list[dict]:
    """Learning-curve points with these dev scores per (recipe, seed), one per rung."""
    return [
        {"recipe": r, "seed": seed, "rung": f"rung{i}", "dev_kept": d}
        for (r, seed), scores in dev.items()
        for i, d in enumerate(scores)
    ]


def test_recipe_rule_adopts_the_candidate_only_on_a_dev_interval_above_zero() -> None:
    clear = _points(
        {("few-shot", s): [0.5, 0.6] for s in (1, 2, 3)} | {("old", s): [0.6, 0.7 + s / 100] for s in (1, 2, 3)}
    )
    rule = learning_curve.choose_recipe(clear)
    assert rule is not None and rule["kept"] == "old" and rule["dev_differences"] == [0.105, 0.11, 0.115]
    mixed = _points(
        {("few-shot", s): [0.5, 0.6] for s in (1, 2, 3)}
        | {("old", s): [0.5 + d, 0.6] for s, d in ((1, 0.2), (2, -0.1), (3, 0.0))}
    )
    assert learning_curve.choose_recipe(mixed)["kept"] == "few-shot"  # a mean gain whose interval covers zero
    worse = _points({("few-shot", 1): [0.7], ("few-shot", 2): [0.7], ("old", 1): [0.6], ("old", 2): [0.5]})
    assert learning_curve.choose_recipe(worse)["kept"] == "few-shot"
    one_seed = _points({("few-shot", 1): [0.1], ("old", 1): [0.9]})
    assert learning_curve.choose_recipe(one_seed)["kept"] == "few-shot"  # one seed never switches
    assert learning_curve.choose_recipe(_points({("old", 1): [0.9]})) is None  # nothing paired


def test_learning_curve_runs_ner_unbalanced_with_span_f1(tmp_path: Path) -> None:
    rows = [
        (["alice", "slept"], ["B-person", "O"]),
        (["bob", "ran"], ["B-person", "O"]),
        (["in", "paris"], ["O", "B-loc"]),
        (["to", "rome"], ["O", "B-loc"]),
    ]
    data = tmp_path / "ner"
    data.mkdir()
    for split in ("train", "dev", "test"):
        write_jsonl(data / f"{split}.jsonl", [{"tokens": t, "tags": g} for t, g in rows])
    student = make_tiny_model(tmp_path / "student", [" ".join(t for toks, _ in rows for t in toks)])
    out = tmp_path / "results"
    assert (
        learning_curve.main(
            [
                "--datasets",
                str(data),
                "--seeds",
                "1",
                "--sizes",
                "2/label",
                "--recipes",
                "default",
                "--student",
                str(student),
                "--out",
                str(out),
                "--work",
                str(tmp_path / "work"),
            ]
        )
        == 0
    )
    result = json.loads((out / "learning-curve-ner.json").read_text())
    assert result["metric"] == "span F1" and [(p["rung"], p["n"]) for p in result["points"]] == [("2/label", 4)]


def test_learning_curve_rejects_sizes_off_the_ladder(capsys: pytest.CaptureFixture[str]) -> None:
    assert learning_curve.main(["--sizes", "2/label,1000"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: --sizes: 1000 not on the ladder; choose from 2/label,8/label,32,128,512,2048"
