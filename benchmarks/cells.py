"""Benchmark cells and the three ways to run them: in this process, as Ray tasks, or one per array-job index.

A cell is one dataset x method x seed (a reference is a cell too: full-shot per seed, the teacher once).
`run_cell` is pure and idempotent: it builds its own graph, checkpointer and reply cache inside the
cell's folder, writes nowhere else, and returns at once when the folder holds a finished result with
the same fingerprint. So any scheduler can run, retry or repeat a cell, and the tables are always
built from the folders on disk (`collect`), never from what a scheduler handed back.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

from evokd.bench import METHOD_NAMES
from evokd.bench.methods import methods
from evokd.bench.runner import full_shot, run_method, teacher_reference
from evokd.bench.settings import Say, Settings, name_of


class CellError(ValueError):
    """A sweep that cannot run as asked (one line; `evokd bench` exits 2)."""


@dataclass(frozen=True)
class Cell:
    """One run of the benchmark: a method (or reference) on a dataset with a seed."""

    dataset: str
    method: str
    seed: int

    @property
    def id(self) -> str:
        """The cell's name: its folder under the work folder and its checkpoint thread."""
        return f"{name_of(self.dataset)}/{self.method}/seed-{self.seed}"

    def folder(self, s: Settings) -> Path:
        """Where the cell writes, and nothing else."""
        return Path(s.work) / self.id


def all_cells(s: Settings) -> list[Cell]:
    """Every cell of the benchmark in a fixed order (an array index names the same cell on every call):
    per dataset, seed-major over the methods that run on its task kind, then the full-shot seeds, then the
    teacher."""
    known = methods(s.per_round)
    out: list[Cell] = []
    for dataset in s.datasets:
        seeds = s.seeds_for(dataset)
        kind = s.task_of(dataset)
        names = [m for m in METHOD_NAMES if m in s.methods and (not known[m].kinds or kind in known[m].kinds)]
        out += [Cell(dataset, m, seed) for seed in seeds for m in names]
        if "full-shot" in s.methods:
            out += [Cell(dataset, "full-shot", seed) for seed in seeds[: s.full_shot_seeds]]
        if "teacher" in s.methods:
            out.append(Cell(dataset, "teacher", 0))
    return out


def run_cell(s: Settings, cell: Cell, say: Say) -> dict | None:
    """Run one cell (or reuse its finished result); the result, also written to its folder's result.json."""
    folder = cell.folder(s)
    if cell.method == "full-shot":
        return full_shot(s, cell.dataset, cell.seed, folder, say)
    if cell.method == "teacher":
        return teacher_reference(s, cell.dataset, folder, say)
    return run_method(s, cell.dataset, cell.method, cell.seed, folder, cell.id, say)


def asks_teacher(s: Settings, cell: Cell) -> bool:
    """Whether the cell talks to the teacher (the teacher reference does; a method says so)."""
    return cell.method == "teacher" or (cell.method in METHOD_NAMES and methods(s.per_round)[cell.method].uses_teacher)


def finished(s: Settings, cell: Cell) -> dict | None:
    """The cell's result if it finished with the settings in force (a stale result counts as unfinished)."""
    return run_cell(dataclasses.replace(s, report_only=True), cell, lambda _: None)


def run_local(s: Settings, cells: list[Cell], say: Say) -> None:
    """The default executor: every cell in turn in this process."""
    import torch

    torch.set_num_threads(s.threads)
    for cell in cells:
        run_cell(s, cell, say)


def cell_at(s: Settings, index: int) -> Cell:
    """The cell an array job's index names (`--cell-index`, e.g. $SLURM_ARRAY_TASK_ID)."""
    cells = all_cells(s)
    if not 0 <= index < len(cells):
        raise CellError(f"--cell-index {index}: this benchmark has cells 0-{len(cells) - 1} (see --list-cells)")
    return cells[index]


def _remote_cell(s: Settings, cell: Cell, threads: int) -> str:
    """A Ray task's body: one cell, with torch's threads set here because Ray reuses workers across tasks."""
    import torch

    torch.set_num_threads(max(1, threads))
    run_cell(s, cell, lambda line: print(line, flush=True))
    return cell.id


def run_ray(s: Settings, cells: list[Cell], address: str, cpus: float, gpus: float, say: Say) -> list[str]:
    """One Ray task per unfinished cell on the cluster at ``address`` ("local" starts one here, "auto" or
    HOST:PORT joins a running one); returns the ids of the cells that failed (each said in one line; a
    rerun resumes them from their checkpoints). Results stay on disk."""
    try:
        import ray
    except ImportError:
        raise CellError("--ray-address needs the ray extra: pip install 'evokd[ray]'") from None
    if address == "local":
        # A private cluster sized to this machine, no dashboard; token auth off (nothing joins it).
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=True)
    else:
        try:
            ray.init(address=address, log_to_driver=True)
        except ConnectionError as e:
            raise CellError(f"--ray-address {address}: {str(e).splitlines()[0][:160]}") from None
    try:
        have = ray.cluster_resources()
        # A task asking for more than the cluster has would wait forever, not fail: refuse it here.
        for what, asked in (("GPU", gpus), ("CPU", cpus)):
            if asked > have.get(what, 0):
                raise CellError(
                    f"--cell-{what.lower()}s {asked:g}: the Ray cluster at {address} has "
                    f"{have.get(what, 0):g} {what}(s); ask for fewer or join a cluster that has them"
                )
        todo = [c for c in cells if finished(s, c) is None]
        say(f"ray: {len(todo)} of {len(cells)} cells to run ({len(cells) - len(todo)} finished on disk)")
        task = ray.remote(num_cpus=cpus, num_gpus=gpus, max_retries=1)(_remote_cell)
        refs = {task.remote(s, c, int(cpus) or 1): c for c in todo}
        failed = []
        for ref, cell in refs.items():
            try:
                ray.get(ref)
            except ray.exceptions.RayError as e:  # one cell's failure must not hide the others' results
                last = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
                say(f"ray: cell {cell.id} failed: {last[:200]}")
                failed.append(cell.id)
        return failed
    finally:
        ray.shutdown()


def run_costs(folder: Path) -> dict:
    """The run's teacher tokens per accepted pool and generated text, and its accepted hard and easy texts with
    those the student got wrong before training, from its summary.json (none if absent)."""
    from evokd.accounting import STANCE_COUNTS
    from evokd.bench.tables import PER_ACCEPTED

    summary = folder / "summary.json"
    if not summary.exists():
        return {}
    figures = json.loads(summary.read_text(encoding="utf-8"))
    return {key: figures.get(key) for key in (*PER_ACCEPTED, *STANCE_COUNTS)}


def stale(s: Settings) -> list[tuple[int, Cell]]:
    """The cells (with their indices) whose folder holds a result made by other code or settings."""
    return [
        (i, c) for i, c in enumerate(all_cells(s)) if (c.folder(s) / "result.json").exists() and finished(s, c) is None
    ]


def collect(s: Settings) -> list[dict]:
    """The tables, plots and JSON of every dataset, built from the finished cells on disk; refused while any
    cell holds a result of other code or settings, so a table never mixes two versions of the code."""
    from evokd.bench import tables
    from evokd.bench.over_texts import collected

    if old := stale(s):
        raise CellError(
            f"--collect: {len(old)} cell(s) were made by other code or settings ({', '.join(c.id for _, c in old)}); "
            f"rerun them with the same flags and {', '.join(f'--cell-index {i}' for i, _ in old)}, "
            "or without --collect to run every cell not finished with this code"
        )
    summaries = []
    for dataset in s.datasets:
        runs: dict[str, list[dict]] = {}
        refs: dict[str, list[dict]] = {}
        folders: dict[str, list[tuple[Path, dict]]] = {}
        teacher: Path | None = None  # the finished teacher reference's folder, whose labels it kept
        for cell in (c for c in all_cells(s) if c.dataset == dataset):
            if (result := finished(s, cell)) is None:
                continue
            if cell.method in METHOD_NAMES:
                runs.setdefault(cell.method, []).append({**result, **run_costs(cell.folder(s))})
                folders.setdefault(cell.method, []).append((cell.folder(s), result))
            else:
                refs.setdefault(cell.method, []).append(result)
                teacher = cell.folder(s) if cell.method == "teacher" else teacher
        summaries.append(tables.write(s, dataset, runs, refs, collected(s, dataset, folders, teacher)))
    return summaries
