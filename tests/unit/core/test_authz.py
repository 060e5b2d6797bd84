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


def test_require_names_role_and_action() -> None:
    with pytest.raises(PermissionDeniedError, match="developer may not perform work.register"):
        require(Role.DEVELOPER, Action.WORK_REGISTER, owner=True)
    with pytest.raises(PermissionDeniedError, match="only on its own"):
        require(Role.RIGHTS_HOLDER, Action.WORK_UPDATE, owner=False)


def test_any_implies_own() -> None:
    for row in MATRIX.values():
        for role, grant in row.items():
            if grant is Grant.ANY:
                assert allowed(role, next(a for a in MATRIX if MATRIX[a] is row), owner=True)
