"""Verifying a whole log: every entry well-formed, none missing, and all hashing to the signed roots.

This is what an auditor runs, offline, on an exported bundle (or the operator on its own database). It
replays the entries into a Merkle frontier and compares the root at every signed checkpoint size, so a
tampered, dropped, inserted or reordered entry is caught. Where per-entry leaf hashes are available from a
second source (the database's stored leaf nodes, or an earlier bundle the auditor kept) the first bad index
is exact; otherwise it is the start of the first checkpoint range whose root does not match.

Example:
    >>> verify_log([], [], []).entries
    0
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from copyalign.core.log import merkle
from copyalign.core.log.checkpoint import Checkpoint, NoteVerifier, open_note
from copyalign.core.log.entry import check_entry
from copyalign.errors import VerificationError


@dataclass(frozen=True, slots=True)
class LogReport:
    entries: int
    checkpoints: tuple[Checkpoint, ...]
    root: bytes


def verify_log(
    entries: Iterable[tuple[int, bytes]],
    notes: Sequence[bytes],
    verifiers: Sequence[NoteVerifier],
    *,
    expected_leaf: Callable[[int], bytes | None] | None = None,
) -> LogReport:
    """Replay ``entries`` (index, bytes), in order, against the signed checkpoint ``notes``.

    Raises :class:`VerificationError` with ``index`` set to the first bad entry (or the start of the first
    bad checkpoint range).
    """
    checkpoints = sorted((open_note(n, verifiers) for n in notes), key=lambda c: c.size)
    for a, b in zip(checkpoints, checkpoints[1:], strict=False):
        if a.size == b.size and a.root != b.root:
            raise VerificationError(
                f"two signed checkpoints of size {a.size} with different roots (a fork)", index=a.size
            )
    pending = [c for c in checkpoints if c.size > 0]
    for c in checkpoints:
        if c.size == 0 and c.root != merkle.EMPTY_ROOT:
            raise VerificationError("the signed root of the empty tree is wrong", index=0)
    size = 0
    frontier: list[bytes] = []
    range_start = 0
    for index, data in entries:
        if index != size:
            what = "missing" if index > size else "duplicated or out of order"
            raise VerificationError(f"entry {size} is {what} (next entry has index {index})", index=size)
        check_entry(index, data)
        leaf = merkle.leaf_hash(data)
        if expected_leaf is not None:
            want = expected_leaf(index)
            if want is not None and want != leaf:
                raise VerificationError(f"entry {index} does not hash to its recorded leaf", index=index)
        result = merkle.append_leaves(size, frontier, [leaf])
        size, frontier = result.new_size, result.frontier
        while pending and pending[0].size == size:
            cp = pending.pop(0)
            if merkle.root_from_frontier(size, frontier) != cp.root:
                raise VerificationError(
                    f"entries {range_start}..{size - 1} do not hash to the signed root of size {size}",
                    index=range_start,
                )
            range_start = size
    if pending:
        raise VerificationError(
            f"a checkpoint of size {pending[0].size} is signed but only {size} entries were served",
            index=size,
        )
    return LogReport(size, tuple(checkpoints), merkle.root_from_frontier(size, frontier))


def first_divergence(ours: Iterable[tuple[int, bytes]], theirs: Iterable[tuple[int, bytes]]) -> int | None:
    """The first index where two copies of a log disagree (a fork), or ``None`` if one extends the other."""
    for (i, a), (j, b) in zip(ours, theirs, strict=False):
        if i != j or a != b:
            return min(i, j)
    return None
