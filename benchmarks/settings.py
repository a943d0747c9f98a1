"""What a benchmark is: its `Settings` (datasets, methods, seeds, recipe, teacher, budget) and names.

Kept apart from the runner so that mounting ``evokd bench`` on the command line (its flags derive from
these settings) loads no student, graph or teacher code: every ``evokd`` call builds that parser.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from evokd.bench import METHOD_NAMES, REFERENCES
from evokd.bench.curves import TOP
from evokd.settings import Context, JsonMode, declare, setting
from evokd.task import TaskKind

Say = Callable[[str], None]
SOURCE_MARKER = "source.sha256"  # in a cut data folder: the data_identity of the source it was cut from
CACHE_FILE = "teacher_cache.sqlite"  # in each cell's folder: a retried cell never pays the teacher twice


def data_identity(dataset: str) -> dict[str, str]:
    """What the data adds to a fingerprint: the sha256 of every file of the dataset as `resolve_data` reads it
    (a user's file or folder, or a bundled dataset's folder), its card included, so an edited split or label
    meaning reruns the cell. With the eval cut in the fingerprint this names the exact texts scored."""
    from evokd.data.registry import content_sha256, resolve_data

    path = resolve_data(dataset)
    if path.is_file():
        return {"data_sha256": content_sha256(path.read_bytes())}
    files = {f.relative_to(path).as_posix(): f.read_bytes() for f in path.rglob("*") if f.is_file()}
    return {"data_sha256": content_sha256(files)}


def name_of(dataset: str) -> str:
    """What a dataset's files are called: its bundled name, or the folder's name for a path."""
    return Path(dataset).name


@dataclass
class Settings:
    """One benchmark: what is compared, on what, with which teacher, student recipe and budget."""

    datasets: list[str] = field(default_factory=lambda: ["rotten_tomatoes", "bbc_news"])
    methods: list[str] = field(default_factory=lambda: [*METHOD_NAMES, *REFERENCES])
    seeds: list[int] = field(default_factory=list)  # empty: `seeds_for` (5 on classification, 3 on NER)
    shots: int = setting("shots")
    budget_tokens: int = setting("budget_tokens", TOP)  # the top rung: every run is scored at each rung
    per_round: int = setting(
        "per_round", 2
    )  # static and rephrase write 2 x this; the evokd methods use the paper's 2 + 2
    max_rounds: int = setting("max_rounds", 50)  # a ceiling only: the budget is what stops a run
    # Student recipe, shared by every method (and the full-shot reference).
    student: str = setting("student")
    epochs: int = setting("epochs")
    min_steps: int = setting("min_steps")
    lr: float = setting("lr")
    batch_size: int = setting("batch_size", 8)
    balance: bool = setting("balance")
    select_epoch: bool = setting("select_epoch")
    patience_epochs: int = setting("patience_epochs")
    max_length: int = setting("max_length")
    replay: int = setting("replay")
    # Teacher: the local one's endpoint settings unless `evokd bench --teacher-url` names another.
    teacher_url: str = setting("teacher_url")
    teacher_model: str = setting("teacher_model", "teacher")
    teacher_id: str = setting("teacher_id")  # the local teacher's weights' sha256, set by the endpoint policy
    teacher_name: str = ""  # what the report calls the teacher
    json_mode: JsonMode = setting("json_mode", local=True)
    concurrency: int = setting("concurrency", local=True)
    max_tokens: int = setting("max_tokens")
    # One thread each by default: measured on a 2-core machine shared with other jobs, two threads each
    # oversubscribed it and ran 5x slower.
    threads: int = declare(1, "CPU threads for the student (torch) and the local teacher (llama.cpp), each.")
    timeout: float = setting("timeout", local=True)
    cache: bool = True
    # References.
    teacher_eval: int = declare(
        0,
        "Test texts the teacher labels zero-shot: the first N of the test texts the "
        "methods are scored on (0 = all of them, the same texts; for a paired subset use --eval-limit).",
    )
    full_shot_seeds: int = declare(3, "Seeds of the full-shot reference (the first N of the benchmark's seeds).")
    full_shot_limit: int = declare(1000, "Train examples for the full-shot reference (0 = the whole train split).")
    full_shot_epochs: int = declare(
        0,
        "Most epochs of the full-shot reference, a cap for a slow machine (0 = the "
        "methods' epochs, chosen on dev like theirs).",
    )
    # Whole splits by default: the student scores about 200 texts a second on 2 CPU cores, so a round's test
    # evaluation is seconds. A cut is for a teacher too slow to label the whole test split: every method and
    # reference is then scored on the same first N texts, fixed before any result (at least 500 for a table).
    eval_limit: int = declare(
        0, "Dev and test cut to their first N examples (the splits are seeded shuffles; 0 = whole splits)."
    )
    # Where things go.
    out: str = declare("benchmarks/results", "Results folder: JSON, Markdown tables and plots.")
    work: str = declare(
        "runs/bench", "Cell folders (each with its result, checkpoint and teacher reply cache) and the cut data."
    )
    quick: bool = False
    report_only: bool = False  # --collect: build the tables from finished runs on disk; run nothing
    machine: str = ""

    def data_folder(self, dataset: str) -> str:
        """The dataset as the runs see it: as given, or with dev and test cut to their first ``eval_limit``
        examples; the cut is made again whenever its source's files change (`data_identity`)."""
        if not self.eval_limit:
            return dataset
        from evokd.data.registry import resolve_data, split_filename, task_kind, write_split

        source = resolve_data(dataset)
        kind = task_kind(source)
        folder = Path(self.work) / "data" / f"{name_of(dataset)}-eval{self.eval_limit}"
        marker, made_from = folder / SOURCE_MARKER, data_identity(dataset)["data_sha256"]
        if not marker.exists() or marker.read_text(encoding="utf-8") != made_from:
            from evokd.tasks import load_dataset  # the student stack: imported only when data is cut

            ds = load_dataset(source, kind)
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            if (source / "card.json").exists():  # the task kind and the description the teacher reads
                shutil.copy(source / "card.json", folder / "card.json")
            for split, rows in (
                ("train", ds.train),
                ("dev", ds.dev[: self.eval_limit]),
                ("test", ds.test[: self.eval_limit]),
            ):
                write_split(folder / split_filename(kind, split), rows, kind)
            marker.write_text(made_from, encoding="utf-8")  # last: a cut killed halfway is made again
        return str(folder)

    def task_of(self, dataset: str) -> TaskKind:
        """The dataset's task kind, from its card or files."""
        from evokd.data.registry import resolve_data, task_kind

        return task_kind(resolve_data(self.data_folder(dataset)))

    def context(self, dataset: str, seed: int, run_dir: Path, **overrides: object) -> Context:
        """The Context every method starts from: same data, seeds, student recipe, teacher and budget."""
        shared = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.metadata.get("setting")}
        values: dict[str, object] = dict(
            shared,
            data=self.data_folder(dataset),
            task=self.task_of(dataset),
            seed=seed,
            patience=0,
            cache=str(run_dir / CACHE_FILE) if self.cache else "",
            run_dir=str(run_dir),
        )
        values.update(overrides)
        return Context(**values)  # type: ignore[arg-type]

    def seeds_for(self, dataset: str) -> list[int]:
        """The seeds a dataset runs: as given, else `SEEDS` of its task kind (`DEFAULT_SEEDS` for another kind)."""
        return self.seeds or list(range(1, 1 + SEEDS.get(self.task_of(dataset), DEFAULT_SEEDS)))


# Enough seeds for a t interval a few points wide on classification; NER rounds cost several times more
# teacher tokens and wall time, so 3.
SEEDS: dict[TaskKind, int] = {"classification": 5, "ner": 3}
DEFAULT_SEEDS = 5
