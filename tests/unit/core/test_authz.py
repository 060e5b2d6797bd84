from __future__ import annotations

import pytest

from copyalign.core.authz import MATRIX, Action, Grant, Role, allowed, require
from copyalign.errors import PermissionDeniedError


def test_matrix_is_complete() -> None:
    assert set(MATRIX) == set(Action)
    assert all(set(row) == set(Role) for row in MATRIX.values())


def test_only_holders_and_the_operator_register_works() -> None:
    for role in Role:
        expect = role in (Role.OPERATOR, Role.RIGHTS_HOLDER)
        assert allowed(role, Action.WORK_REGISTER, owner=True) is expect
    assert not allowed(Role.RIGHTS_HOLDER, Action.WORK_REGISTER, owner=False)
    assert allowed(Role.OPERATOR, Action.WORK_REGISTER, owner=False)


def test_require_says_role_and_action_in_words_and_keeps_the_codes() -> None:
    with pytest.raises(PermissionDeniedError, match="an AI developer may not register works") as info:
        require(Role.DEVELOPER, Action.WORK_REGISTER, owner=True)
    assert info.value.to_dict()["action"] == "work.register" and info.value.to_dict()["role"] == "developer"
    with pytest.raises(PermissionDeniedError, match="a rights holder may change only its own works"):
        require(Role.RIGHTS_HOLDER, Action.WORK_UPDATE, owner=False)
    with pytest.raises(PermissionDeniedError, match="a rights holder may not read invoices"):
        require(Role.RIGHTS_HOLDER, Action.INVOICE_READ, owner=True)


def test_every_action_is_said_in_words() -> None:
    from copyalign.core.authz import ACTION_WORDS

    assert set(ACTION_WORDS) == set(Action)


def test_any_implies_own() -> None:
    for row in MATRIX.values():
        for role, grant in row.items():
            if grant is Grant.ANY:
                assert allowed(role, next(a for a in MATRIX if MATRIX[a] is row), owner=True)


def test_the_matrix_grants_exactly_the_documented_rights() -> None:
    # the oracle is tests/rights.py, written from the README and DESIGN, not from this module
    from tests.rights import EXPECTED

    assert set(EXPECTED) == {a.value for a in Action}
    for action in Action:
        for role in Role:
            got = (allowed(role, action, owner=True), allowed(role, action, owner=False))
            assert got == EXPECTED[action.value][role.value], (action.value, role.value)
