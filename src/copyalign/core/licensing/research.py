"""The research exception: free use for non-commercial research and information analysis, as a profile rule.

Beside the quasi-statutory licence, seed 001 §3.1 (002 §3.1) proposes a free path: "information-analytical use"
(extracting linguistic rules, image structures and information features without the works' expressive value,
after Japan's Art. 30-4) judged by a "no market conflict" criterion, and a "safety net for non-commercial,
non-competitive GenAI research". The regimes it compares draw the line differently (001 §2.2-2.3):

* **EU** — Directive 2019/790 Art. 3: text and data mining for scientific research by research organisations and
  cultural heritage institutions, on works to which they have lawful access (Art. 3(1)), copies stored with an
  appropriate level of security (Art. 3(2)). Rights holders *cannot* reserve against it: the Art. 4(3)
  reservation binds only Art. 4 (commercial) mining. The eu preset's rule therefore does not apply opt-outs.
* **JP** — Art. 30-4: exploitation "not for enjoying the thoughts or sentiments" of a work, commercial or not,
  unless it unreasonably prejudices the holder's interests. Opt-outs are honoured: the Agency for Cultural
  Affairs (2024) reads circumventing a technical measure against AI training of a database offered for sale
  as such prejudice.
* **CN** (as the seeds propose; PRC law has no such exception yet) — research that is non-commercial and
  non-competitive, and information analysis that is not generative training, with no market conflict.
* **US** — no statutory exception: fair use (17 U.S.C. §107) is decided case by case, never by the registry.

A profile's :class:`ResearchSection` says which declared uses qualify, for which purposes, under which
conditions (each one a declaration the developer must make; the scan's manifest and its log entry are the
record of use), and whether opt-outs still apply. :meth:`ResearchSection.claim` turns a developer's declaration
into a :class:`ResearchClaim` or refuses it naming what is missing. A notice under a claim pays no fee (its
invoice is ``exempt``); a scan under a claim keeps works that would otherwise wait for a licence
(``research:exempt``) and, where opt-outs do not bind, records reservations without applying them
(``research:reservation-not-binding``).

Example:
    >>> rule = ResearchRule(use=ResearchUse.RESEARCH, purposes=[Purpose.TRAIN_AI], conditions=[Condition.LAWFUL_ACCESS])
    >>> s = ResearchSection(exception="DSM Art. 3", rules=[rule], honour_opt_outs=False)
    >>> s.claim("research", "train-ai", ["lawful-access"]).honour_opt_outs
    False
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from copyalign.core.registry.preferences import Purpose
from copyalign.errors import InvalidInputError


class ResearchUse(enum.StrEnum):
    RESEARCH = "research"  # non-commercial scientific research (EU Art. 3; seed 001 §3.1 second paragraph)
    ANALYSIS = "analysis"  # information analysis, not for enjoyment (JP Art. 30-4; seed 001/002 §3.1)


class Condition(enum.StrEnum):
    """What the developer declares to claim the exception; each is recorded with the claim."""

    LAWFUL_ACCESS = "lawful-access"  # DSM Art. 3(1), 4(1); seed 003 §4.3 (lawful database access)
    SECURITY_MEASURES = "security-measures"  # DSM Art. 3(2): copies stored with an appropriate level of security
    NO_DISSEMINATION = "no-dissemination"  # the works are not made available to the public (DSM Recital 15)
    RECORD_OF_USE = "record-of-use"  # seed 002 §3.2: records kept for compliance review (the scan manifest)
    NON_COMMERCIAL = "non-commercial"  # seed 001 §3.1: non-commercial, non-competitive research; DSM Art. 2(1)
    NO_ENJOYMENT = "no-enjoyment"  # JP Art. 30-4; seed 002 §3.1 (非欣赏性使用)
    NO_MARKET_HARM = "no-market-harm"  # seed 001/002 §3.1 (no market conflict); Berne Art. 9(2); JP Art. 30-4 proviso


CONDITION_TEXT = {
    Condition.LAWFUL_ACCESS: "the works were lawfully accessed",
    Condition.SECURITY_MEASURES: "copies are stored with an appropriate level of security",
    Condition.NO_DISSEMINATION: "the works themselves are not made available to the public",
    Condition.RECORD_OF_USE: "a record of the works used is kept (the scan manifest and its log entry)",
    Condition.NON_COMMERCIAL: "the research is non-commercial and does not compete with the works",
    Condition.NO_ENJOYMENT: "the use is not for enjoying the thoughts or sentiments the works express",
    Condition.NO_MARKET_HARM: "the use does not conflict with the works' normal exploitation",
}

_TRAINING = (Purpose.TRAIN_AI, Purpose.TRAIN_GENAI, Purpose.AI_INPUT)


class ResearchRule(BaseModel):
    """One qualifying use: for which purposes, under which conditions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    use: ResearchUse
    purposes: list[Purpose] = Field(min_length=1)
    conditions: list[Condition] = Field(default_factory=list)

    @field_validator("purposes")
    @classmethod
    def _training(cls, v: list[Purpose]) -> list[Purpose]:
        bad = [p.value for p in v if p not in _TRAINING]
        if bad:
            raise ValueError(f"the research exception covers train-ai, train-genai or ai-input, not {bad[0]}")
        return list(dict.fromkeys(v))


@dataclass(frozen=True, slots=True)
class ResearchClaim:
    """A developer's accepted claim of the exception, as recorded on a notice or a scan."""

    use: ResearchUse
    purpose: Purpose
    exception: str
    conditions: tuple[Condition, ...]
    honour_opt_outs: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "use": self.use.value,
            "purpose": self.purpose.value,
            "exception": self.exception,
            "conditions": [c.value for c in self.conditions],
            "honour_opt_outs": self.honour_opt_outs,
        }


class ResearchSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    exception: str = Field(
        default="none",
        max_length=300,
        description=(
            "The exception the rules implement (statute or proposal), shown on every claim; none when the "
            "jurisdiction has no research or analysis exception."
        ),
        json_schema_extra={"source": "seed 001 §2.2-2.3, §3.1; DSM Directive Art. 3; JP Copyright Act Art. 30-4"},
    )
    rules: list[ResearchRule] = Field(
        default_factory=list,
        description=(
            "Which declared uses qualify (research: non-commercial scientific research; analysis: information "
            "analysis not for enjoyment), for which purposes, and the conditions the developer must declare "
            "(lawful-access, security-measures, no-dissemination, record-of-use, non-commercial, no-enjoyment, "
            "no-market-harm). A qualifying notice pays no fee; a qualifying scan keeps works that would wait for a "
            "licence. Empty: no exception (use the non-profit rate)."
        ),
        json_schema_extra={"source": "seed 001 §3.1; seed 002 §3.1; DSM Directive Art. 3(1)-(2); JP Art. 30-4"},
    )
    honour_opt_outs: bool = Field(
        default=True,
        description=(
            "Whether opt-outs (machine-readable reservations, registry denies and objections) still remove works "
            "from a research scan. EU Art. 3: no (a reservation binds only Art. 4 commercial mining; the scan "
            "records it without applying it); JP and CN: yes."
        ),
        json_schema_extra={
            "source": "DSM Directive Art. 3, Art. 4(3); Agency for Cultural Affairs (2024) on Art. 30-4"
        },
    )

    @field_validator("rules")
    @classmethod
    def _one_rule_per_use(cls, v: list[ResearchRule]) -> list[ResearchRule]:
        uses = [r.use for r in v]
        if len(set(uses)) != len(uses):
            raise ValueError("one rule per use")
        return v

    def rule(self, use: ResearchUse) -> ResearchRule | None:
        return next((r for r in self.rules if r.use is use), None)

    def claim(self, use: str, purpose: str | Purpose, declared: Iterable[str]) -> ResearchClaim:
        """Accept a declaration of ``use`` for ``purpose`` with the ``declared`` conditions, or refuse it naming
        why: the use or the purpose does not qualify here, or a condition is not declared."""
        try:
            u = ResearchUse(use)
        except ValueError:
            raise InvalidInputError(f"use must be research or analysis, not {use!r}", field="use") from None
        p = Purpose(purpose)
        if isinstance(declared, str):
            raise InvalidInputError("conditions must be a list", field="conditions")
        conditions: list[Condition] = []
        for c in declared:
            try:
                conditions.append(Condition(c))
            except ValueError:
                known = ", ".join(x.value for x in Condition)
                raise InvalidInputError(f"unknown condition {c!r}; known: {known}", field="conditions") from None
        rule = self.rule(u)
        if rule is None:
            raise InvalidInputError(
                f"use {u.value} is not an exception under this profile ({self.exception}); declare non-profit "
                "use to pay the non-profit rate",
                field="use",
            )
        if p not in rule.purposes:
            allowed = ", ".join(x.value for x in rule.purposes)
            raise InvalidInputError(f"the {u.value} exception covers {allowed}, not {p.value}", field="purpose")
        missing = [c for c in rule.conditions if c not in conditions]
        if missing:
            text = "; ".join(f"{c.value} ({CONDITION_TEXT[c]})" for c in missing)
            raise InvalidInputError(f"the {u.value} exception needs the declaration(s): {text}", field="conditions")
        return ResearchClaim(u, p, self.exception, tuple(dict.fromkeys(conditions)), self.honour_opt_outs)


def exempt_use(use: str) -> bool:
    """Whether ``use`` names an exception (research, analysis) rather than a paying use."""
    return use in {u.value for u in ResearchUse}


__all__ = [
    "CONDITION_TEXT",
    "Condition",
    "ResearchClaim",
    "ResearchRule",
    "ResearchSection",
    "ResearchUse",
    "exempt_use",
]
