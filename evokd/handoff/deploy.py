"""`evokd export RUN --format onnx`: the run's student as an ONNX folder, scored on the run's test split.

The export is scored where the run was: the test split of the run's dataset (``run.json``'s
``data``), at the run's ``max_length``, against the PyTorch model's own test predictions saved
beside it. Without the dataset on this machine the score is left unmeasured rather than fetched.
The run's model card (``model/README.md``) gains a row per exported variant, and the export folder
carries that card, the run's calibration and a manifest (`evokd.handoff.onnx`).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from evokd.data.formats import DataError
from evokd.handoff import QUANTIZATIONS, onnx
from evokd.handoff.calibration import CALIBRATION
from evokd.handoff.card import PREDICTIONS, record_export
from evokd.handoff.predict import load_student, model_folder, run_data, run_max_length, saved_task
from evokd.records import read_json
from evokd.student.model import StudentError
from evokd.student.train import predict
from evokd.tasks import adapter_for, evaluate, load_dataset


def default_out(run: Path, quantize: str | None) -> Path:
    """``RUN/export-onnx`` or ``RUN/export-onnx-int8``."""
    return run / ("export-onnx" + (f"-{quantize}" if quantize else ""))


def export_model(run: str | Path, out: str | Path | None = None, quantize: str | None = None) -> dict[str, Any]:
    """Export the run's student to ONNX (``quantize``: None or "int8"); return the manifest written and ``out``."""
    run = Path(run)
    if quantize not in (None, *QUANTIZATIONS):
        raise DataError(f"unknown --quantize {quantize!r}; use: {', '.join(QUANTIZATIONS)}")
    if onnx.is_export(run):
        raise StudentError(f"{run}: already an ONNX export; give the run folder it came from")
    folder = model_folder(run)
    onnx.runtime()
    out = Path(out) if out else default_out(run, quantize)
    if out.exists() and any(out.iterdir()):
        raise DataError(f"{out}: already exists and is not empty; remove it or give another --out")
    student, _task = load_student(folder, device="cpu")
    onnx.export(student, out, quantize)
    if (folder / CALIBRATION).is_file():
        shutil.copy2(folder / CALIBRATION, out / CALIBRATION)
    max_length = run_max_length(run)
    test = score(run, folder, out, max_length)
    found = onnx.write_manifest(out, quantize, str(run), max_length, test)
    entry = {"folder": out.name, "format": "onnx", "quantization": quantize, "test": test}
    if folder == run / "model":
        card = record_export(folder, entry)
    else:  # a bare model folder given: leave it as it is, the export carries its own card
        card = (folder / "README.md").read_text(encoding="utf-8") if (folder / "README.md").is_file() else ""
    (out / "README.md").write_text(card, encoding="utf-8")
    return {**found, "out": str(out)}


def score(run: Path, folder: Path, out: Path, max_length: int) -> dict[str, Any]:
    """The export's test score next to the PyTorch model's, and the share of test predictions they agree on."""
    where = run_data(run)
    if where is None:
        return {"score": None, "torch_score": None, "agreement": None, "note": "the run's test split is not here"}
    task = saved_task(folder)
    data = load_dataset(where, task.kind)
    exported = predict(onnx.open_student(out, adapter_for(task).head(task)), data.test, max_length=max_length)
    saved = read_json(folder / PREDICTIONS).get("test")
    if saved is None or len(saved) != len(exported):
        saved = predict(load_student(folder, device="cpu")[0], data.test, max_length=max_length)
    return {
        "metric": adapter_for(task).metric,
        "texts": len(data.test),
        "score": round(float(evaluate(task, data.test, exported)["score"]), 4),
        "torch_score": round(float(evaluate(task, data.test, saved)["score"]), 4),
        "agreement": round(sum(a == b for a, b in zip(exported, saved, strict=True)) / len(exported), 4),
    }
