from __future__ import annotations

import pytest

from copyalign.core.policy import parse_policy
from copyalign.core.takedown.calendar import Span, Unit
from copyalign.core.takedown.clocks import ClockRule, preset_clocks
from copyalign.core.takedown.profile import TakedownSection
from copyalign.core.takedown.strikes import ComplainantStatus, Sanction
from copyalign.errors import ConfigurationError
from copyalign.policy import PRESETS, load_policy, preset_text

RULES = (
    "acknowledge",
    "act",
    "decide",
    "simplified_decide",
    "forward_counter_notice",
    "complaint_decide",
    "restore_earliest",
    "restore_latest",
    "restore_grace",
    "user_objection",
)


@pytest.mark.parametrize("name", PRESETS)
def test_preset_files_and_clock_presets_agree(name: str) -> None:
    """The TOML an operator edits and the preset the code cites must say the same thing."""
    assert "\n[takedown]\n" in preset_text(name)
    p = load_policy(name)
    mine, ref = p.takedown.clocks(p.profile.jurisdiction), preset_clocks(name)
    for rule in RULES:
        assert getattr(mine, rule) == getattr(ref, rule), rule
    assert (mine.calendar, mine.restore_from, mine.complaint_window_months) == (
        ref.calendar,
        ref.restore_from,
        ref.complaint_window_months,
    )


def _with(name: str, **settings: str) -> str:
    text = preset_text(name)
    for key, value in settings.items():
        head, _, rest = text.partition(f"\n{key} = ")
        assert rest, key
        text = head + f"\n{key} = {value}" + rest[rest.index("\n") :]
    return text


@pytest.mark.parametrize(
    ("name", "settings", "where", "phrase"),
    [
        ("eu", {"act": '"2 days"'}, "takedown.act", "not a span"),
        ("eu", {"restore_earliest": '"10bd"'}, "takedown", "one of restore_latest or restore_grace"),
        ("cn", {"restore_grace": '"none"'}, "takedown", "one of restore_latest or restore_grace"),
        ("us", {"strike_ladder": '["warn", "restrict"]'}, "takedown", "512(i)"),
        ("us", {"restore_earliest": '"9bd"'}, "takedown", "10bd..14bd"),
        ("us", {"restore_latest": '"20d"'}, "takedown", "10bd..14bd"),
        ("eu", {"complaint_window_months": "3"}, "takedown", "Art. 20(1)"),
        ("cn", {"restore_earliest": '"10d"'}, "takedown", "Art. 43"),
        ("eu", {"strike_ladder": '["terminate", "warn"]'}, "takedown.strike_ladder", "never goes down"),
        ("eu", {"strike_ladder": '["ban"]'}, "takedown.strike_ladder", "unknown sanction"),
        ("eu", {"de_minimis_share": "0.2"}, "takedown", "de_minimis_share"),
        ("eu", {"similarity_threshold": "0.8"}, "takedown.similarity_threshold", ""),
        ("eu", {"time_zone": '"Europe/Atlantis"'}, "takedown", "unknown time zone"),
        ("eu", {"holiday_rule": '"cn-official"'}, "takedown.holiday_rule", ""),
    ],
)
def test_bad_settings_are_named(name: str, settings: dict[str, str], where: str, phrase: str) -> None:
    with pytest.raises(ConfigurationError) as e:
        parse_policy(_with(name, **settings), origin="mine.toml")
    assert e.value.field == where and phrase in e.value.message


def test_operator_targets_keep_the_presets_source_as_context() -> None:
    p = parse_policy(_with("us", act='"12h"'))
    act = p.takedown.clocks("US").act
    assert act.span == Span(12, Unit.HOURS) and not act.binding and "512(c)(1)(C)" in act.source
    restore = p.takedown.clocks("US").restore_latest
    assert isinstance(restore, ClockRule) and restore.binding  # unchanged: still the statute's number
    neutral = TakedownSection().clocks("*")
    assert neutral.act.source.startswith("policy profile") and neutral.restore_earliest is None


def test_the_section_builds_the_pure_policies() -> None:
    s = load_policy("eu").takedown
    t = s.triage_thresholds()
    assert (t.protected_feature_share, t.similarity, t.de_minimis_share, t.pdq_max_distance) == (0.15, 0.85, 0.05, 31)
    sp = s.strike_policy()
    assert (sp.expiry_days, sp.ladder) == (90, (Sanction.WARN, Sanction.RESTRICT, Sanction.TERMINATE))
    up = s.unfounded_policy()
    assert (up.threshold, up.window_days, up.action) == (3, 180, ComplainantStatus.DEPRIORITISE)
    cal = load_policy("cn").takedown.calendar()
    assert cal.time_zone == "Asia/Shanghai"


def test_a_profile_without_a_takedown_table_gets_the_defaults() -> None:
    p = parse_policy('[profile]\nname = "x"\njurisdiction = "*"\nrule = "r"\nsource = "s"')
    assert p.takedown == TakedownSection() and p.takedown.act == "48h"
