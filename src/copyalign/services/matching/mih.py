"""Multi-index hashing (Norouzi et al. 2012) over a segment's PDQ hashes: every stored hash within 31 bits of
a query hash, without a scan.

A hash within distance ``r`` of the query agrees with it to within ``r // m`` bits on at least one of ``m``
chunks (pigeonhole), so probing each chunk's sorted column with the query's chunk value and its near variants
finds every such hash; the candidates are then checked at full length. Two layouts, chosen by a segment's size:

* up to :data:`MIH_WIDE_MIN` hashes, 16 chunks of 16 bits (``mih_value``, ``mih_order`` and, from
  :data:`MIH_TABLE_MIN`, a bucket table ``mih_table``): a chunk's value and its 16 one-bit variants;
* above it, 11 chunks of 23-24 bits (``mihw_value``, ``mihw_order``, ``mihw_table``): a chunk's value and its
  up to 300 one- and two-bit variants, whose buckets stay small as the segment grows.

The compiled kernels (``mih_search``, ``mih_wide_search``) and the numpy code here answer the same, and the
tests hold each to a full scan.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from copyalign.core.kernels import native

MIH_CHUNKS = 16
MIH_TABLE_MIN = 1 << 16
"""From this many image hashes on, a segment keeps per-chunk bucket tables (16 x 65537 int32, 4 MiB) so
that probing costs two lookups instead of two binary searches over millions of entries."""
MIH_WIDE_MIN = 1 << 19
"""From this many image hashes on, a segment cuts them into the 11 wide chunks of :data:`WIDE_WIDTHS` instead
of 16 chunks of 16 bits. A 16-bit bucket holds n / 65,536 rows, so a search reads a number of rows that grows
with the segment (at radius 31, 272 buckets: 79,000 rows at 1.9 x 10^7 hashes); a 23-bit bucket holds
n / 2^23, for ~3,000 probes that each cost a few reads whatever n is. The two cost the same near 4 x 10^5
hashes; at 10^7 the wide layout answers in a third of the time (``benchmarks/matching_speed.py --only
image-query`` times both)."""
WIDE_WIDTHS = (24, 24, 24, 23, 23, 23, 23, 23, 23, 23, 23)
"""The wide layout's chunk widths, most significant first (256 bits; the kernel has the same table). With 11
chunks, at most 32 differing bits leave some chunk with at most two, so the probes of a chunk are its value
and every variant one or two bits away."""
WIDE_OFFSETS = tuple(sum(WIDE_WIDTHS[:c]) for c in range(len(WIDE_WIDTHS)))
_FLIPS = np.array([0] + [1 << b for b in range(16)], dtype=np.uint16)


def ranges(sorted_keys: np.ndarray, probes: np.ndarray) -> np.ndarray:
    """Indexes into ``sorted_keys`` of every element equal to one of ``probes`` (with repeats per probe)."""
    lo = np.searchsorted(sorted_keys, probes, side="left")
    hi = np.searchsorted(sorted_keys, probes, side="right")
    return expand(lo, hi)


def expand(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Every index in the half-open ranges ``[lo[i], hi[i])``, concatenated."""
    counts = hi - lo
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    starts = np.repeat(lo - (np.cumsum(counts) - counts), counts)
    return starts + np.arange(total, dtype=np.int64)


def chunks(words: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint16]:
    """(n, 4) uint64 -> (16, n) uint16 chunk columns, most significant chunk first."""
    shifts = np.array([48, 32, 16, 0], dtype=np.uint64)
    parts = (words[:, :, None] >> shifts[None, None, :]) & np.uint64(0xFFFF)
    return parts.reshape(words.shape[0], MIH_CHUNKS).T.astype(np.uint16)


def wide_chunk(words: npt.NDArray[np.uint64], c: int) -> npt.NDArray[np.uint32]:
    """(n, 4) uint64 -> (n,) uint32: chunk ``c`` of :data:`WIDE_WIDTHS`, which may straddle two words."""
    i, b = divmod(WIDE_OFFSETS[c], 64)
    width = WIDE_WIDTHS[c]
    if b + width <= 64:
        v = words[:, i] >> np.uint64(64 - b - width)
    else:
        v = (words[:, i] << np.uint64(b + width - 64)) | (words[:, i + 1] >> np.uint64(128 - b - width))
    return (v & np.uint64((1 << width) - 1)).astype(np.uint32)


def wide_chunks(words: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint32]:
    """(n, 4) uint64 -> (11, n) uint32, every chunk of :data:`WIDE_WIDTHS`."""
    words = np.asarray(words, dtype=np.uint64)
    return np.stack([wide_chunk(words, c) for c in range(len(WIDE_WIDTHS))])


def wide_masks(width: int, flips: int) -> npt.NDArray[np.uint32]:
    """0, then every mask of one set bit (flips >= 1), then of two (flips >= 2), within ``width`` bits."""
    masks = [0]
    if flips >= 1:
        masks += [1 << i for i in range(width)]
    if flips >= 2:
        masks += [(1 << i) | (1 << j) for i in range(width) for j in range(i + 1, width)]
    return np.array(masks, dtype=np.uint32)


def wide_bits(n: int) -> int:
    """Prefix bits of the wide layout's bucket tables: ~4 rows per bucket, from 2^16 to 2^23 buckets."""
    return min(min(WIDE_WIDTHS), max(16, n.bit_length() - 3))


def narrow_index(pdq: npt.NDArray[np.uint64]) -> dict[str, np.ndarray]:
    """The 16 x 16-bit layout's arrays: per chunk the sorted values and their rows, and from
    :data:`MIH_TABLE_MIN` hashes on a bucket table per chunk value."""
    cols = chunks(pdq)
    order = np.argsort(cols, axis=1, kind="stable").astype(np.int32)
    out: dict[str, np.ndarray] = {"mih_order": order, "mih_value": np.take_along_axis(cols, order, axis=1)}
    if pdq.shape[0] >= MIH_TABLE_MIN:
        # bucket starts per chunk value: a probe is two lookups instead of two binary searches
        values = np.arange((1 << 16) + 1, dtype=np.int64)  # bucket v is [table[v], table[v + 1])
        out["mih_table"] = np.stack(
            [np.searchsorted(out["mih_value"][c], values, side="left") for c in range(MIH_CHUNKS)]
        ).astype(np.int32)
    return out


def wide_index(pdq: npt.NDArray[np.uint64]) -> dict[str, np.ndarray]:
    """The wide layout's arrays: per chunk the sorted values, their rows, and the prefix bucket table."""
    pdq = np.asarray(pdq, dtype=np.uint64)
    n, m = pdq.shape[0], len(WIDE_WIDTHS)
    bits = wide_bits(n)
    rows = np.arange(n, dtype=np.uint64)
    value = np.empty((m, n), dtype=np.uint32)
    order = np.empty((m, n), dtype=np.int32)
    table = np.empty((m, (1 << bits) + 1), dtype=np.int32)
    for c in range(m):  # a chunk at a time: at 5.7 x 10^7 hashes all eleven would be 2.5 GB more
        chunk = wide_chunk(pdq, c)
        # one sort of (value, row) keys: unique, so any sort gives the same order, and numpy's is vectorised
        key = np.sort((chunk.astype(np.uint64) << np.uint64(32)) | rows)
        value[c] = key >> np.uint64(32)
        order[c] = key & np.uint64(0xFFFFFFFF)
        table[c, 0] = 0
        np.cumsum(np.bincount(value[c] >> (WIDE_WIDTHS[c] - bits), minlength=1 << bits), out=table[c, 1:])
    return {"mihw_value": value, "mihw_order": order, "mihw_table": table}


def within(
    pdq: np.ndarray, rows_all: list[np.ndarray], query: npt.NDArray[np.uint64], max_distance: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, query row, distance) of the candidate rows within ``max_distance`` of a query hash, each once."""
    if not rows_all:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty
    rows = np.sort(np.concatenate(rows_all))
    rows = rows[np.concatenate(([True], rows[1:] != rows[:-1]))]  # unique; np.unique is 15x slower here
    cols = np.ascontiguousarray(np.asarray(pdq[rows]).T)  # (4, m): one popcount pass per word
    dist = np.empty((query.shape[0], rows.size), dtype=np.uint16)
    for i in range(query.shape[0]):
        acc = np.bitwise_count(cols[0] ^ query[i, 0]).astype(np.uint16)
        for j in range(1, 4):
            acc += np.bitwise_count(cols[j] ^ query[i, j])
        dist[i] = acc
    qi, r = np.nonzero(dist <= max_distance)
    return rows[r].astype(np.int64), qi.astype(np.int64), dist[qi, r].astype(np.int64)


def index(pdq: npt.NDArray[np.uint64]) -> dict[str, np.ndarray]:
    """The arrays of the layout that suits this many hashes."""
    return wide_index(pdq) if pdq.shape[0] >= MIH_WIDE_MIN else narrow_index(pdq)


def candidates(
    a: dict[str, np.ndarray], query: npt.NDArray[np.uint64], max_distance: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hash row, query row, distance) of every hash of ``a["pdq"]`` within ``max_distance`` (< 32) of a query
    hash, each pair once."""
    if a["pdq"].shape[0] == 0 or query.shape[0] == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty
    if max_distance >= 2 * MIH_CHUNKS:
        raise ValueError("multi-index probing supports distances below 32")
    query = np.ascontiguousarray(query, dtype=np.uint64)
    if "mihw_order" in a:
        return _wide_candidates(a, query, max_distance)
    table = a.get("mih_table")
    if native is not None and table is not None:
        found = native.mih_search(a["pdq"], table, a["mih_order"], query, max_distance)
        rows, qi, dist = (np.frombuffer(b, dtype=np.int64) for b in found)
        return rows, qi, dist
    flips = _FLIPS if max_distance >= MIH_CHUNKS else _FLIPS[:1]
    qchunks = chunks(query)  # (16, q)
    rows_all = []
    for c in range(MIH_CHUNKS):
        probes = (qchunks[c][:, None] ^ flips[None, :]).reshape(-1)
        if table is not None:
            p = probes.astype(np.int64)
            hit = expand(table[c][p], table[c][p + 1])
        else:
            hit = ranges(a["mih_value"][c], probes)
        if hit.size:
            rows_all.append(np.asarray(a["mih_order"][c])[hit])
    return within(a["pdq"], rows_all, query, max_distance)


def _wide_candidates(
    a: dict[str, np.ndarray], query: npt.NDArray[np.uint64], max_distance: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    table = a["mihw_table"]
    if native is not None:
        bits = (table.shape[1] - 1).bit_length() - 1
        found = native.mih_wide_search(a["pdq"], table, a["mihw_order"], a["mihw_value"], query, max_distance, bits)
        rows, qi, dist = (np.frombuffer(b, dtype=np.int64) for b in found)
        return rows, qi, dist
    flips = max_distance // len(WIDE_WIDTHS)
    qchunks = wide_chunks(query)
    rows_all = []
    for c, width in enumerate(WIDE_WIDTHS):
        probes = (qchunks[c][:, None] ^ wide_masks(width, flips)[None, :]).reshape(-1)
        hit = ranges(a["mihw_value"][c], probes)
        if hit.size:
            rows_all.append(np.asarray(a["mihw_order"][c])[hit])
    return within(a["pdq"], rows_all, query, max_distance)
