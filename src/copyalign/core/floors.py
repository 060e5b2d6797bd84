"""Legal floors, explicit overrides, and layering an operator's file over its jurisdiction's preset.

An operator's policy file must not weaken its jurisdiction's rule by what it leaves out or by a number typed
too low. Two mechanisms see to it:

* **Layering** — a file that names a jurisdiction with a preset (``cn``, ``eu``, ``jp``, ``us``) is read *over*
  that preset: every table it omits, and every key it omits inside a table, keeps the preset's value (a CN file
  that sets only ``train-ai`` keeps the preset's ``train-genai = "allow-with-remuneration"``). Arrays are
  replaced whole (a file that lists tariffs lists all of them).
* **Floors** — each preset declares, in its ``[floors]`` table, the settings its law bounds and the bound, with
  the source (CN: ``licensing.minimum_window_days`` at least 30, seed 001 §3.2). A profile whose value goes
  below a floor is refused, unless it carries an ``[[overrides]]`` entry naming the setting with a reason; an
  override is shown by ``copyalign policy show``, on the portal, and on every notice issued under the profile
  (whose log entry carries it). A file cannot lower or drop a preset's floor, and an override that overrides
  nothing is refused too, so that every override on record is a real departure.

Example:
    >>> f = Floor(at_least=30, source="seed 001 §3.2")
    >>> f.violation(14)
    'is 14, below the floor of 30'
    >>> layer({"a": {"x": 1, "y": 2}}, {"a": {"y": 3}})
    {'a': {'x': 1, 'y': 3}}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from copyalign.errors import ConfigurationError

#: Preference values from the weakest to the strongest protection (a floor of allow-with-remuneration admits
#: allow-with-remuneration and deny, never allow).
VALUE_ORDER = ("allow", "allow-with-remuneration", "deny")


FLOOR_ERROR = "policy_floor"


def floor_error(setting: str, message: str) -> PydanticCustomError:
    """A floor breached without an override: a ValueError for pydantic (core raises only copyalign errors, pydantic
    validators excepted) whose context names the setting, which ``parse_policy`` reports as the field."""
    return PydanticCustomError(FLOOR_ERROR, "{message}", {"message": message, "setting": setting})


class Floor(BaseModel):
    """One legal bound on one setting: exactly one of ``at_least``, ``at_most``, ``one_of``, ``equals``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at_least: int | float | str | None = None
    at_most: int | float | None = None
    one_of: list[str] | None = None
    equals: bool | str | None = None
    source: str = Field(min_length=1, max_length=300)

    @model_validator(mode="after")
    def _one_kind(self) -> Floor:
        kinds = [k for k in ("at_least", "at_most", "one_of", "equals") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("a floor has exactly one of at_least, at_most, one_of, equals")
        if isinstance(self.at_least, str) and self.at_least not in VALUE_ORDER:
            raise ValueError(f"at_least names a number or a preference value ({', '.join(VALUE_ORDER)})")
        return self

    def describe(self) -> str:
        if self.at_least is not None:
            return f"at least {self.at_least}"
        if self.at_most is not None:
            return f"at most {self.at_most}"
        if self.one_of is not None:
            return f"one of {', '.join(self.one_of)}"
        return f"equal to {_show(self.equals)}"

    def violation(self, value: Any) -> str | None:
        """Why ``value`` breaches the floor, or None when it keeps it."""
        shown = _show(value)
        if self.at_least is not None:
            if isinstance(self.at_least, str):
                rank = VALUE_ORDER.index(value) if value in VALUE_ORDER else -1
                ok = rank >= VALUE_ORDER.index(self.at_least)
                return None if ok else f"is {shown}, weaker than the floor of {self.at_least}"
            number, bound = _number(value), Decimal(str(self.at_least))
            return None if number is not None and number >= bound else f"is {shown}, below the floor of {bound}"
        if self.at_most is not None:
            number, bound = _number(value), Decimal(str(self.at_most))
            return None if number is not None and number <= bound else f"is {shown}, above the ceiling of {bound}"
        if self.one_of is not None:
            return None if value in self.one_of else f"is {shown}, not one of {', '.join(self.one_of)}"
        return None if value == self.equals else f"is {shown}, not {_show(self.equals)}"


class Override(BaseModel):
    """An operator's explicit departure from a floor, with its reason."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    setting: str = Field(min_length=1, max_length=120)
    reason: str = Field(min_length=20, max_length=2000, description="Why the profile departs from the floor.")


@dataclass(frozen=True, slots=True)
class Departure:
    """An override in force: the setting, its value, the floor it departs from and why."""

    setting: str
    value: Any
    floor: str
    source: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"setting": self.setting, "value": self.value, "floor": self.floor, "source": self.source,
                "reason": self.reason}  # fmt: skip


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


_MISSING = object()


def lookup(data: Mapping[str, Any], dotted: str) -> Any:
    """The value at ``a.b.c`` (``preferences.defaults.train-ai``) in nested mappings; :data:`_MISSING` when
    there is none."""
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def check(values: Mapping[str, Any], floors: Mapping[str, Floor], overrides: list[Override]) -> list[Departure]:
    """The departures the overrides allow; raises :func:`floor_error` for a floor breached without an override,
    a floor on an unknown setting, or an override that departs from nothing."""
    by_setting = {o.setting: o for o in overrides}
    if len(by_setting) != len(overrides):
        raise floor_error("overrides", "each setting may be overridden once")
    departures: list[Departure] = []
    for setting, floor in sorted(floors.items()):
        value = lookup(values, setting)
        if value is _MISSING:
            raise floor_error(setting, f"floor on {setting}: there is no such setting")
        why = floor.violation(value)
        override = by_setting.pop(setting, None)
        if why is None:
            if override is not None:
                raise floor_error(
                    setting, f"override of {setting}: its value keeps the floor ({floor.describe()}); remove it"
                )
            continue
        if override is None:
            raise floor_error(
                setting,
                f"{setting} {why} ({floor.source}); to depart from it, add an [[overrides]] entry with "
                f'setting = "{setting}" and a reason',
            )
        departures.append(Departure(setting, value, floor.describe(), floor.source, override.reason))
    if by_setting:
        setting = sorted(by_setting)[0]
        raise floor_error(setting, f"override of {setting}: no floor of this jurisdiction bounds it")
    return departures


def layer(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` read on top of ``base``: tables merge key by key, everything else (arrays included) replaces."""
    out = dict(base)
    for key, value in over.items():
        below = out.get(key)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            out[key] = layer(below, value)
        else:
            out[key] = value
    return out


def layer_over_preset(preset: Mapping[str, Any], file: Mapping[str, Any], *, origin: str) -> dict[str, Any]:
    """An operator's file over its jurisdiction's preset; a file may add floors, never change the preset's."""
    if "overrides" in preset:
        raise ConfigurationError(f"{origin}: a preset declares floors, never overrides")
    theirs = preset.get("floors", {})
    mine = file.get("floors", {})
    if not isinstance(mine, Mapping):
        raise ConfigurationError(f"{origin}: floors must be a table", field="floors")
    for setting, floor in mine.items():
        if setting in theirs and floor != theirs[setting]:
            raise ConfigurationError(
                f"{origin}: floors.{setting}: the floor comes from the jurisdiction's preset and cannot be changed "
                "here; to depart from it, add an [[overrides]] entry with a reason",
                field=f"floors.{setting}",
            )
    return layer(preset, file)


__all__ = [
    "FLOOR_ERROR",
    "VALUE_ORDER",
    "Departure",
    "Floor",
    "Override",
    "check",
    "floor_error",
    "layer",
    "layer_over_preset",
    "lookup",
]
