"""The fast canonical JSON is RFC 8785 exactly, for everything it accepts."""

from __future__ import annotations

import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from copyalign.core.canonical import canonical

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False)
)
keys = st.text(max_size=8) | st.text(alphabet=st.characters(max_codepoint=127), max_size=8)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4)
)


@given(st.dictionaries(keys, json_values, max_size=6))
def test_equals_rfc8785(obj: dict) -> None:
    assert canonical(obj) == rfc8785.dumps(obj)


def test_out_of_domain_values_are_refused_like_rfc8785() -> None:
    import pytest

    for bad in ({"n": 2**53}, {"x": float("inf")}):
        with pytest.raises(rfc8785.CanonicalizationError):
            canonical(bad)
