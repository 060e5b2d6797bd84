"""The takedown evaluation: its verdict, and the two MemFree blockers against a model that memorised a text in
three forms (as written, double-spaced, in capitals)."""

from __future__ import annotations

from typing import Any

import pytest

from copyalign.core.audit import memorisation as mem
from copyalign.services.audit.blocker import MemFree, NgramBlocklist
from copyalign.services.audit.model import LanguageModel, load
from copyalign.services.audit.probes import ProbeConfig, Window, WorkText, summarise, verbatim_run
from copyalign.services.audit.suppression import evaluate, verdict
from copyalign.services.audit.wordblock import WordBlocklist, WordMemFree
from tests.unit.audit.tinymodel import LICENCE, LicenceModel, licence_model, spaced

# --- the verdict (no model) ------------------------------------------------------------------------------

# What an 8-gram blocker lets through: seven words of the licence, a word of the model's own, seven more, ...
STITCHED = " ".join("so" if i % 8 == 7 else w for i, w in enumerate(LICENCE.split()[:32]))


def _window(contained_words: int, verbatim_words: int, *, exact: bool = False) -> Window:
    return Window(
        offset=0,
        exact=exact,
        pythia=0.4,
        lcs_words=verbatim_words,
        lcs_chars=60,
        rouge_l=0.7,
        contained_words=contained_words,
        contained=contained_words >= 12,
        verbatim_words=verbatim_words,
    )


def _probes(windows: list[Window]) -> dict[str, Any]:
    controls = summarise([_window(0, 0)])
    plain = {"works": summarise([_window(40, 40, exact=True)]), "controls": controls}
    after = {"works": summarise(windows), "controls": controls}
    return {"before": plain, "after": after, "spacing": after}


def test_issue19_a_stitched_contained_passage_without_a_long_run_is_not_verbatim() -> None:
    """Issue 19: the evaluation counted a probe as verbatim when the matching engine found a contained passage
    (runs chained across small gaps) although no run was longer than 7 words, and said ``not_suppressed``
    where its own rules say ``verbatim_only``."""
    contained = mem.contained_passage(STITCHED, LICENCE).tokens
    run = verbatim_run(STITCHED, LICENCE)
    assert contained >= 12 and run == 7  # the engine's passage is stitched; the longest run is the blocker's cap
    outcome, verbatim, near = verdict(_probes([_window(contained, run)]), min_words=12, margin=0.05)
    assert (outcome, verbatim, near) == ("verbatim_only", [], ["after", "spacing"])
    # a run of min_words words, or an exact window, is verbatim
    assert verdict(_probes([_window(contained, 12)]), min_words=12, margin=0.05)[:2] == (
        "not_suppressed",
        ["after", "spacing"],
    )
    assert verdict(_probes([_window(0, 0, exact=True)]), min_words=12, margin=0.05)[0] == "not_suppressed"
    # and nothing above the controls is suppressed
    assert verdict(_probes([_window(0, 3)]), min_words=12, margin=0.05) == ("suppressed", [], [])


def test_the_longest_run_bridges_no_gap() -> None:
    assert verbatim_run(LICENCE.upper(), LICENCE) == len(mem.words(LICENCE))
    assert verbatim_run("a copy of this program", LICENCE) == 5  # textfp.K words: the shortest run it sees
    assert verbatim_run("a copy of this", LICENCE) == 0
    assert verbatim_run("nothing of the kind is said here at all", LICENCE) == 0
    assert verbatim_run("copy. copy of this program to use", "copy of this program to use, and a copy") == 6


# --- against a model that memorised the licence in three forms -------------------------------------------


@pytest.fixture(scope="module")
def trained() -> LicenceModel:
    return licence_model()


@pytest.fixture(scope="module")
def lm(trained: LicenceModel) -> LanguageModel:
    return load(trained.path)


CFG = ProbeConfig(prefix=10, suffix=40, stride=4, max_windows=8)


@pytest.mark.slow
def test_the_word_blocker_suppresses_the_spaced_copy_the_token_blocker_lets_through(
    trained: LicenceModel, lm: LanguageModel
) -> None:
    """The audit (``audit run --block``) on a model that memorised the licence as written, double-spaced and
    in capitals: MemFree over the licence's 8-token n-grams leaves 12 and more consecutive words of it in the
    spacing and capitals probes (other tokens, same words); over its normalised 8-word n-grams, no probe
    keeps more than 7."""
    work = [WorkText("licence", "Licence", LICENCE)]
    controls = [WorkText(f"control-{i}", "held out", t) for i, t in enumerate(trained.heldout[:2])]
    by_tokens = evaluate(lm, work, controls, CFG, NgramBlocklist.build([lm.encode(LICENCE)], n=8))
    by_words = evaluate(lm, work, controls, CFG, WordBlocklist.build([LICENCE], n=8))
    assert by_tokens["probes"]["before"]["works"]["extracted"] >= 1  # memorised: the test means something
    assert {"spacing", "upper"} <= set(by_tokens["verbatim_after"]) and by_tokens["verdict"] == "not_suppressed"
    assert by_tokens["probes"]["spacing"]["works"]["verbatim_words_max"] >= 12
    assert by_words["verbatim_after"] == [] and by_words["verdict"] in ("suppressed", "verbatim_only")
    for name, probe in by_words["probes"].items():
        assert name == "before" or probe["works"]["verbatim_words_max"] <= 7
    assert by_words["measure"]["mode"] == "words" and by_words["tokens_blocked"] > 0
    assert by_tokens["measure"]["mode"] == "tokens"


@pytest.mark.slow
@pytest.mark.parametrize("form", [spaced, str.upper], ids=["spacing", "upper"])
def test_a_copy_prompted_in_another_form_is_cut_at_seven_words(lm: LanguageModel, form: Any) -> None:
    prompt = lm.encode(form(" ".join(LICENCE.split()[:10])))
    plain = lm.decode(lm.greedy([prompt], 48)[0])
    tokens = lm.decode(lm.greedy([prompt], 48, processors=[MemFree(NgramBlocklist.build([lm.encode(LICENCE)]))])[0])
    words = lm.decode(
        lm.greedy([prompt], 48, processors=[WordMemFree(WordBlocklist.build([LICENCE]), lm.tokenizer)])[0]
    )
    assert verbatim_run(plain, LICENCE) >= 12 and verbatim_run(tokens, LICENCE) >= 12
    assert verbatim_run(words, LICENCE) <= 7


@pytest.mark.slow
def test_the_word_blocker_changes_nothing_that_does_not_copy(trained: LicenceModel, lm: LanguageModel) -> None:
    """Greedy decoding from texts the model never saw is the same with the blocker on, wherever it did not
    say 8 consecutive words of the licence anyway: no false blocking."""
    blocker = WordMemFree(WordBlocklist.build([LICENCE]), lm.tokenizer)
    compared = 0
    for text in trained.heldout:
        prompt = lm.encode(text)[:24]
        plain = lm.greedy([prompt], 40)[0]
        if verbatim_run(lm.decode(plain), LICENCE) >= 8:
            continue
        assert lm.greedy([prompt], 40, processors=[blocker])[0] == plain
        compared += 1
    assert compared >= 10 and blocker.blocked == 0  # (a lower candidate that completes 8 words may be refused)
