"""How fast `evokd predict` labels text with the bundled student, written to benchmarks/results/predict-throughput.json.

    python -m evokd.bench.predict_throughput [--texts 1000] [--repeats 3]

The texts are the first N of rotten_tomatoes' test split (fetch it first: ``evokd data fetch
rotten_tomatoes``). The student is the bundled all-MiniLM-L6-v2 with a two-label head, saved the
way a run saves its model; its head is untrained, which changes the labels but not the time. Each
repeat runs `predict_file`, the function behind `evokd predict`, and its own timing is recorded
(prediction only; model loading is listed apart), after one untimed warm-up pass over the first batch
so one-time start-up costs do not land in the first repeat. The machine's load average is recorded with it,
as other work on a shared machine slows every figure.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

RESULT = Path(__file__).parent / "results" / "predict-throughput.json"


def measure(texts: int, repeats: int, batch_size: int, dataset: str = "rotten_tomatoes") -> dict:
    """Time `predict_file` on the first ``texts`` test texts of a bundled classification dataset, ``repeats`` times."""
    import torch

    from evokd.data.registry import resolve_data
    from evokd.handoff.predict import predict_file
    from evokd.student import model
    from evokd.tasks import head_for, load_dataset

    data = load_dataset(resolve_data(dataset), "classification")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "texts.txt").write_text("".join(ex["text"] + "\n" for ex in data.test[:texts]), encoding="utf-8")
        model.save(model.load(model.default_student_path(), head_for(data.task), device="cpu"), folder / "model")
        warm_up = "".join(ex["text"] + "\n" for ex in data.test[:batch_size])
        (folder / "warm-up.txt").write_text(warm_up, encoding="utf-8")
        predict_file(
            folder / "model", folder / "warm-up.txt", folder / "out.jsonl", batch_size=batch_size, device="cpu"
        )
        load_before = os.getloadavg()
        runs = [
            predict_file(
                folder / "model", folder / "texts.txt", folder / "out.jsonl", batch_size=batch_size, device="cpu"
            )
            for _ in range(repeats)
        ]
        load_after = os.getloadavg()
    speeds = [float(r["texts_per_s"]) for r in runs]  # type: ignore[arg-type]
    return {
        "what": f"evokd predict (predict_file) on {dataset} test texts with the bundled all-MiniLM-L6-v2 student",
        "texts": runs[0]["texts"],
        "texts_per_s_median": statistics.median(speeds),
        "texts_per_s": speeds,
        "seconds": [r["seconds"] for r in runs],
        "load_seconds": [r["load_seconds"] for r in runs],
        "batch_size": batch_size,
        "max_length": runs[0]["max_length"],
        "device": "cpu",
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "arch": platform.machine(),
            "system": platform.system(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "load_average_1m_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
            "note": "shared 2-core machine; other jobs were running during the measurement",
        },
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "command": "python -m evokd.bench.predict_throughput " + " ".join(sys.argv[1:]),
    }


def main(argv: list[str] | None = None) -> int:
    """Measure and write the result file."""
    from evokd.records import write_json

    # As the evokd command does, before transformers is imported: never reach for a hub, no library progress bars.
    quiet = (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_VERBOSITY", "error"), ("HF_HUB_DISABLE_PROGRESS_BARS", "1"))
    for name, value in quiet:
        os.environ.setdefault(name, value)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--out", default=str(RESULT))
    args = ap.parse_args(argv)
    result = measure(args.texts, args.repeats, args.batch_size)
    write_json(args.out, result)
    print(
        f"{result['texts']} texts: median {result['texts_per_s_median']:.1f} texts/s "
        f"(runs {', '.join(f'{s:.1f}' for s in result['texts_per_s'])}) → {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
