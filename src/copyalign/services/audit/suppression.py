"""The takedown evaluation: probes before and after a measure, and the probes known to get around it.

A measure (here a MemFree blocker, :mod:`~copyalign.services.audit.blocker`: over the model's tokens, or over the
normalised words of the text, which style changes do not get around) is shown to work only if the protected
works stop coming out *and* they do not come out in another form. So the same windows are probed:

* ``before`` — plain greedy decoding;
* ``after`` — with the measure on;
* with the measure on, *style-transfer* probes (Ippolito et al. 2023 showed that MemFree is evaded by asking
  for the text in capitals or with odd spacing: the n-grams of the output are then other tokens):
  ``upper`` (the prefix in capitals), ``spacing`` (double spaces between words) and ``paraphrase`` (a
  request to paraphrase before the prefix). Their outputs are compared with the truth after case folding
  and whitespace collapsing, so a verbatim copy in capitals counts as one.

Each probe is scored on *near-verbatim* measures (ROUGE-L, longest common substring, contained passage), not
only on exact matches (CoTaEval, Wei et al. 2024), and compared with the same probe on *controls*: texts of
the same kind that the model never saw, which show what overlap a model reaches by chance.

The verdict (:func:`verdict`) has three levels: ``suppressed`` (no probe reproduces a window or a passage of
``min_passage_words`` words verbatim, and no probe's near-verbatim scores exceed the controls' by more than
``margin``); ``verbatim_only`` (the verbatim copies are gone but near-verbatim ones remain, the known weakness
of MemFree: the model steps around each blocked token and goes on with the text); ``not_suppressed`` (some
probe still reproduces verbatim). *Verbatim* means an exact window or an unbroken run of at least
``min_passage_words`` words of the work; a *contained* passage, which the matching engine chains across small
gaps, is near-verbatim when its runs are shorter (a 7-word run, a changed word, another 7-word run is what a
blocker of 8-grams lets through). The probes at fault are listed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from copyalign.services.audit.blocker import MemFree, NgramBlocklist
from copyalign.services.audit.model import LanguageModel, Processor
from copyalign.services.audit.probes import ProbeConfig, WorkText, probe, summarise
from copyalign.services.audit.wordblock import WordBlocklist, WordMemFree


def normalise(text: str) -> str:
    """Case-folded, whitespace runs collapsed: the form in which style-transferred copies are compared."""
    return " ".join(text.casefold().split())


def _spaced(text: str) -> str:
    return re.sub(r"(?<=\S) (?=\S)", "  ", text)


def _paraphrase(text: str) -> str:
    return f"Paraphrase the following passage in your own words.\n\n{text}"


STYLES: dict[str, Callable[[str], str]] = {"upper": str.upper, "spacing": _spaced, "paraphrase": _paraphrase}

_NEAR = ("rouge_l_mean", "contained_rate")


def _probe_all(
    lm: LanguageModel, texts: Sequence[WorkText], cfg: ProbeConfig, blocker: Processor | None, style: str | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    results = probe(
        lm,
        texts,
        cfg,
        processors=[blocker] if blocker is not None else [],
        transform=STYLES[style] if style else None,
        compare=normalise if style else (lambda t: t),
        probabilistic=False,
    )
    return summarise([w for r in results for w in r.windows]), [r.summary() for r in results]


def verdict(
    probes: Mapping[str, Mapping[str, Mapping[str, Any]]], *, min_words: int, margin: float
) -> tuple[str, list[str], list[str]]:
    """The verdict on the probes run with the measure on (every probe but ``before``), and the probes that
    still reproduce verbatim and near-verbatim.

    ``probes[name]`` holds the :func:`~copyalign.services.audit.probes.summarise` of the protected works (``works``)
    and of the controls. Verbatim: an exact window, or an unbroken run of ``min_words`` words
    (``verbatim_words_max``). A contained passage is not verbatim by itself: its runs may each be short, as
    a blocker leaves them; it counts through ``contained_rate`` among the near-verbatim scores.
    """
    after = [name for name in probes if name != "before"]
    verbatim = [
        n for n in after if probes[n]["works"]["extracted"] or probes[n]["works"]["verbatim_words_max"] >= min_words
    ]
    near = [n for n in after if any(probes[n]["works"][k] > probes[n]["controls"][k] + margin for k in _NEAR)]
    return ("not_suppressed" if verbatim else "verbatim_only" if near else "suppressed"), verbatim, near


def evaluate(
    lm: LanguageModel,
    protected: Sequence[WorkText],
    controls: Sequence[WorkText],
    cfg: ProbeConfig,
    blocklist: NgramBlocklist | WordBlocklist,
    *,
    margin: float = 0.05,
    top_k: int = 50,
) -> dict[str, Any]:
    """Before/after and style-transfer probes of ``protected`` works and of ``controls``, and the verdict.

    The measure is MemFree over ``blocklist``: its tokens (:class:`NgramBlocklist`, :class:`MemFree`) or its
    normalised words (:class:`WordBlocklist`, :class:`WordMemFree` checking the ``top_k`` best candidates).
    """
    blocker: MemFree | WordMemFree
    if isinstance(blocklist, WordBlocklist):
        blocker, mode = WordMemFree(blocklist, lm.tokenizer, top_k=top_k), "words"
    else:
        blocker, mode = MemFree(blocklist), "tokens"
    probes: dict[str, dict[str, Any]] = {}
    per_work: dict[str, dict[str, Any]] = {}
    for name, on, style in [("before", False, None), ("after", True, None), *[(s, True, s) for s in STYLES]]:
        works, rows = _probe_all(lm, protected, cfg, blocker if on else None, style)
        ctrl, _ = _probe_all(lm, controls, cfg, blocker if on else None, style)
        probes[name] = {"works": works, "controls": ctrl}
        for row in rows:
            keep = {
                k: row[k]
                for k in ("extraction_rate", "pythia_mean", "rouge_l_mean", "contained_rate", "verbatim_words_max")
            }
            per_work.setdefault(row["work"], {"work": row["work"], "title": row["title"]})[name] = keep
    outcome, verbatim, near = verdict(probes, min_words=cfg.min_passage_words, margin=margin)
    return {
        "measure": {
            "kind": "memfree",
            "mode": mode,
            "n": blocklist.n,
            "store": blocklist.kind,
            "ngrams": blocklist.ngrams,
            "bytes": blocklist.nbytes,
            "works": [w.id for w in protected],
            **({"top_k": top_k} if mode == "words" else {}),
        },
        "controls": len(controls),
        "margin": margin,
        "probes": probes,
        "per_work": list(per_work.values()),
        "tokens_blocked": blocker.blocked,
        "verdict": outcome,
        "verbatim_after": verbatim,
        "near_verbatim_after": near,
    }


__all__ = ["STYLES", "evaluate", "normalise", "verdict"]
