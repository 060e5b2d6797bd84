"""Issue 22: the research exception as a profile rule (seed 001 §3.1, 002 §3.1; DSM Art. 3; JP Art. 30-4), the
royalty factors of seed 000 §4.2.1 as tariff weights, measured use and the reporting period."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from copyalign.core.licensing.measure import measure
from copyalign.core.licensing.reporting import covered_until, is_overdue, next_due
from copyalign.core.licensing.research import Condition, ResearchUse
from copyalign.core.licensing.tariffs import Tariff, Tier, Use, quote, work_weight
from copyalign.core.money import Money
from copyalign.core.registry.preferences import Purpose
from copyalign.errors import InvalidInputError
from copyalign.policy import load_policy

SEED = Tariff(
    name="seed",
    currency="CNY",
    tiers=[Tier(up_to=Decimal(1_000_000), rate=Decimal("0.03")), Tier(rate=Decimal("0.05"))],
)


def test_each_preset_states_its_exception() -> None:
    """001 §2.2-2.3, §3.1: JP allows analysis, commercial or not; the EU's Art. 3 is for research only and no
    reservation binds it; the seeds' CN proposal frees non-commercial research and non-generative analysis; the US
    has no statutory exception (fair use is for courts)."""
    cn, eu, jp, us = (load_policy(n).research for n in ("cn", "eu", "jp", "us"))
    cn_analysis = cn.rule(ResearchUse.ANALYSIS)
    assert cn_analysis is not None and cn_analysis.purposes == [Purpose.TRAIN_AI]
    cn_research = cn.rule(ResearchUse.RESEARCH)
    assert cn_research is not None and Condition.NON_COMMERCIAL in cn_research.conditions
    assert Condition.NO_MARKET_HARM in cn_research.conditions and cn.honour_opt_outs  # 001 §3.1; §3.3
    assert eu.rule(ResearchUse.ANALYSIS) is None and not eu.honour_opt_outs  # DSM Art. 3 vs Art. 4(3)
    eu_research = eu.rule(ResearchUse.RESEARCH)
    assert eu_research is not None and {Condition.LAWFUL_ACCESS, Condition.SECURITY_MEASURES} <= set(
        eu_research.conditions
    )  # Art. 3(1)-(2)
    jp_analysis = jp.rule(ResearchUse.ANALYSIS)
    assert jp_analysis is not None and Condition.NO_ENJOYMENT in jp_analysis.conditions and jp.honour_opt_outs
    assert Condition.NON_COMMERCIAL not in jp_analysis.conditions  # Art. 30-4 holds for companies too
    assert us.rules == [] and "107" in us.exception


def test_a_claimed_use_is_free_and_names_its_exception() -> None:
    """Issue 22: research use was charged the 0.5 % non-profit rate; under an exception it owes nothing."""
    revenue = Money.parse("1000000", "CNY")
    q = quote(SEED, use=Use.RESEARCH, revenue=revenue, feature_share=Decimal("0.5"), works=3, exemption="DSM Art. 3")
    assert q.fee == Money.parse("0", "CNY") and q.exempt == "DSM Art. 3" and q.to_dict()["exempt"] == "DSM Art. 3"
    with pytest.raises(InvalidInputError, match="only under an exception"):
        quote(SEED, use=Use.ANALYSIS, revenue=revenue, feature_share=Decimal(0), works=1)
    paid = quote(SEED, use=Use.NON_PROFIT, revenue=revenue, feature_share=Decimal(0), works=1)
    assert paid.fee == Money.parse("5000.00", "CNY")


def test_type_of_work_and_market_substitution_weigh_the_fee() -> None:
    """Seed 000 §4.2.1: rates consider "the type of work, scale of use, commercial value of the model ... and the
    impact of market substitution". Neutral (1) unless the operator sets them."""
    t = SEED.model_copy(
        update={
            "work_weights": {"text": Decimal(1), "image": Decimal(2)},
            "substitution": {Purpose.TRAIN_AI: Decimal(1), Purpose.TRAIN_GENAI: Decimal("1.5"),
                             Purpose.AI_INPUT: Decimal(1)},
        }
    )  # fmt: skip
    weight = work_weight(t, {"text": 300, "image": 100})
    assert weight == Decimal("1.25") and work_weight(t, {}) == 1
    revenue = Money.parse("1000000", "CNY")
    q = quote(t, use=Use.COMMERCIAL, revenue=revenue, feature_share=Decimal(0), works=1,
              purpose=Purpose.TRAIN_GENAI, weight=weight)  # fmt: skip
    assert q.fee == Money.parse("56250.00", "CNY") and q.substitution == Decimal("1.5")  # 30,000 x 1.25 x 1.5
    neutral = quote(SEED, use=Use.COMMERCIAL, revenue=revenue, feature_share=Decimal(0), works=1,
                    purpose=Purpose.TRAIN_GENAI)  # fmt: skip
    assert neutral.fee == Money.parse("30000.00", "CNY")
    with pytest.raises(ValueError, match="unknown kind of work"):
        Tariff(name="x", currency="CNY", tiers=[Tier(rate=Decimal(0))], work_weights={"video": Decimal(1)})
    with pytest.raises(ValueError, match="search is not a licensed purpose"):
        Tariff(name="x", currency="CNY", tiers=[Tier(rate=Decimal(0))], substitution={Purpose.SEARCH: Decimal(1)})
    with pytest.raises(ValueError, match="between 0.1 and 10"):
        Tariff(name="x", currency="CNY", tiers=[Tier(rate=Decimal(0))], work_weights={"text": Decimal(0)})


def _row(
    kind: str, tokens: int, size: int, decision: str, works: list[tuple[str, int]], reasons: tuple[str, ...] = ()
) -> dict[str, object]:
    return {"kind": kind, "tokens": tokens, "bytes": size, "decision": decision, "reasons": list(reasons),
            "matched_works": json.dumps([{"work": w, "tokens": t} for w, t in works])}  # fmt: skip


def test_measured_share_counts_kept_items_only_and_weighs_modalities_by_bytes() -> None:
    rows = [
        _row("text", 100, 500, "keep-licensed", [("w1", 40), ("w2", 80), ("other", 50)]),  # capped at 100 tokens
        _row("text", 300, 1500, "keep", []),
        _row("text", 999, 5000, "drop", [("w1", 999)]),  # dropped: not in the training set
        _row("image", 0, 1000, "keep-licensed", [("w3", 0)]),
        _row("image", 0, 1000, "keep", []),
    ]
    m = measure(rows, {"w1", "w2", "w3"})
    assert (m.licensed_tokens, m.text_tokens, m.licensed_images, m.images) == (100, 400, 1, 2)
    # text 1/4 and images 1/2, weighed 2000 : 2000 bytes
    assert m.share == Decimal("0.375") and m.unit == "bytes"
    assert m.lines() == [("w1", "500"), ("w2", "500"), ("w3", "1000")]
    assert m.lines("tokens") == [("w1", "40"), ("w2", "80")] and m.kinds() == {"text": 1000, "image": 1000}
    assert measure([], {"w1"}).share == 0 and measure([], set()).unit == "tokens"
    third = measure([_row("text", 3, 10, "keep", [("w", 1)])], {"w"})
    assert third.share == Decimal("0.333334")  # rounded up, never down
    # a scan run before the notice was finalised held the licensed work's item: it still counts, so that
    # scanning early never measures less; an item held for anything else does not
    early = [
        _row("text", 100, 500, "hold", [("w1", 100)], ("registry:unlicensed",)),
        _row("text", 100, 500, "hold", [("w1", 100)], ("registry:unlicensed", "signals:not-captured")),
        _row("text", 100, 500, "keep", []),
    ]
    assert measure(early, {"w1"}).share == Decimal("0.5")


@given(
    st.lists(
        st.tuples(st.integers(0, 500), st.integers(0, 600), st.booleans(), st.sampled_from(["keep", "drop"])),
        max_size=20,
    )
)
def test_the_measured_share_is_a_fraction(items: list[tuple[int, int, bool, str]]) -> None:
    rows = [_row("text", t, t * 5, d, [("w", m)] if hit else []) for t, m, hit, d in items]
    share = measure(rows, {"w"}).share
    assert 0 <= share <= 1


def test_reports_are_due_per_period_and_a_gap_stops_the_coverage() -> None:
    """Seed 002 §3.2: developers submit training-data use reports periodically."""
    fin = datetime(2026, 1, 1, tzinfo=UTC)
    day = timedelta(days=1)
    assert covered_until(fin, []) == fin
    first = (fin - 5 * day, fin + 90 * day, fin + 95 * day)
    assert covered_until(fin, [first]) == fin + 90 * day
    gap = (fin + 120 * day, fin + 200 * day, fin + 201 * day)
    assert covered_until(fin, [first, gap]) == fin + 90 * day  # the hole between day 90 and 120 is unreported
    future = (fin, fin + 900 * day, fin + 10 * day)
    assert covered_until(fin, [future]) == fin + 10 * day  # a period counts only up to its submission
    due = next_due(fin, [first], every_days=90, grace_days=30)
    assert (due.period_start, due.period_end, due.due_at) == (fin + 90 * day, fin + 180 * day, fin + 210 * day)
    assert not is_overdue(due, fin + 210 * day) and is_overdue(due, fin + 210 * day + timedelta(seconds=1))
    assert due.days_overdue(fin + 215 * day) == 5 and due.to_dict()["due_at"].startswith("2026-07-30")
