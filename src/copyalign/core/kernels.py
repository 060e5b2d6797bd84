"""The compiled kernels of ``_kernels.c``, or ``None`` where the package was built without a C compiler.

Every caller keeps a numpy or Python path that gives the same results (the tests compare both), so the
extension changes speed, never answers.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from copyalign.core import _kernels as native
else:
    try:
        from copyalign.core import _kernels as native
    except ImportError:  # no compiler at install time
        native = None

__all__ = ["native"]
