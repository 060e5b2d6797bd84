"""From fingerprint hits to verified passages: where a query and a registered text share their wording.

A winnowed fingerprint shared by two texts is a *hint*, not a proof: the k-gram may be a common phrase, and
a 64-bit hash can collide. So every hit is checked against the token hashes of both texts: along the hit's
diagonal (query position minus work position) the run of equal tokens around it is found, which gives its
exact extent. Runs are then chained into passages: a word substituted, inserted or deleted breaks a run,
but the next run continues on (nearly) the same diagonal, and a chain tolerates gaps of up to ``max_gap``
tokens. A passage is reported with the number of tokens that really are equal on both sides, so a chain of
scattered common phrases never passes for a copied paragraph.

Everything here is token positions; the caller maps them to character offsets.

Example:
    >>> import numpy as np
    >>> q = np.array([9, 1, 2, 3, 4, 5, 6, 9], dtype=np.uint64)
    >>> w = np.array([1, 2, 3, 7, 5, 6], dtype=np.uint64)
    >>> [(p.query_start, p.query_end, p.work_start, p.work_end, p.matched)
    ...  for p in passages(q, w, np.array([1, 5]), np.array([0, 4]), min_run=2, max_gap=2)]
    [(1, 7, 0, 6, 5)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.unsignedinteger[Any]]

WINDOW = 4096
"""How far a run is followed from its outermost hit, in tokens; a longer run is cut there (and its next
hit continues it), which bounds the work per diagonal on book-length texts."""


@dataclass(frozen=True, slots=True)
class Passage:
    query_start: int  # token positions, end exclusive
    query_end: int
    work_start: int
    work_end: int
    matched: int  # tokens equal in both texts within the passage


def _runs_on_diagonal(
    q: U64, w: U64, d: int, qhits: I64, min_run: int
) -> list[tuple[int, int]]:  # fmt: skip
    """Maximal runs of equal tokens along diagonal ``d`` that contain a hit, as query ``(start, end)``."""
    lo = max(0, d, int(qhits.min()) - WINDOW)
    hi = min(q.size, w.size + d, int(qhits.max()) + WINDOW)
    if hi <= lo:
        return []
    eq = q[lo:hi] == w[lo - d : hi - d]
    edges = np.diff(eq.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    which = np.searchsorted(starts, qhits - lo, side="right") - 1
    which = np.unique(which[which >= 0])
    out = []
    for i in which.tolist():
        s, e = int(starts[i]), int(ends[i])
        if e - s >= min_run:
            out.append((s + lo, e + lo))
    return out


def shared_tokens_bound(
    query_tokens: U64,
    flat_tokens: U64,
    lo: I64,
    hi: I64,
    query_pos: I64,
    flat_pos: I64,
    group: I64,
    groups: int,
    cap: int,
) -> I64:
    """For each of ``groups`` candidate works, an upper bound of the tokens any of its passages can match, or
    more than ``cap`` where it may be longer: what lets a caller skip :func:`passages` for the works that share
    only a few stock phrases with the query, all of them at once.

    Hit ``i`` is at query position ``query_pos[i]`` and at ``flat_pos[i]`` in ``flat_tokens``, the tokens of
    every work end to end, where its work (candidate ``group[i]``) spans ``flat_tokens[lo[i]:hi[i]]``. A
    passage is made of runs of equal tokens that contain a hit (:func:`_runs_on_diagonal`), so the sum of the
    distinct runs through a work's hits bounds what its passages match. Each run is followed at most ``cap``
    tokens either side of its hit: one that goes on further is longer than ``cap`` and counted as ``cap + 1``.
    """
    steps = np.arange(-cap, cap + 1, dtype=np.int64)
    qi = query_pos[:, None] + steps
    fi = flat_pos[:, None] + steps
    inside = (qi >= 0) & (qi < query_tokens.size) & (fi >= lo[:, None]) & (fi < hi[:, None])
    qt = query_tokens[np.clip(qi, 0, max(0, query_tokens.size - 1))]
    ft = flat_tokens[np.clip(fi, 0, max(0, flat_tokens.size - 1))]
    eq = inside & (qt == ft)
    right, left = eq[:, cap:], eq[:, cap::-1]  # from the hit outwards, the hit itself first
    r = np.where(right.all(axis=1), cap + 1, np.argmin(right, axis=1))
    lft = np.where(left.all(axis=1), cap + 1, np.argmin(left, axis=1))
    length = np.maximum(0, np.minimum(cap + 1, r + lft - 1))
    start = query_pos - np.maximum(lft - 1, 0)
    diagonal = query_pos - flat_pos  # a run is one (work, diagonal, start): several hits on it count it once
    _, distinct = np.unique(np.stack([group, diagonal, start]), axis=1, return_index=True)
    return np.bincount(group[distinct], weights=length[distinct], minlength=groups).astype(np.int64)


def passages(
    query_tokens: U64,
    work_tokens: U64,
    query_pos: I64,
    work_pos: I64,
    *,
    min_run: int,
    max_gap: int,
) -> list[Passage]:
    """Verified passages shared by a query and one work, from the positions of their shared fingerprints.

    ``query_pos[i]`` and ``work_pos[i]`` are the token positions of one shared k-gram. Runs shorter than
    ``min_run`` tokens (a fingerprint collision, or a hit that does not verify) are dropped.
    """
    diag = query_pos.astype(np.int64) - work_pos.astype(np.int64)
    order = np.argsort(diag, kind="stable")
    diag, qp = diag[order], query_pos[order].astype(np.int64)
    bounds = np.flatnonzero(np.diff(diag)) + 1
    runs: list[tuple[int, int, int]] = []  # (query start, query end, diagonal)
    for group_q, group_d in zip(np.split(qp, bounds), np.split(diag, bounds), strict=True):
        d = int(group_d[0])
        runs.extend((s, e, d) for s, e in _runs_on_diagonal(query_tokens, work_tokens, d, group_q, min_run))
    if not runs:
        return []
    runs = sorted(set(runs))
    out: list[Passage] = []
    qs, qe, d0 = runs[0]
    ws, we, matched = qs - d0, qe - d0, qe - qs
    for s, e, d in runs[1:]:
        rs, re_ = s - d, e - d
        if s - qe <= max_gap and -max_gap <= rs - we <= max_gap:
            matched += max(0, e - max(s, qe))
            qe, we, ws = max(qe, e), max(we, re_), min(ws, rs)
            continue
        out.append(Passage(qs, qe, ws, we, matched))
        qs, qe, ws, we, matched = s, e, rs, re_, e - s
    out.append(Passage(qs, qe, ws, we, matched))
    return out
