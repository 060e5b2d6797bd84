"""The prompt filter's decision: names, intents and registered text in a prompt, through the policy's rules.

:func:`screen_prompt` maps what it found through :class:`PromptRules` (from the policy profile):
a name alone is a *reference*, allowed by default and recorded (seed 004 ¶73: asking about a book is not asking
for it); a name that an imitation, reproduction or continuation intent governs gets that rule's action (block
by default); a protected creator with an imitation intent is *creator_style*; a depicted character is
*depict* when a rights holder curated it (the term has a holder; the ``cn`` profile blocks, seed 004 ¶12, ¶89);
registered text in the prompt with a continuation intent is *continuation*; circumvention is reportable with
or without a name. The strongest action wins.

Example:
    >>> base = TermBase.build([Term("t1", TermKind.CHARACTER, ("Harry Potter", "哈利·波特"), (), "holder-1")])
    >>> [(h.name, h.start, h.end) for h in base.find("draw H4rry_P.o.t.t.e.r now")]
    [('Harry Potter', 5, 22)]
    >>> screen_prompt("模仿哈利波特写一段故事", base).decision.value
    'block'
    >>> screen_prompt("哈利·波特的作者是谁？", base).decision.value
    'allow'
    >>> screen_prompt("畫一個哈利波特", base, PromptRules(depict=PromptAction.BLOCK)).reasons[0].rule
    'prompt.depict'
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from copyalign.core.guard.folding import prepare
from copyalign.core.guard.intents import IntentHit, IntentKind, Reach, find_intents_folded
from copyalign.core.guard.rules import GuardAction, strongest
from copyalign.core.guard.terms import SENTENCE_BREAK, Term, TermBase, TermHit, TermKind
from copyalign.core.text import CJK
from copyalign.errors import InvalidInputError

PromptAction = GuardAction
"""The prompt filter's actions are the guard's (allow, warn, block): one enum for both filters."""


@dataclass(frozen=True, slots=True)
class PromptRules:
    """What each finding asks for; the guard builds this from the policy profile's ``guard`` section
    (:meth:`from_profile`). The defaults are the profile's defaults: a mention is allowed (and logged)."""

    reference: PromptAction = PromptAction.ALLOW
    imitate: PromptAction = PromptAction.BLOCK
    reproduce: PromptAction = PromptAction.BLOCK
    circumvent: PromptAction = PromptAction.WARN
    creator_style: PromptAction = PromptAction.BLOCK
    depict: PromptAction = PromptAction.WARN
    continuation: PromptAction = PromptAction.BLOCK

    def __post_init__(self) -> None:
        for name in _RULE_FIELDS:
            try:
                object.__setattr__(self, name, PromptAction(getattr(self, name)))
            except ValueError as exc:
                raise InvalidInputError(f"unknown prompt action {getattr(self, name)!r}", field=name) from exc

    @classmethod
    def from_profile(cls, guard: Any) -> PromptRules:
        """The rules of a policy profile's ``guard`` section (its ``prompt_*`` settings)."""
        return cls(**{name: PromptAction(getattr(guard, f"prompt_{name}")) for name in _RULE_FIELDS})


_RULE_FIELDS = ("reference", "imitate", "reproduce", "circumvent", "creator_style", "depict", "continuation")


@dataclass(frozen=True, slots=True)
class PromptQuote:
    """Text of a registered work that the matching engine found in the prompt: ``spans`` index the prompt.

    The engine reports a passage only once it is as long as the profile's ``matching.min_passage_tokens``
    (20 words, or 40 Chinese characters), so a quote is, by construction, at least the profile's passage.
    """

    work_id: str
    title: str
    spans: tuple[tuple[int, int], ...]
    match: str = "passage"


@dataclass(frozen=True, slots=True)
class PromptReason:
    """One rule that fired: ``span`` is the name's (or, for circumvention alone, the pattern's; for a quote,
    the passage's) in the prompt. ``name`` is the name found, or the title of the quoted work."""

    rule: str
    action: PromptAction
    term_id: str | None
    work_ids: tuple[str, ...]
    name: str | None
    span: tuple[int, int]
    intent: str | None


@dataclass(frozen=True, slots=True)
class PromptVerdict:
    """The decision, the reasons for it (a mention is a reason too, with the action the rules give it, allow by
    default), and every name and intent found, for the record."""

    decision: PromptAction
    reasons: tuple[PromptReason, ...]
    terms: tuple[TermHit, ...] = ()
    intents: tuple[IntentHit, ...] = ()


_ATTACH_GAP = re.compile(
    r"[\s\W_]{0,3}(?:s\b)?[\s\W_]{0,2}"
    r"(?:(?:art|drawing|painting|writing|prose|visual|illustration|animation|comic|manga|anime|signature|iconic"
    r"|song|track|album|book|novel|film|movie|full)[\s\W_]{1,2})?"
    r"|[的之式]?(?:画|绘画|写作|文字|艺术|美术|动画|漫画|插画)?",
    re.IGNORECASE,
)
"""What may stand between a name and an attached intent: ``'s``, a dash, one qualifier (``art style``)."""
_RANK = {PromptAction.ALLOW: 0, PromptAction.WARN: 1, PromptAction.BLOCK: 2}
_NEAR_WORDS = 4
"""Most words (a Chinese character counts half) between an intent and the name it governs: ``in the style of
X``, ``draw a cute little X``, ``X 的第一章的原文``. Further apart, the intent is about something else."""
_NEAR_CHARS = 60
_WORD = re.compile(r"[^\W\d_]+|\d+")
_BARRIER = re.compile(
    r"\b(?:and|or|but|then|while|because|so|if|when|where|who|which|whose|about|also|plus|instead|after|before"
    r"|than)\b|[和与跟及并但而或再然]",
    re.IGNORECASE,
)
"""Words that start another clause or object between an intent and a name (``in the style of Monet about X``:
the style asked is Monet's, not X's)."""
_COORDINATION = re.compile(r"[\s,，、&]*(?:and|or|&|和|与|跟|以及|或)?[\s,，、]*", re.IGNORECASE)
"""Between two names that one intent governs together (``fan fiction about X and Y``, ``画X和Y``)."""


_CLAUSE_BREAK = re.compile(r"[.;。；…][\s\u3000]|[。；]|\n\s*\n")
"""A break between an intent and a name. Not a question mark: ``X怎么唱？把词写出来`` asks for X's lyrics."""


def _near(gap: str) -> bool:
    """Whether an intent and a name this far apart belong together."""
    if not gap.strip():
        return True
    if len(gap) > _NEAR_CHARS or _CLAUSE_BREAK.search(gap) or _BARRIER.search(gap):
        return False
    cjk = len(CJK.findall(gap))
    latin = sum(1 for w in _WORD.findall(gap) if not CJK.match(w))
    return 2 * latin + cjk <= 2 * _NEAR_WORDS


def _attached(hit: TermHit, intent: IntentHit, prompt: str) -> bool:
    """Whether an attached intent follows the name: right after it (``X-style``, ``X's art style``,
    ``X的风格``), or overlapping its end (``Southern Wind Song lyrics`` read as ``song lyrics``)."""
    if intent.start < hit.end:
        return hit.start <= intent.start and intent.end > hit.end
    return _ATTACH_GAP.fullmatch(prompt[hit.end : intent.start]) is not None


def _governs(it: IntentHit, hit: TermHit, prompt: str) -> bool:
    """Whether intent ``it`` is about the name ``hit``: attached right after it, overlapping it (a Chinese
    pattern around the name: ``照着X画``, ``生成一张X的图片``), or near it on the side its pattern reaches."""
    if it.reach is Reach.ATTACHED:
        return hit.start <= it.start and _attached(hit, it, prompt)
    if it.start < hit.end and hit.start < it.end:
        return True
    if it.end <= hit.start:
        return it.reach is not Reach.BEFORE and _near(prompt[it.end : hit.start])
    return it.reach is not Reach.AFTER and _near(prompt[hit.end : it.start])


def _held_character(term: Term) -> bool:
    """A character its rights holder curated: depicting it is ``prompt.depict`` (the operator's own list,
    public-domain characters for a licensed edition, has no holder)."""
    return term.kind is TermKind.CHARACTER and term.holder_id is not None


def _inside(a: int, b: int, spans: Iterable[tuple[int, int]]) -> bool:
    return any(s <= a and b <= e for s, e in spans)


def _in_name(it: IntentHit, starts: Sequence[int], reach: Sequence[int]) -> bool:
    """Whether the intent lies inside a name found: ``starts`` are the names' starts in order, ``reach[j]`` the
    furthest end of the names up to ``j``."""
    j = bisect.bisect_right(starts, it.start) - 1
    return j >= 0 and reach[j] >= it.end


def screen_prompt(
    prompt: str, base: TermBase, rules: PromptRules | None = None, *, quotes: Sequence[PromptQuote] = ()
) -> PromptVerdict:
    """The decision for one prompt and a reason per rule that fired (strongest first).

    *Intent decides* (seed 004 ¶72-73): a name alone is a mention (``prompt.reference``, allowed by default
    and still recorded); an intent raises the action only for the names it governs (:func:`_governs`), and
    a *discuss* intent (``summarise``, ``who wrote``, ``讲了什么``) cancels the weak ones of its sentence, so that
    ``summarise chapter 3 of X`` stays a mention while ``print chapter 3 of X`` is a reproduction. Depicting a character
    is ``prompt.depict`` only where a rights holder curated the character (the term has a holder): the
    operator's own list (public-domain characters) is not a holder's request (seed 004 ¶12, ¶89: the
    Ultraman rulings). ``quotes`` is what the matching engine found of registered texts in the prompt: with a
    continue intent (``continue this``, ``what comes next``, ``续写``) a quote is ``prompt.continuation``,
    with a reproduce intent ``prompt.reproduce``, else a mention (``prompt.quote``).

    Example:
        >>> base = TermBase.build([Term("c1", TermKind.CREATOR, ("Elspeth Marrow",))])
        >>> v = screen_prompt("a poem in the style of elspeth marrow", base)
        >>> v.decision.value, [(r.rule, r.action.value) for r in v.reasons]
        ('block', [('prompt.creator_style', 'block'), ('prompt.reference', 'allow')])
        >>> screen_prompt("who is Elspeth Marrow?", base).decision.value
        'allow'
    """
    rules = rules or PromptRules()
    f = prepare(prompt)
    terms = base._find(f)
    intents = find_intents_folded(f)
    reasons: dict[tuple[str, str | None], PromptReason] = {}

    def add(rule: str, action: PromptAction, hit: TermHit | None, span: tuple[int, int], intent: str | None,
            quote: PromptQuote | None = None) -> None:  # fmt: skip
        key = (rule, hit.term.id if hit else quote.work_id if quote else f"{span}")
        if key not in reasons:
            term = hit.term if hit else None
            work_ids = term.work_ids if term else (quote.work_id,) if quote else ()
            name = hit.name if hit else quote.title if quote else None
            reasons[key] = PromptReason(rule, action, term.id if term else None, work_ids, name, span, intent)

    # The words of a name or of a pasted passage are not the user's request ("Copy Cat", a novel's "continued").
    quoted = [sp for q in quotes for sp in q.spans]
    starts = [h.start for h in terms]
    reach = list(itertools.accumulate((h.end for h in terms), max))
    own = [it for it in intents if not _inside(it.start, it.end, quoted) and not _in_name(it, starts, reach)]
    # A weak intent yields to a question or commentary in its own sentence ("What happens in chapter 3 of X?").
    breaks = [m.end() for m in SENTENCE_BREAK.finditer(prompt)]
    discussed = {bisect.bisect_right(breaks, it.start) for it in own if it.kind is IntentKind.DISCUSS}
    active = [it for it in own if it.kind not in (IntentKind.DISCUSS, IntentKind.CIRCUMVENT)
              and not (it.weak and bisect.bisect_right(breaks, it.start) in discussed)]  # fmt: skip

    # Which names each intent governs: the names near it (found by position), then names coordinated with those.
    governed: dict[int, list[IntentHit]] = {}
    longest = max((h.end - h.start for h in terms), default=0)
    for it in active:
        lo = bisect.bisect_left(starts, it.start - _NEAR_CHARS - longest)
        hi = bisect.bisect_right(starts, it.end + _NEAR_CHARS)
        mine = [j for j in range(lo, hi) if terms[j].end >= it.start - _NEAR_CHARS
                and (it.kind is not IntentKind.DEPICT or _held_character(terms[j].term))
                and _governs(it, terms[j], prompt)]  # fmt: skip
        for j in list(mine):
            k = j + 1
            while k < len(terms) and _COORDINATION.fullmatch(prompt[terms[k - 1].end : terms[k].start]):
                mine.append(k)
                k += 1
        for j in dict.fromkeys(mine):
            governed.setdefault(j, []).append(it)
    for j, hit in enumerate(terms):
        span = (hit.start, hit.end)
        kind = hit.term.kind
        for it in governed.get(j, ()):
            if it.kind is IntentKind.IMITATE:
                creator = kind is TermKind.CREATOR
                rule = "prompt.creator_style" if creator else "prompt.imitate"
                add(rule, rules.creator_style if creator else rules.imitate, hit, span, it.pattern)
            elif it.kind is IntentKind.REPRODUCE:
                add("prompt.reproduce", rules.reproduce, hit, span, it.pattern)
            elif it.kind is IntentKind.CONTINUE:
                add("prompt.continuation", rules.continuation, hit, span, it.pattern)
            elif _held_character(hit.term):  # depict
                add("prompt.depict", rules.depict, hit, span, it.pattern)
        add("prompt.reference", rules.reference, hit, span, None)
    wants = {it.kind: it for it in reversed(active) if it.kind in (IntentKind.CONTINUE, IntentKind.REPRODUCE)}
    for q in quotes:
        if not q.spans:
            continue
        span = (min(a for a, _ in q.spans), max(b for _, b in q.spans))
        if IntentKind.CONTINUE in wants:
            add("prompt.continuation", rules.continuation, None, span, wants[IntentKind.CONTINUE].pattern, q)
        if IntentKind.REPRODUCE in wants:
            add("prompt.reproduce", rules.reproduce, None, span, wants[IntentKind.REPRODUCE].pattern, q)
        add("prompt.quote", rules.reference, None, span, None, q)
    for it in own:
        if it.kind is IntentKind.CIRCUMVENT:
            add("prompt.circumvent", rules.circumvent, None, (it.start, it.end), it.pattern)
    ordered = sorted(reasons.values(), key=lambda r: (-_RANK[r.action], r.span, r.rule))
    return PromptVerdict(strongest(r.action for r in ordered), tuple(ordered), tuple(terms), tuple(intents))
