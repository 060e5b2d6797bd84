"""The training notice's rules (seed 001 §3.2): states, the window, the decision at the close — pure, on a
fake clock (plain datetimes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copyalign.core.licensing import notices as rules
from copyalign.core.licensing.notices import ExclusionReason, ListingStatus, NoticeInput, NoticeStatus
from copyalign.core.registry.preferences import Purpose
from copyalign.errors import ConflictError, InvalidInputError

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_a_notice_input_cannot_be_built_invalid() -> None:
    ok = NoticeInput(" Model ", "train-ai", "commercial", "default", ["w2", "w1", "w2"])
    assert (ok.title, ok.purpose, ok.works) == ("Model", Purpose.TRAIN_AI, ("w1", "w2"))
    bad = [
        (("", "train-ai", "commercial", "default", ["w"]), "title"),
        (("M", "search", "commercial", "default", ["w"]), "purpose"),
        (("M", "train-ai", "charity", "default", ["w"]), "use"),
        (("M", "train-ai", "commercial", "default", []), "works"),
        (("M", "train-ai", "commercial", "default", "w1"), "works"),
        (("M", "train-ai", "commercial", "default", ["w"], "30"), "window_days"),
        (("M", "train-ai", "commercial", "default", ["w"], None, "Narnia"), "jurisdiction"),
    ]
    for args, field in bad:
        with pytest.raises(InvalidInputError) as err:
            NoticeInput(*args)  # type: ignore[arg-type]
        assert err.value.field == field


@given(st.integers(-10, 5000), st.integers(1, 90))
def test_the_window_is_never_below_the_profile_minimum_nor_above_ten_years(days: int, minimum: int) -> None:
    if minimum <= days <= rules.MAX_WINDOW_DAYS:
        assert rules.window_days(days, default=30, minimum=minimum) == days
    else:
        with pytest.raises(InvalidInputError):
            rules.window_days(days, default=30, minimum=minimum)
    assert rules.window_days(None, default=max(30, minimum), minimum=minimum) == max(30, minimum)


@settings(deadline=None)
@given(st.integers(1, 400), st.integers(0, 400 * 24 * 3600))
def test_objections_are_taken_exactly_while_the_window_is_open(days: int, after: int) -> None:
    closes = rules.closes_at(T0, days)
    now = T0 + timedelta(seconds=after)
    open_now = now < closes
    if open_now:
        rules.require_window_open(NoticeStatus.OPEN, closes, now, "ntc_1")
        with pytest.raises(ConflictError, match="open until"):
            rules.can_finalise(NoticeStatus.OPEN, closes, now, "ntc_1")
    else:
        with pytest.raises(ConflictError, match="closed at"):
            rules.require_window_open(NoticeStatus.OPEN, closes, now, "ntc_1")
        assert rules.can_finalise(NoticeStatus.OPEN, closes, now, "ntc_1")
    assert rules.is_due(NoticeStatus.OPEN, closes, now) is not open_now


def test_states_only_move_forward() -> None:
    assert rules.publish(NoticeStatus.DRAFT, "n") is NoticeStatus.OPEN
    for status in (NoticeStatus.OPEN, NoticeStatus.FINALISED):
        with pytest.raises(ConflictError, match=f"already {status.value}"):
            rules.publish(status, "n")
    with pytest.raises(ConflictError, match="not been published"):
        rules.require_window_open(NoticeStatus.DRAFT, None, T0, "n")
    with pytest.raises(ConflictError, match="not been published"):
        rules.can_finalise(NoticeStatus.DRAFT, None, T0, "n")
    # finalising twice is harmless: the second call has nothing to do
    assert rules.can_finalise(NoticeStatus.FINALISED, T0, T0 + timedelta(days=99), "n") is False
    assert not rules.is_due(NoticeStatus.FINALISED, T0, T0 + timedelta(days=99))


@given(st.booleans(), st.booleans())
def test_at_the_close_an_objection_excludes_first_then_a_deny(objected: bool, denied: bool) -> None:
    status, reason = rules.decide(ListingStatus.LISTED, objected=objected, denied=denied)
    if objected:
        assert (status, reason) == (ListingStatus.EXCLUDED, ExclusionReason.OBJECTED)
    elif denied:
        assert (status, reason) == (ListingStatus.EXCLUDED, ExclusionReason.OPTED_OUT)
    else:
        assert (status, reason) == (ListingStatus.LICENSED, None)
    # a work decided at publication (denied then) keeps that decision
    assert rules.decide(ListingStatus.EXCLUDED, objected=objected, denied=denied) == (ListingStatus.EXCLUDED, None)


def test_the_public_board_never_lists_drafts() -> None:
    assert rules.parse_board_status("open") is NoticeStatus.OPEN
    for raw in ("draft", "closed", ""):
        with pytest.raises(InvalidInputError):
            rules.parse_board_status(raw)


def test_an_invoice_is_paid_once_and_a_paid_one_is_never_superseded() -> None:
    from copyalign.core.licensing import invoices
    from copyalign.core.licensing.invoices import InvoiceStatus, Procedure

    assert invoices.issued(exempt=False) is InvoiceStatus.OPEN
    assert invoices.issued(exempt=True) is InvoiceStatus.EXEMPT  # the research exception: nothing owed
    assert invoices.pay(InvoiceStatus.OPEN, "inv") is InvoiceStatus.PAID
    for status in (InvoiceStatus.PAID, InvoiceStatus.VOID, InvoiceStatus.EXEMPT):
        with pytest.raises(ConflictError, match=f"is {status.value}"):
            invoices.pay(status, "inv")
    assert invoices.supersede(InvoiceStatus.OPEN, "rep") is InvoiceStatus.VOID
    with pytest.raises(ConflictError, match="paid"):
        invoices.supersede(InvoiceStatus.PAID, "rep")
    assert [s for s in InvoiceStatus if invoices.distributable(s)] == [InvoiceStatus.PAID]
    assert invoices.procedure(de_minimis=True) is Procedure.SIMPLIFIED


def test_an_objection_stands_until_withdrawn() -> None:
    from copyalign.core.licensing.notices import ObjectionState, objection_state

    assert objection_state(None) is ObjectionState.ACTIVE
    assert objection_state(T0) is ObjectionState.WITHDRAWN


def test_a_trace_is_delivered_refused_or_taken_down() -> None:
    from copyalign.core.guard.rules import GuardAction, TraceState, trace_state

    assert trace_state(GuardAction.ALLOW, taken_down=False) is TraceState.DELIVERED
    assert trace_state(GuardAction.WARN, taken_down=True) is TraceState.TAKEN_DOWN
    assert trace_state(GuardAction.BLOCK, taken_down=False) is TraceState.REFUSED
