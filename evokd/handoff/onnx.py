"""The student as an ONNX model: export (fp32, or int8 by dynamic quantization) and loading it back to predict.

An export folder holds ``model.onnx`` (inputs named as the tokenizer names its outputs, output
``logits``), the tokenizer, ``config.json`` with ``id2label``, the model card, the run's calibration
and ``evokd-export.json`` (format, quantization, evokd version, source run, test score). It is the
layout `optimum.onnxruntime`'s ``ORTModelFor*`` classes read, and plain ``onnxruntime`` runs
``model.onnx`` on what the tokenizer returns. The graph comes from torch's TorchScript-based ONNX
exporter with dynamic batch and sequence axes (optimum's own exporter requires transformers < 4.58);
int8 is ONNX Runtime's dynamic quantization: int8 weights per output channel (reduced to 7 bits, which keeps the
non-VNNI x86 kernels from saturating), activations quantized per batch at run time.

A loaded export is wrapped to answer like a transformers model (`OnnxModel`), so prediction goes
through the same tokenising, batching and per-word reading (`student.train.probabilities`) as torch.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import inspect
import json
import tempfile
import time
import warnings
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, cast

import numpy as np
import torch

from evokd.records import write_json
from evokd.student.model import Head, Student, StudentError

MANIFEST = "evokd-export.json"
MODEL_FILE = "model.onnx"
INSTALL = "pip install 'evokd[onnx]'"
OPSET = 17


def evokd_version() -> str:
    """The installed evokd's version, written into every export and checked on loading."""
    return importlib.metadata.version("evokd")


def available() -> bool:
    """Whether onnxruntime is installed (the ``onnx`` extra), without importing it."""
    return importlib.util.find_spec("onnxruntime") is not None


def runtime() -> ModuleType:
    """``onnxruntime``, or a one-line error naming the extra that installs it."""
    try:
        import onnxruntime
    except ImportError:
        raise StudentError(f"ONNX needs onnxruntime, which is not installed; install it with: {INSTALL}") from None
    module: ModuleType = onnxruntime
    return module


def is_export(folder: Path) -> bool:
    """Whether ``folder`` is an ONNX export written by evokd."""
    return (folder / MANIFEST).is_file()


def manifest(folder: Path) -> dict[str, Any]:
    """An export's manifest, refused when another evokd version wrote it (its graph or files may differ)."""
    found = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    if found.get("evokd_version") != evokd_version():
        raise StudentError(
            f"{folder}: exported by evokd {found.get('evokd_version', '(unknown)')}, this is evokd {evokd_version()}; "
            f"export it again with: evokd export {found.get('source_run', 'RUN')} --format onnx"
        )
    return dict(found)


def export(student: Student, out: Path, quantize: str | None = None) -> None:
    """Write ``student`` (loaded on the CPU) as an ONNX folder (model, tokenizer, config) into ``out``, quantized
    when asked."""
    runtime()  # before the work: the quantizer ships with onnxruntime
    out.mkdir(parents=True, exist_ok=True)
    model = student.model
    model.eval()  # type: ignore[no-untyped-call]  # transformers leaves eval() unannotated
    # The tokenizer's outputs in the order of the model's forward arguments: the exporter passes them by position.
    wanted = set(student.tokenizer.model_input_names)
    inputs = [name for name in inspect.signature(model.forward).parameters if name in wanted]
    # Two texts of different lengths: the traced graph keeps the attention mask's padding path.
    sample = student.tokenizer(["a", "a a a a"], padding=True, return_tensors="pt")
    args = tuple(sample[name] for name in inputs)
    axes = {name: {0: "batch", 1: "sequence"} for name in inputs}
    axes["logits"] = {0: "batch", 1: "sequence"} if student.head.per_token else {0: "batch"}
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / MODEL_FILE if quantize else out / MODEL_FILE
        with warnings.catch_warnings():  # the legacy exporter's deprecation and tracer notes, not the user's concern
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                args,
                str(fp32),
                input_names=inputs,
                output_names=["logits"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )
        check(fp32, model, {name: sample[name] for name in inputs})
        if quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            # Per-channel 7-bit weights: per-tensor int8 lost 0.8 points of macro-F1 on the MiniLM student.
            quantize_dynamic(
                str(fp32), str(out / MODEL_FILE), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True
            )
    model.config.save_pretrained(out)
    student.tokenizer.save_pretrained(out)


def check(path: Path, model: torch.nn.Module, batch: dict[str, torch.Tensor], tolerance: float = 1e-3) -> None:
    """Refuse an exported graph whose logits on ``batch`` differ from the torch model's (a mis-wired input)."""
    with torch.no_grad():
        want = model(**batch).logits.numpy()
    got = OnnxModel(path)(**batch).logits.numpy()
    if got.shape != want.shape or float(np.abs(got - want).max()) > tolerance:
        raise StudentError(f"{path.name}: the ONNX graph does not reproduce the torch model's logits; not exported")


def write_manifest(
    out: Path, quantize: str | None, source_run: str, max_length: int, test: dict[str, Any]
) -> dict[str, Any]:
    """Record what the folder holds, which evokd wrote it, from which run (and its ``max_length``), and its
    measured test score."""
    found = {
        "format": "onnx",
        "quantization": quantize,
        "evokd_version": evokd_version(),
        "source_run": source_run,
        "opset": OPSET,
        "max_length": max_length,
        "file": MODEL_FILE,
        "test": test,
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    }
    write_json(out / MANIFEST, found)
    return found


class OnnxModel:
    """An ONNX Runtime session that answers ``model(input_ids=..., attention_mask=...)`` with ``.logits``, as a
    transformers model does, so `student.train.probabilities` runs it unchanged. Inputs the session wants and
    the caller leaves out (``token_type_ids``) are zeros, as the torch model defaults them."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        ort = runtime()
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def __call__(self, **batch: torch.Tensor) -> SimpleNamespace:
        shape = batch["input_ids"].shape
        feed = {
            name: batch[name].numpy() if name in batch else np.zeros(tuple(shape), dtype=np.int64)
            for name in self.inputs
        }
        return SimpleNamespace(logits=torch.from_numpy(self.session.run(["logits"], feed)[0]))

    def eval(self) -> OnnxModel:
        """Nothing to switch: an exported graph has no training mode."""
        return self


def load(folder: Path, head: Head, threads: int | None = None) -> Student:
    """An export folder as a `Student` that runs on ONNX Runtime (CPU), after its manifest check."""
    manifest(folder)
    return open_student(folder, head, threads)


def open_student(folder: Path, head: Head, threads: int | None = None) -> Student:
    """A folder's ``model.onnx`` and tokenizer as a `Student`, unchecked: for the export scoring itself."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    model = cast(Any, OnnxModel(folder / MODEL_FILE, threads))
    return Student(model=model, tokenizer=tokenizer, head=head, device=torch.device("cpu"))
