"""copyalign: copyright alignment for generative AI.

A registry of works with AI-use preferences, a verifiable transparency log of every event, and the
training- and deployment-phase duties built on them. Start with :func:`connect`.

The top-level names load lazily, so ``import copyalign.core`` stays free of the database and web stacks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from copyalign.context import Copyalign, connect
    from copyalign.errors import CopyalignError
    from copyalign.settings import Settings

_LAZY = {
    "Copyalign": "copyalign.context",
    "connect": "copyalign.context",
    "CopyalignError": "copyalign.errors",
    "Settings": "copyalign.settings",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    if name == "match":
        import importlib

        return importlib.import_module("copyalign.match")
    raise AttributeError(f"module 'copyalign' has no attribute {name!r}")


__all__ = ["Copyalign", "CopyalignError", "Settings", "__version__", "connect"]
