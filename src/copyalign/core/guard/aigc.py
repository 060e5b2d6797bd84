"""The GB 45438-2025 implicit label: the ``AIGC`` metadata field and its JSON value.

China's Measures for Labeling AI-Generated Synthetic Content and the mandatory national standard GB 45438-2025
ask a provider for an *implicit* label in every generated file's metadata: a field ``AIGC`` whose value is a
JSON object with the keys ``Label`` (``"1"`` generated, ``"2"`` possibly, ``"3"`` suspected),
``ContentProducer``, ``ProduceID``, ``ReservedCode1``, ``ContentPropagator``, ``PropagateID`` and
``ReservedCode2``, all strings. This module is the value; :mod:`.xmp` puts it in an XMP packet and
:mod:`.containers` puts that in a PNG, JPEG or WebP file. Text has no metadata to carry it: it travels beside
the text in the API response (:func:`aigc_for_text`).

Example:
    >>> AigcLabel(label="1", content_producer="Example AI", produce_id="tr_01").to_dict()["ProduceID"]
    'tr_01'
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from copyalign.errors import InvalidInputError

LABEL_GENERATED = "1"
"""GB 45438-2025 ``Label`` value: the content *is* AI-generated (what a generating service writes)."""
LABEL_POSSIBLY = "2"
"""``Label``: the content is possibly AI-generated (a platform that found an explicit label or a user's claim)."""
LABEL_SUSPECTED = "3"
"""``Label``: the content is suspected to be AI-generated (a platform's detector says so)."""
LABEL_VALUES = (LABEL_GENERATED, LABEL_POSSIBLY, LABEL_SUSPECTED)

AIGC_KEY = "AIGC"

_JSON_KEYS = (
    ("label", "Label"),
    ("content_producer", "ContentProducer"),
    ("produce_id", "ProduceID"),
    ("reserved_code1", "ReservedCode1"),
    ("content_propagator", "ContentPropagator"),
    ("propagate_id", "PropagateID"),
    ("reserved_code2", "ReservedCode2"),
)
_REQUIRED_KEYS = ("Label", "ContentProducer", "ProduceID")


@dataclass(frozen=True, slots=True)
class AigcLabel:
    """The GB 45438-2025 implicit label (the ``AIGC`` metadata field); invalid values cannot be built.

    ``produce_id`` carries the generation's trace id; ``reserved_code1`` whatever integrity code the producer
    chooses (opaque here); the propagator fields are for a platform that later distributes the file.
    """

    label: str
    content_producer: str
    produce_id: str
    reserved_code1: str = ""
    content_propagator: str = ""
    propagate_id: str = ""
    reserved_code2: str = ""

    def __post_init__(self) -> None:
        for attr, key in _JSON_KEYS:
            value = getattr(self, attr)
            if not isinstance(value, str):
                raise InvalidInputError(f"{key} must be a string, not {type(value).__name__}", field=key)
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise InvalidInputError(f"{key} is not valid Unicode text", field=key) from exc
        if self.label not in LABEL_VALUES:
            allowed = ", ".join(LABEL_VALUES)
            raise InvalidInputError(f"Label must be one of {allowed}, not {self.label!r}", field="Label")

    def to_dict(self) -> dict[str, str]:
        """The standard's JSON object, keys in the standard's order."""
        return {key: getattr(self, attr) for attr, key in _JSON_KEYS}

    def to_json(self, *, ascii_only: bool = False) -> str:
        """Compact JSON; ``ascii_only`` escapes non-ASCII characters (for an HTTP header)."""
        return json.dumps(self.to_dict(), ensure_ascii=ascii_only, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> AigcLabel:
        """Parse the ``AIGC`` value. ``Label``, ``ContentProducer`` and ``ProduceID`` are required (labels in the
        wild often omit the rest, which default to ""); unknown keys are ignored; integers are accepted for
        strings, as some producers write ``"Label": 1``.

        Raises:
            InvalidInputError: not JSON, not an object, a required key missing, or a value of the wrong type.
        """
        try:
            obj = json.loads(raw)
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(f"the AIGC label is not JSON: {exc}", field=AIGC_KEY) from exc
        if not isinstance(obj, dict):
            raise InvalidInputError("the AIGC label must be a JSON object", field=AIGC_KEY)
        missing = [k for k in _REQUIRED_KEYS if k not in obj]
        if missing:
            raise InvalidInputError(f"the AIGC label lacks {', '.join(missing)}", field=AIGC_KEY)
        values: dict[str, str] = {}
        for attr, key in _JSON_KEYS:
            value = obj.get(key, "")
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            if not isinstance(value, str):
                raise InvalidInputError(f"{key} must be a string", field=key)
            values[attr] = value
        return cls(**values)


def aigc_for_text(label: AigcLabel) -> dict[str, str]:
    """The implicit label of a text output, which has no file metadata: ``{"AIGC": <JSON>}``, to merge into the
    HTTP response headers or the response's metadata object. The JSON is ASCII (non-ASCII escaped) so it is a
    valid header value; :meth:`AigcLabel.from_json` reads it back."""
    return {AIGC_KEY: label.to_json(ascii_only=True)}


__all__ = [
    "AIGC_KEY",
    "LABEL_GENERATED",
    "LABEL_POSSIBLY",
    "LABEL_SUSPECTED",
    "LABEL_VALUES",
    "AigcLabel",
    "aigc_for_text",
]
