"""The facts the compiled Unicode paths' tables are built on: each checked against ``unicodedata`` itself."""

from __future__ import annotations

import re
import unicodedata

import numpy as np
from hypothesis import given, settings

from copyalign.core import kernels
from tests.unit.core.unicode_text import characters, unicode_texts


def test_no_combining_class_above_where_the_facts_look() -> None:
    # unicode_facts asks unicodedata.combining only below COMBINING_END; a later Unicode version that put a
    # combining character above it would fail here before it could make a table wrong
    text = kernels.everything()[kernels.COMBINING_END :]
    assert not any(map(unicodedata.combining, text))


@settings(max_examples=500, deadline=None)
@given(c=characters())
def test_the_facts_of_a_character_are_unicodedatas(c: str) -> None:
    facts, cp = kernels.unicode_facts(), ord(c)
    assert facts.nfkc_of(cp) == unicodedata.normalize("NFKC", c)
    assert facts.casefold_of(c) == c.casefold()
    assert bool(facts.space[cp]) == c.isspace()
    assert bool(facts.word[cp]) == bool(re.match(r"\w", c))


@settings(max_examples=800, deadline=None)
@given(a=unicode_texts(8), b=unicode_texts(8))
def test_nfkc_splits_where_the_facts_say_a_boundary_is(a: str, b: str) -> None:
    # the lemma both tables rest on: before a boundary character, NFKC of the whole is NFKC of the parts
    facts = kernels.unicode_facts()
    if b and facts.boundary_before[ord(b[0])]:
        assert unicodedata.normalize("NFKC", a + b) == unicodedata.normalize("NFKC", a) + unicodedata.normalize(
            "NFKC", b
        )


def test_characters_that_join_what_precedes_them_are_no_boundary() -> None:
    facts = kernels.unicode_facts()
    for c in ("\u0301", "\u1161", "\u11a8", "\uff9e", "\u3099", "\u09be", "\u0cd5"):
        assert not facts.boundary_before[ord(c)], ascii(c)
    for c in ("a", "é", "版", "가", "ᄀ", "Ｈ", "ｶ", "½", "\u3000", "\U00020000"):
        assert facts.boundary_before[ord(c)], ascii(c)


def test_two_stage_tables_give_back_every_entry() -> None:
    entries = np.random.default_rng(3).integers(0, 4, kernels.CODE_POINTS, dtype=np.uint32)
    entries[0x4E00:0xA000] = 7  # identical blocks are stored once
    stage1, stage2 = kernels.two_stage(entries)
    blocks = np.frombuffer(stage1, dtype=np.uint16).astype(np.int64)
    table = np.frombuffer(stage2, dtype=np.uint32).reshape(-1, 256)
    cps = np.arange(kernels.CODE_POINTS)
    assert np.array_equal(table[blocks[cps >> 8], cps & 255], entries)
    assert table.shape[0] < blocks.size
