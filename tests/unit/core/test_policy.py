from __future__ import annotations

from pathlib import Path

import pytest

from copyalign.core.policy import parse_policy, settings_table
from copyalign.core.registry.preferences import Purpose, Value
from copyalign.errors import ConfigurationError
from copyalign.policy import PRESETS, docs_markdown, load_policy, preset_text

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("name", PRESETS)
def test_presets_validate_and_name_their_jurisdiction(name: str) -> None:
    p = load_policy(name)
    assert p.profile.jurisdiction == name.upper()
    assert p.profile.source
    assert set(p.preferences.defaults) == set(Purpose)


def test_presets_differ_where_the_law_does() -> None:
    cn, eu, jp = load_policy("cn"), load_policy("eu"), load_policy("jp")
    assert cn.preferences.defaults[Purpose.TRAIN_AI] is Value.ALLOW_WITH_REMUNERATION
    assert eu.preferences.defaults[Purpose.TRAIN_AI] is Value.ALLOW
    assert eu.preferences.opt_out_binding and not jp.preferences.opt_out_binding


def test_unknown_key_is_named() -> None:
    text = preset_text("eu").replace("[lookup]", "[lookup]\nisc_max_distance = 3")
    with pytest.raises(ConfigurationError, match=r"lookup\.isc_max_distance"):
        parse_policy(text, origin="mine.toml")


def test_out_of_range_value_is_named() -> None:
    text = preset_text("eu").replace("iscc_max_distance = 5", "iscc_max_distance = 40")
    with pytest.raises(ConfigurationError) as e:
        parse_policy(text)
    assert e.value.field == "lookup.iscc_max_distance"


def test_bad_toml_and_unknown_preset() -> None:
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        parse_policy("[profile\n")
    with pytest.raises(ConfigurationError, match="cannot read policy file"):
        load_policy("/nonexistent/policy.toml")


def test_every_setting_has_a_source_and_is_documented() -> None:
    docs = (ROOT / "docs" / "policy.md").read_text("utf-8")
    assert docs == docs_markdown(), "docs/policy.md is stale: run 'copyalign policy docs > docs/policy.md'"
    for key, _default, description, source in settings_table():
        assert description, key
        assert f"`{key}`" in docs, f"docs/policy.md does not document {key}"
        if not key.startswith("profile."):
            assert source, f"{key} has no legal source"


def test_licensing_windows_and_tariffs_are_checked() -> None:
    cn = load_policy("cn")
    assert cn.licensing.notice_window_days >= cn.licensing.minimum_window_days == 30
    assert cn.licensing.tariff("default").currency == "CNY" and load_policy("jp").licensing.tariffs[0].currency == "JPY"
    short = preset_text("eu").replace("notice_window_days = 30", "notice_window_days = 7")
    with pytest.raises(ConfigurationError, match="below minimum_window_days"):
        parse_policy(short)
    loose = preset_text("eu").replace('currency = "EUR"', 'currency = "euro"')
    with pytest.raises(ConfigurationError, match=r"licensing\.tariffs\.0\.currency"):
        parse_policy(loose)
    open_middle = preset_text("eu").replace('{ up_to = "10000000", rate = "0.05" }', '{ rate = "0.05" }')
    with pytest.raises(ConfigurationError, match="only the last tier may be open"):
        parse_policy(open_middle)


def test_the_85_percent_similarity_floor_is_on_images_not_on_text() -> None:
    """Seed 003 §4.3: visual style-transfer outputs are compared with the works database at alert thresholds
    "no lower than 85% similarity". The floor binds image similarity; text paraphrase thresholds are the
    model's to calibrate (issue 19: it was the other way round, images validating down to 0.5)."""
    eu = preset_text("eu")
    with pytest.raises(ConfigurationError) as e:
        parse_policy(eu + "\n[matching]\nimage_semantic_min_similarity = 0.75\n")
    assert e.value.field == "matching.image_semantic_min_similarity"
    assert parse_policy(eu + "\n[matching]\nimage_semantic_min_similarity = 0.85\n").matching
    assert parse_policy(eu + "\n[matching]\nsemantic_min_similarity = 0.7\n").matching.semantic_min_similarity == 0.7
    # the perceptual image match: at most 31 of 256 PDQ bits differ, i.e. at least 87.9 % of them agree
    with pytest.raises(ConfigurationError):
        parse_policy(eu + "\n[matching]\npdq_max_distance = 40\n")


def test_guard_share_and_prompt_actions_are_profile_settings() -> None:
    """Seed 003 §4.3 (over 15 % protected features restricted) and seed 004 ¶12, ¶89 (depiction, cn)."""
    cn, eu = load_policy("cn").guard, load_policy("eu").guard
    assert (cn.max_copied_share, cn.min_copied_chars) == (0.15, 40)
    assert (cn.prompt_reference, cn.prompt_depict, cn.prompt_continuation) == ("allow", "block", "block")
    assert eu.prompt_depict == "warn"
    for bad in ("max_copied_share = 0", "max_copied_share = 1.5", 'prompt_depict = "forbid"'):
        with pytest.raises(ConfigurationError):
            parse_policy(preset_text("eu") + f"\n[guard]\n{bad}\n")
