"""One exception root: the tree drawn in ``copyalign.errors``' docstring is the tree of classes, with the HTTP
status each answers with, and no module of the package defines an exception outside it."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import copyalign
from copyalign import errors

LINE = re.compile(r"^    (?P<indent>(?:│   |    )*)(?:[├└]── )?(?P<name>\w+Error)\s+(?P<status>\d{3})\s")


def _drawn() -> dict[str, tuple[str | None, int]]:
    """name -> (parent name, status), read off the docstring's tree."""
    out: dict[str, tuple[str | None, int]] = {}
    stack: list[str] = []
    for line in (errors.__doc__ or "").splitlines():
        m = LINE.match(line)
        if not m:
            continue
        depth = len(m["indent"]) // 4 + (0 if line.lstrip().startswith(m["name"]) else 1)
        del stack[depth:]
        out[m["name"]] = (stack[-1] if stack else None, int(m["status"]))
        stack.append(m["name"])
    return out


def _classes() -> dict[str, type[errors.CopyalignError]]:
    return {
        name: cls
        for name, cls in vars(errors).items()
        if inspect.isclass(cls) and issubclass(cls, errors.CopyalignError)
    }


def test_the_docstring_draws_every_error_class_with_its_parent_and_status() -> None:
    drawn, classes = _drawn(), _classes()
    assert set(drawn) == set(classes)
    for name, (parent, status) in drawn.items():
        cls = classes[name]
        assert cls.status == status, name
        if parent is None:
            assert cls is errors.CopyalignError
        else:
            assert cls.__bases__ == (classes[parent],), name


def test_every_exception_the_package_defines_is_under_the_root() -> None:
    outside = []
    for info in pkgutil.walk_packages(copyalign.__path__, "copyalign."):
        if ".migrations" in info.name:
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and obj.__module__ == module.__name__
                and issubclass(obj, BaseException)
                and not issubclass(obj, errors.CopyalignError)
            ):
                outside.append(f"{module.__name__}.{name}")
    assert outside == []


def test_an_item_error_answers_with_its_cause() -> None:
    cause = errors.UnsupportedContentError("not an image", field="content")
    err = errors.ItemError(2, cause)
    assert (err.status, err.code, err.field) == (415, "unsupported_content", "content")
    assert err.to_dict() == {
        "code": "unsupported_content",
        "message": "item 3: not an image",
        "field": "content",
        "index": 2,
    }
    assert isinstance(err, errors.CopyalignError)


def test_a_rate_limit_says_when_to_retry() -> None:
    err = errors.RateLimitedError("too many notices from this address", retry_after=60)
    assert err.status == 429 and err.to_dict()["retry_after"] == 60
