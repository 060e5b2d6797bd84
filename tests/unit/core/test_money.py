"""Money, allocation and tariffs: the arithmetic of fees and distributions, to the minor unit."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copyalign.core.licensing.allocation import equal_split, largest_remainder
from copyalign.core.licensing.distribution import Contribution, distribute
from copyalign.core.licensing.tariffs import Tariff, Tier, Use, quote
from copyalign.core.money import Money, parse_decimal
from copyalign.errors import CurrencyMismatchError, InvalidInputError

weights = st.dictionaries(
    st.text(alphabet="abcdefghij", min_size=1, max_size=4),
    st.one_of(st.integers(0, 10**9), st.decimals(0, 10**6, places=3, allow_nan=False, allow_infinity=False)),
    min_size=1,
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(total=st.integers(0, 10**12), w=weights)
def test_allocations_sum_to_the_total_are_never_negative_and_stay_within_one_unit(total: int, w: dict) -> None:
    if sum(Decimal(v) for v in w.values()) == 0:
        if total:
            with pytest.raises(InvalidInputError, match="every weight is zero"):
                largest_remainder(total, w)
        return
    out = largest_remainder(total, w)
    assert sum(out.values()) == total
    assert all(v >= 0 for v in out.values())
    whole = sum(Decimal(v) for v in w.values())
    for k, v in w.items():
        exact = Decimal(total) * Decimal(v) / whole
        assert abs(Decimal(out[k]) - exact) < 1 + Decimal("1e-9")
        if v == 0:
            assert out[k] == 0


@settings(max_examples=200, deadline=None)
@given(total=st.integers(1, 10**9), w=weights, seed=st.randoms(use_true_random=False))
def test_allocations_do_not_depend_on_the_order_of_the_inputs(total: int, w: dict, seed) -> None:  # noqa: ANN001
    if sum(Decimal(v) for v in w.values()) == 0:
        return
    items = list(w.items())
    seed.shuffle(items)
    assert largest_remainder(total, dict(items)) == largest_remainder(total, w)


def test_the_leftover_cent_goes_to_the_largest_remainder_and_ties_to_the_smaller_key() -> None:
    assert largest_remainder(100, {"x": 2, "y": 1}) == {"x": 67, "y": 33}  # 66.67 / 33.33
    assert equal_split(100, ["c", "b", "a"]) == {"c": 33, "b": 33, "a": 34}
    assert largest_remainder(0, {"a": 0}) == {"a": 0}
    with pytest.raises(InvalidInputError, match="negative"):
        largest_remainder(10, {"a": -1})
    with pytest.raises(InvalidInputError, match="negative total"):
        largest_remainder(-1, {"a": 1})


def test_money_never_mixes_currencies_and_rounds_once_half_up() -> None:
    assert Money.parse("0.005", "eur").rounded() == Money(Decimal("0.01"), "EUR")
    assert Money.parse("2.5", "JPY").rounded().minor_units() == 3
    assert Money.parse("1.0005", "KWD").rounded().to_str() == "1.001"
    with pytest.raises(CurrencyMismatchError, match="EUR with CNY"):
        Money.parse("1", "EUR") + Money.parse("1", "CNY")
    with pytest.raises(InvalidInputError, match="round it first"):
        Money.parse("0.001", "EUR").minor_units()
    for bad, msg in ((0.1, "decimal string"), ("abc", "must be a number"), ("NaN", "finite"), ("-1", "negative")):
        with pytest.raises(InvalidInputError, match=msg):
            parse_decimal(bad, "amount")
    with pytest.raises(InvalidInputError, match="ISO 4217"):
        Money.parse("1", "euro")


SEED_TARIFF = Tariff(
    name="seed",
    currency="CNY",
    tiers=[
        Tier(up_to=Decimal(1_000_000), rate=Decimal("0.03")),
        Tier(up_to=Decimal(10_000_000), rate=Decimal("0.05")),
        Tier(rate=Decimal("0.08")),
    ],
    min_fee_per_work=Decimal("0.50"),
    cap=Decimal(5_000_000),
)


def test_tariff_tiers_apply_marginally_and_the_feature_step_compounds() -> None:
    q = quote(
        SEED_TARIFF, use=Use.COMMERCIAL, revenue=Money.parse("20000000", "CNY"), feature_share=Decimal("0.25"), works=10
    )
    # 1M x 3 % + 9M x 5 % + 10M x 8 % = 30,000 + 450,000 + 800,000 = 1,280,000; x 1.2**2
    assert q.base.amount == Decimal("1280000") and q.multiplier == Decimal("1.44")
    assert q.fee == Money(Decimal("1843200.00"), "CNY") and not q.de_minimis
    nonprofit = quote(
        SEED_TARIFF, use=Use.NON_PROFIT, revenue=Money.parse("1000", "CNY"), feature_share=Decimal("0.02"), works=1
    )
    assert nonprofit.fee.to_str() == "5.00" and nonprofit.de_minimis
    tiny = quote(SEED_TARIFF, use=Use.COMMERCIAL, revenue=Money.parse("10", "CNY"), feature_share=Decimal(0), works=4)
    assert tiny.fee.to_str() == "2.00" and tiny.minimum_applied  # 0.30 raised to 4 x 0.50
    huge = quote(
        SEED_TARIFF, use=Use.COMMERCIAL, revenue=Money.parse("900000000", "CNY"), feature_share=Decimal(1), works=1
    )
    assert huge.cap_applied and huge.fee.to_str() == "5000000.00"


@settings(max_examples=200, deadline=None)
@given(a=st.integers(0, 10**9), b=st.integers(0, 10**9))
def test_earning_more_never_costs_less(a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    fees = [
        quote(
            SEED_TARIFF, use=Use.COMMERCIAL, revenue=Money(Decimal(r), "CNY"), feature_share=Decimal("0.1"), works=1
        ).fee
        for r in (lo, hi)
    ]
    assert fees[0] <= fees[1]


def test_bad_tariff_input_is_refused() -> None:
    with pytest.raises(CurrencyMismatchError, match="tariff 'seed' is in CNY"):
        quote(SEED_TARIFF, use=Use.COMMERCIAL, revenue=Money.parse("1", "EUR"), feature_share=Decimal(0), works=1)
    with pytest.raises(InvalidInputError, match="between 0 and 1"):
        quote(SEED_TARIFF, use=Use.COMMERCIAL, revenue=Money.parse("1", "CNY"), feature_share=Decimal(2), works=1)
    with pytest.raises(ValueError, match="last tier must be open"):
        Tariff(name="x", currency="EUR", tiers=[Tier(up_to=Decimal(5), rate=Decimal("0.1"))])
    with pytest.raises(ValueError, match="ascend"):
        Tariff(
            name="x",
            currency="EUR",
            tiers=[
                Tier(up_to=Decimal(5), rate=Decimal(0)),
                Tier(up_to=Decimal(2), rate=Decimal(0)),
                Tier(rate=Decimal(0)),
            ],
        )


contribution = st.builds(
    lambda rid, cents, measures, licensed: Contribution(
        rid, Money.from_minor(cents, "CNY"), measures, licensed or ["w0"]
    ),
    st.text(alphabet="rstuv", min_size=1, max_size=6),
    st.integers(0, 10**9),
    st.dictionaries(st.sampled_from([f"w{i}" for i in range(12)]), st.decimals(0, 10**6, places=2), max_size=12),
    st.lists(st.sampled_from([f"w{i}" for i in range(12)]), max_size=5, unique=True),
)
HOLDER_OF = {f"w{i}": f"h{i % 4}" for i in range(12)}


@settings(max_examples=200, deadline=None)
@given(
    cs=st.lists(contribution, min_size=1, max_size=8, unique_by=lambda c: c.report_id),
    share=st.decimals(0, "0.5", places=3),
)
def test_a_distribution_reconciles_to_the_cent_whatever_the_order_of_reports(cs: list, share: Decimal) -> None:
    d = distribute(cs, currency="CNY", admin_share=share, holder_of=HOLDER_OF)
    assert d.collected == sum(c.paid.minor_units() for c in cs)
    assert d.admin + d.distributable == d.collected
    if d.distributable:
        assert sum(d.per_work.values()) == sum(d.per_holder.values()) == d.distributable
    assert all(v >= 0 for v in d.per_holder.values())
    assert distribute(list(reversed(cs)), currency="CNY", admin_share=share, holder_of=HOLDER_OF) == d


def test_measured_use_decides_the_split_and_a_report_without_measures_splits_equally() -> None:
    measured = Contribution("r1", Money.parse("90.00", "EUR"), {"w0": Decimal(2), "w1": Decimal(1)})
    blanket = Contribution("r2", Money.parse("10.00", "EUR"), {}, ["w1", "w2"])
    d = distribute([measured, blanket], currency="EUR", admin_share=Decimal("0.10"), holder_of=HOLDER_OF)
    assert (d.collected, d.admin, d.distributable) == (10000, 1000, 9000)
    # w0: 2/3 of 81.00 = 54.00; w1: 27.00 + 4.50; w2: 4.50
    assert d.per_work == {"w0": 5400, "w1": 3150, "w2": 450} and d.fallback_reports == ["r2"]
    assert d.per_holder == {"h0": 5400, "h1": 3150, "h2": 450}
    with pytest.raises(CurrencyMismatchError, match="paid in EUR"):
        distribute([measured], currency="CNY", admin_share=Decimal(0), holder_of=HOLDER_OF)
    with pytest.raises(InvalidInputError, match="no rights holder"):
        distribute([measured], currency="EUR", admin_share=Decimal(0), holder_of={"w0": "h0"})
