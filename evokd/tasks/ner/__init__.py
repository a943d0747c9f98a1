"""Named-entity recognition: `text` (tokenising, type matching, mention placement) and `adapter` (the agents' glue)."""

from evokd.data.bio import bio_spans, to_bio
from evokd.tasks.ner.adapter import (
    Ner,
    annotate,
    ask_entities,
    compare,
    describe_types,
    format_examples,
    format_feedback,
    glossary_of,
)
from evokd.tasks.ner.text import Resolution, Tokenizer, WhitespaceTokenizer, looks_like_name, match_type, resolve

__all__ = [
    "Ner",
    "Resolution",
    "Tokenizer",
    "WhitespaceTokenizer",
    "annotate",
    "ask_entities",
    "bio_spans",
    "compare",
    "describe_types",
    "format_examples",
    "format_feedback",
    "glossary_of",
    "looks_like_name",
    "match_type",
    "resolve",
    "to_bio",
]
