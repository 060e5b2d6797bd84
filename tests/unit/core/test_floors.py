"""Issue 22: a policy file cannot weaken its jurisdiction by omission, and goes below a legal floor only with an
explicit, reasoned override (seed 001 §3.2: a notice period of no less than 30 days)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_core import PydanticCustomError

from copyalign.core.floors import Floor, Override, check, layer
from copyalign.core.policy import parse_policy
from copyalign.core.registry.preferences import Purpose, Value
from copyalign.errors import ConfigurationError
from copyalign.policy import PRESETS, load_policy, preset_text, preset_texts

HEAD = '[profile]\nname = "mine"\nrule = "r"\nsource = "s"\n'


def _file(tmp_path: Path, body: str, jurisdiction: str = "CN") -> str:
    path = tmp_path / "mine.toml"
    path.write_text(HEAD + f'jurisdiction = "{jurisdiction}"\n' + body)
    return str(path)


def test_a_file_that_omits_purposes_keeps_the_presets_defaults(tmp_path: Path) -> None:
    """The bug of issue 22: a CN file setting only train-ai resolved train-genai to allow. Omitted purposes, and
    every other omitted setting, now take the jurisdiction preset's value (seed 001 §3.3: the default licence)."""
    p = load_policy(_file(tmp_path, '[preferences]\ndefaults = { "train-ai" = "deny" }\n'))
    cn = load_policy("cn")
    assert p.preferences.defaults[Purpose.TRAIN_AI] is Value.DENY
    assert p.preferences.defaults[Purpose.TRAIN_GENAI] is Value.ALLOW_WITH_REMUNERATION
    assert p.preferences.defaults[Purpose.AI_INPUT] is cn.preferences.defaults[Purpose.AI_INPUT]
    assert p.takedown.time_zone == "Asia/Shanghai" and p.licensing.tariffs == cn.licensing.tariffs
    assert p.research == cn.research and p.floors == cn.floors and p.over_preset == "cn"
    assert p.profile.name == "mine"
    # a file for a jurisdiction without a preset is read alone, as before
    star = load_policy(_file(tmp_path, "", jurisdiction="*"))
    assert star.over_preset is None and star.floors == {}


@pytest.mark.parametrize(
    ("jurisdiction", "body", "setting", "phrase"),
    [
        ("CN", "[licensing]\nminimum_window_days = 1\nnotice_window_days = 1\n", "licensing.minimum_window_days",
         "is 1, below the floor of 30 (seed 001 §3.2"),
        ("CN", '[preferences]\ndefaults = { "train-genai" = "allow" }\n', "preferences.defaults.train-genai",
         "weaker than the floor of allow-with-remuneration"),
        ("CN", '[scan]\nunlicensed_action = "keep"\n', "scan.unlicensed_action", "not one of hold, drop"),
        ("EU", "[preferences]\nopt_out_binding = false\n", "preferences.opt_out_binding", "Art. 4(3)"),
    ],
)  # fmt: skip
def test_going_below_a_floor_is_refused_naming_the_setting_and_the_source(
    tmp_path: Path, jurisdiction: str, body: str, setting: str, phrase: str
) -> None:
    with pytest.raises(ConfigurationError) as e:
        load_policy(_file(tmp_path, body, jurisdiction))
    assert e.value.field == setting and phrase in e.value.message and "[[overrides]]" in e.value.message


def test_an_override_with_a_reason_departs_from_a_floor_and_says_so(tmp_path: Path) -> None:
    body = (
        "[licensing]\nminimum_window_days = 14\nnotice_window_days = 14\n"
        '[[overrides]]\nsetting = "licensing.minimum_window_days"\n'
        'reason = "Pilot with the members\' written consent: board resolution 2026-07."\n'
    )
    p = load_policy(_file(tmp_path, body))
    [d] = p.departures()
    assert (d.setting, d.value, d.floor) == ("licensing.minimum_window_days", 14, "at least 30")
    assert d.source.startswith("seed 001 §3.2") and "board resolution" in d.reason
    short = body.replace("Pilot with the members' written consent: board resolution 2026-07.", "because")
    with pytest.raises(ConfigurationError) as e:
        load_policy(_file(tmp_path, short))
    assert e.value.field == "overrides.0.reason"
    # an override that departs from nothing, or from no floor, is refused: every override on record is real
    idle = '[[overrides]]\nsetting = "licensing.minimum_window_days"\nreason = "no reason at all, just in case."\n'
    with pytest.raises(ConfigurationError, match="keeps the floor"):
        load_policy(_file(tmp_path, idle))
    stray = '[[overrides]]\nsetting = "guard.min_term_chars"\nreason = "no floor bounds this setting at all."\n'
    with pytest.raises(ConfigurationError, match="no floor of this jurisdiction bounds it"):
        load_policy(_file(tmp_path, stray))


def test_a_file_cannot_lower_the_presets_floor_but_may_add_one(tmp_path: Path) -> None:
    lower = '[floors]\n"licensing.minimum_window_days" = { at_least = 1, source = "mine" }\n'
    with pytest.raises(ConfigurationError) as e:
        load_policy(_file(tmp_path, lower))
    assert e.value.field == "floors.licensing.minimum_window_days"
    extra = '[floors]\n"licensing.admin_share" = { at_most = 0.15, source = "CMO statute Art. 9" }\n'
    p = load_policy(_file(tmp_path, extra))
    assert set(p.floors) == set(load_policy("cn").floors) | {"licensing.admin_share"}
    with pytest.raises(ConfigurationError, match="above the ceiling of 0.15"):
        load_policy(_file(tmp_path, extra + '[licensing]\nadmin_share = "0.2"\n'))


@pytest.mark.parametrize("name", PRESETS)
def test_presets_keep_their_own_floors_and_carry_no_override(name: str) -> None:
    p = load_policy(name)
    assert p.overrides == [] and p.departures() == []
    for setting, floor in p.floors.items():
        assert floor.source, setting
    if name == "cn":
        assert p.floors["licensing.minimum_window_days"].at_least == 30
    # the preset read over itself is itself
    assert parse_policy(preset_text(name), presets=preset_texts()).model_dump() == p.model_dump()


def test_floor_kinds_and_checks() -> None:
    assert Floor(at_least="allow-with-remuneration", source="s").violation("deny") is None
    assert Floor(at_least="allow-with-remuneration", source="s").violation("allow") is not None
    assert Floor(at_most=0.2, source="s").violation("0.25") == "is 0.25, above the ceiling of 0.2"
    assert Floor(equals=True, source="s").violation(False) == "is false, not true"
    with pytest.raises(ValueError, match="exactly one of"):
        Floor(at_least=1, one_of=["a"], source="s")
    with pytest.raises(ValueError, match="preference value"):
        Floor(at_least="lots", source="s")
    with pytest.raises(PydanticCustomError, match="there is no such setting"):
        check({"a": 1}, {"b.c": Floor(at_least=1, source="s")}, [])
    twice = [Override(setting="a", reason="x" * 20), Override(setting="a", reason="y" * 20)]
    with pytest.raises(PydanticCustomError, match="once"):
        check({"a": 0}, {"a": Floor(at_least=1, source="s")}, twice)
    assert layer({"a": {"x": [1, 2]}, "b": 1}, {"a": {"x": [3]}}) == {"a": {"x": [3]}, "b": 1}
