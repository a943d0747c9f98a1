"""NER text handling: tokenising like the data, matching type names, placing the Critic's mentions as BIO tags.

The BIO helpers themselves (`bio_spans`, `to_bio`, `to_iob2`) are in `evokd.data.bio`, where the data
readers, which sit below the adapters, can use them too.

The Critic names each entity as an exact substring of the sentence plus a type; everything about
positions is decided here, in code, never taken from the model:

1. The sentence is tokenised like the real data (`Tokenizer`, fitted on the training tokens).
2. Each mention is looked up in the sentence. Whitespace runs in the mention count as one space and
   both sides are NFC-normalised. Casing: an exact-case match wins; only when there is none is a
   case-insensitive match taken (the sentence's own characters are kept, so nothing the model
   retyped leaks into the data).
3. Repeated mentions: a (text, type) pair labels *every* occurrence of that text in the sentence
   that lies on token boundaries, so "Paris ... Paris" needs only one entry and can never end up
   half-labelled. The same text given two different types is an ``overlap``.
4. A mention that does not look like a name is ``not_a_name``: fewer than half of its words
   capitalised or holding a digit ("coffee shop", "It's one of my favorite movies"), or a lone
   function word ("The"). The small local Critics tag such phrases despite the prompt, while the
   teacher writes its own names capitalised. The price: a deliberately lowercase name ("nintendo",
   as tweets have) is lost. Uncased scripts (CJK) pass. "Lord of the Rings" passes (2 of 4).
5. An occurrence must start and end on token boundaries (a span cutting a token, like "Paris"
   inside "#Paris" or "Sam" inside "Samsung", does not count). Punctuation-only tokens at a span's
   edges are trimmed ("Obama," -> "Obama").
6. Longer mentions are placed first; an occurrence lying inside a longer mention's span is skipped
   (it is part of that name). A mention left with no occurrence of its own, or one crossing
   another span, is an ``overlap``.

A sentence is accepted only if every mention passes; otherwise the whole sentence is rejected with
the first failing mention's reason, because dropping a bad mention would leave its words tagged
``O``, a silent false negative in the training data. With ``mask`` (the ``mask_mentions`` setting) a
sentence keeps its good mentions instead: every token a failing mention covers is tagged `MASKED` (unknown,
skipped in training), and so is any placed span it touches; only a failing mention the sentence does not
contain (``not_substring``, or no text at all) still rejects it, since there is nothing to mask.

A sentence with an unfilled template slot (``<NAME>``, ``[COMPANY]``) is rejected as ``placeholder``
before any Critic call. Reasons: ``malformed`` (unparseable reply, or a mention without letters or
digits), ``unknown_type``, ``not_a_name``, ``not_substring``, ``token_boundary``, ``overlap``, and
``missing_type`` (no entity of the type the Generator was asked for).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from evokd.data.bio import Span, bio_spans, to_bio
from evokd.task import MASKED

# ---- tokenisation -------------------------------------------------------------------------------

CLITICS = ("'s", "n't", "'m", "'ll", "'re", "'ve", "'d")
_APOS = "'\u2019"
_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"  # combining accents stay in their word
_W = rf"[\w{_MARKS}]"
_PICT = "\u2300-\u23ff\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff"  # emoji and pictographs
_HTML = r"&(?:amp|lt|gt|quot|apos|#\d+);"
_MOD = "\ufe0f\U0001f3fb-\U0001f3ff"  # variation selector, skin tones
_EMOJI = rf"[\U0001f1e6-\U0001f1ff]{{2}}|[{_PICT}][{_MOD}]*(?:\u200d[{_PICT}][{_MOD}]*)*"


def _clitic_re(clitic: str) -> str:
    """A clitic as a regex matching either apostrophe, ending at a word boundary."""
    return "".join(f"[{_APOS}]" if c == "'" else re.escape(c) for c in clitic) + f"(?!{_W})"


@dataclass(frozen=True)
class Tokenizer:
    """A regex tokeniser for tweets and newswire that splits off the clitics the data splits off.

    Kept whole: URLs, @mentions, #hashtags, HTML entities (``&amp;``), abbreviations (``U.S.``),
    emoticons (``:)``), numbers with separators (``14:30``, ``4.8``), hyphenated words and words
    with an inner apostrophe or ``&`` (``AT&T``). Split: each emoji, each run of punctuation
    (``!!``, ``...``), and the clitics in ``split`` (``'s`` in WNUT-16; ``n't`` too in CoNLL-2003).
    """

    split: frozenset[str] = frozenset({"'s"})
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        clitics = [_clitic_re(c) for c in CLITICS if c in self.split]
        inner = [_clitic_re(c)[len(f"[{_APOS}]") :] for c in CLITICS if c in self.split and c.startswith("'")]
        nt = "n't" in self.split
        # A word character that does not begin a clitic to split off ("does|n't").
        wchar = rf"(?:(?!(?i:n[{_APOS}]t)(?!{_W})){_W})" if nt else _W
        apos_ok = rf"[{_APOS}](?!(?i:{'|'.join(inner)}))" if inner else f"[{_APOS}]"
        alternatives = [
            r"(?:https?://|www\.)\S+?(?=[.,!?;:)\"']*(?:\s|$))",  # URL, without trailing punctuation
            rf"[@#]{_W}+",  # mention, hashtag
            _HTML,  # HTML entity, as the tweets carry them
            *[f"(?i:{c})" for c in clitics],
            r"(?:[A-Za-z]\.){2,}",  # abbreviation: U.S. D.C.
            rf"<3|-_+-|\^_*\^|[:;=][-o*'^]?[)\](\[dDpPoO/\\|3*]+(?!{_W})",  # emoticon
            r"[$€£]\d+(?:[.,:/]\d+)*%?|\d+(?:[.,:/]\d+)+%?|\d+%",  # $5  14:30  4.8  1,000  9/11  100%
            r"[wW]/(?=\s|$)",  # "w/" (with)
            rf"{wchar}+(?:(?:{_HTML}|[-&]|{apos_ok}){wchar}+)*",  # word, with inner - & &amp; or apostrophe
            _EMOJI,
            rf"(?:(?!{_EMOJI})[^\w\s{_MARKS}])+",  # punctuation run
            r"\S",
        ]
        object.__setattr__(self, "pattern", re.compile("|".join(f"(?:{a})" for a in alternatives)))

    @classmethod
    def fit(cls, sentences: Iterable[Sequence[str]]) -> Tokenizer:
        """The tokeniser whose clitic splitting follows the data: split a clitic if it stands alone more often than
        attached."""
        alone: Counter[str] = Counter()
        attached: Counter[str] = Counter()
        for tokens in sentences:
            for tok in tokens:
                low = tok.lower().replace("\u2019", "'")
                for c in CLITICS:
                    if low == c:
                        alone[c] += 1
                    elif low.endswith(c) and low[: -len(c)][-1:].isalpha():
                        attached[c] += 1
        default = cls().split
        split = {c for c in CLITICS if alone[c] > attached[c] or (alone[c] == attached[c] == 0 and c in default)}
        return cls(split=frozenset(split))

    def spans(self, text: str) -> list[tuple[str, int, int]]:
        """(token, start, end) for every token of ``text``, in order."""
        return [(m.group(), m.start(), m.end()) for m in self.pattern.finditer(text)]

    def tokenize(self, text: str) -> list[str]:
        """The tokens of ``text``."""
        return [t for t, _, _ in self.spans(text)]


# ---- entity types ------------------------------------------------------------------------------

# Other names for the usual types: (heads, aliases). A type name found in a group is mapped to the one
# task type that is a head of that group; none, or several, and it stays unknown. Aliases cover the
# names small models invent ("location", "event") and the fine types of common schemes that a teacher
# may answer with on coarse ones ("musicartist" -> PER); a fine type is never a target.
_ALIASES: tuple[tuple[frozenset[str], frozenset[str]], ...] = tuple(
    (frozenset(heads.split()), frozenset(aliases.split()))
    for heads, aliases in (
        ("per person", "persons people pers name musicartist artist singer actor"),
        ("loc location geoloc", "gpe place city country geo"),
        ("org organization organisation company", "corporation business brand sportsteam team"),
        ("misc other", "miscellaneous event holiday award song album book movie film tvshow product"),
        ("facility fac", "building venue restaurant hotel stadium airport"),
    )
)


def fold_type(name: str) -> str:
    """A type name folded for comparison: "Geo-Loc", "geo_loc", "B-geo loc" -> "geoloc"."""
    name = re.sub(r"^[BI]-", "", name.strip())
    return "".join(ch for ch in name.casefold() if ch.isalnum())


def match_type(name: str, types: Sequence[str]) -> str | None:
    """The task type a Critic's type name means (exact, then folded, then a common alias), else None."""
    if name in types:
        return name
    folded = {fold_type(t): t for t in types}
    if fold_type(name) in folded:
        return folded[fold_type(name)]
    for heads, aliases in _ALIASES:
        if fold_type(name) in heads | aliases:
            hits = [t for k, t in folded.items() if k in heads]
            if len(hits) == 1:
                return hits[0]
    return None


# ---- resolving the Critic's mentions ----------------------------------------------------------


@dataclass
class Resolution:
    """A sentence's tokens and tags from the Critic's mentions, or why it was rejected."""

    tokens: list[str]
    tags: list[str]
    entities: list[dict[str, object]]  # accepted: placed mentions with offsets; rejected: mentions with their error
    reason: str = ""  # "" when the sentence is kept
    masked: list[dict[str, object]] = field(default_factory=list)  # kept with ``mask``: the failing mentions

    @property
    def types(self) -> set[str]:
        """The entity types present in the tags."""
        return {t for _, _, t in bio_spans(self.tags)}


_FUNCTION_WORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "i",
        "it",
        "it's",
        "he",
        "she",
        "we",
        "they",
        "you",
        "this",
        "that",
        "my",
        "our",
        "your",
        "his",
        "her",
        "their",
    ]
)
PLACEHOLDER = re.compile(r"<[^<>]{1,30}>|\[[A-Z][A-Z _-]{0,29}\]")  # <NAME>, [COMPANY]: unfilled template slots


def looks_like_name(text: str) -> bool:
    """Whether a mention can be a name: at least half its words holding a capital ("iPhone") or a digit, and not
    a lone function word. Uncased scripts (CJK) always pass; a lowercase name ("nintendo") does not."""
    words = [w for w in text.split() if any(ch.isalnum() for ch in w)]
    if not words or (len(words) == 1 and words[0].lower().replace("\u2019", "'") in _FUNCTION_WORDS):
        return False
    marked = sum(any(ch.isupper() or ch.isdigit() for ch in w) or w.lower() == w.upper() for w in words)
    return 2 * marked >= len(words)


def _norm(text: str) -> str:
    """NFC with every whitespace run as one space, trimmed."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def _occurrences(sentence: str, mention: str) -> list[tuple[int, int]]:
    """Character spans of ``mention`` in ``sentence`` (a space matching any whitespace run): exact-case ones,
    or if there are none, case-insensitive ones."""
    pattern = r"\s+".join(re.escape(w) for w in mention.split(" "))
    exact = [(m.start(), m.end()) for m in re.finditer(pattern, sentence)]
    if exact:
        return exact
    return [(m.start(), m.end()) for m in re.finditer(pattern, sentence, re.IGNORECASE)]


def _align(start: int, end: int, spans: list[tuple[str, int, int]]) -> tuple[int, int] | None:
    """The token range exactly covering characters [start, end), trimmed of punctuation-only edge tokens."""
    first = next((i for i, (_, s, _) in enumerate(spans) if s == start), None)
    last = next((i for i, (_, _, e) in enumerate(spans) if e == end), None)
    if first is None or last is None or last < first:
        return None
    while first <= last and not any(ch.isalnum() for ch in spans[first][0]):
        first += 1
    while last >= first and not any(ch.isalnum() for ch in spans[last][0]):
        last -= 1
    return (first, last + 1) if first <= last else None


def _screen(mention: dict[str, object], types: Sequence[str]) -> dict[str, object]:
    """One mention as (text, type) with its type matched to the task's, or with the ``error`` that rejects it."""
    text, etype = mention.get("text"), mention.get("type")
    entry: dict[str, object] = {"text": text, "type": etype}
    if (
        not isinstance(text, str) or not isinstance(etype, str) or not etype.strip() or not any(map(str.isalnum, text))
    ):  # empty, or punctuation only: names nothing
        entry["error"] = "malformed"
    elif (matched := match_type(etype, types)) is None:
        entry["error"] = "unknown_type"
    elif not looks_like_name(text):
        entry["error"] = "not_a_name"  # "coffee shop", "The", "It's one of my favorite movies"
    else:
        entry.update(text=_norm(text), type=matched)
    return entry


def _find(
    sentence: str, spans: list[tuple[str, int, int]], unique: dict[tuple[str, str], dict[str, object]]
) -> dict[tuple[str, str], list[tuple[int, int]]]:
    """The token ranges where each distinct mention occurs; a mention found nowhere, off token boundaries or
    given two types gets its ``error`` instead."""
    by_text: dict[str, set[str]] = {}
    for text, etype in unique:
        by_text.setdefault(text, set()).add(etype)
    places: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for (text, etype), e in unique.items():
        if len(by_text[text]) > 1:
            e["error"] = "overlap"  # the same words given two types
            continue
        found = _occurrences(sentence, text)
        aligned = [r for r in (_align(s, t, spans) for s, t in found) if r]
        if not found:
            e["error"] = "not_substring"
        elif not aligned:
            e["error"] = "token_boundary"
        else:
            places[(text, etype)] = sorted(set(aligned))
    return places


def _place(
    places: dict[tuple[str, str], list[tuple[int, int]]], unique: dict[tuple[str, str], dict[str, object]]
) -> list[Span]:
    """Longest mentions first; a shorter one's occurrence inside a placed span is part of that name. A mention
    crossing another span gets the ``overlap`` error."""
    taken: list[Span] = []
    for key in sorted(places, key=lambda k: (-len(k[0]), k)):
        kept: list[Span] = []
        same = False  # an occurrence already placed with this type by an equal mention ("Obama," and "Obama")
        for first, last in places[key]:
            hits = [(f, t, e) for f, t, e in taken if f < last and first < t]
            if not hits:
                kept.append((first, last, key[1]))
            elif (first, last, key[1]) in hits:
                same = True
            elif not all(f <= first and last <= t for f, t, _ in hits):
                unique[key]["error"] = "overlap"  # crossing another span
        if not kept and not same:
            unique[key].setdefault("error", "overlap")
        if "error" not in unique[key]:
            taken += kept
    return sorted(taken)


def _covered(sentence: str, spans: list[tuple[str, int, int]], bad: Sequence[dict[str, object]]) -> set[int] | None:
    """The tokens the failing mentions cover wherever they occur (a token partly covered counts), or None when
    one of them cannot be found in the sentence: its words cannot be masked."""
    hidden: set[int] = set()
    for e in bad:
        text = e.get("text")
        found = _occurrences(sentence, _norm(text)) if isinstance(text, str) and _norm(text) else []
        if not found:
            return None
        hidden |= {i for i, (_, s, t) in enumerate(spans) for a, b in found if s < b and a < t}
    return hidden


def resolve(
    sentence: str,
    mentions: Sequence[dict[str, object]],
    types: Sequence[str],
    tokenizer: Tokenizer | None = None,
    mask: bool = False,
) -> Resolution:
    """Place the Critic's (text, type) mentions in ``sentence`` and build its BIO tags; with ``mask``, keep a
    sentence with failing mentions by masking their tokens (see the module doc)."""
    sentence = unicodedata.normalize("NFC", sentence)
    spans = (tokenizer or Tokenizer()).spans(sentence)
    tokens = [t for t, _, _ in spans]
    wanted = [_screen(m, types) for m in mentions]
    # One entry per (text, type): listing a repeated mention twice is normal and changes nothing.
    unique: dict[tuple[str, str], dict[str, object]] = {}
    for e in wanted:
        if "error" not in e:
            unique.setdefault((str(e["text"]), str(e["type"])), e)
    taken = _place(_find(sentence, spans, unique), unique)
    bad = [e for e in wanted if "error" in e]
    hidden = _covered(sentence, spans, bad) if bad and mask else None
    if bad and hidden is None:
        return Resolution(tokens, [], wanted, reason=str(bad[0]["error"]))
    hidden = hidden or set()
    kept = [(f, t, etype) for f, t, etype in taken if not hidden.intersection(range(f, t))]
    hidden.update(i for span in taken if span not in kept for i in range(span[0], span[1]))  # no half names
    entities: list[dict[str, object]] = [
        {"text": sentence[spans[f][1] : spans[t - 1][2]], "type": etype, "start": spans[f][1], "end": spans[t - 1][2]}
        for f, t, etype in kept
    ]
    tags = [MASKED if i in hidden else tag for i, tag in enumerate(to_bio(len(tokens), kept))]
    return Resolution(tokens, tags, entities, masked=bad)


class WhitespaceTokenizer(Tokenizer):
    """Whitespace-separated words as tokens: places mentions on a dataset's own tokens (its text joins them with
    spaces)."""

    def spans(self, text: str) -> list[tuple[str, int, int]]:
        """(token, start, end) for every whitespace-separated word."""
        return [(m.group(), m.start(), m.end()) for m in re.finditer(r"\S+", text)]
