"""The rest of a registered work's ISCC-CODE (ISO 24138), bit-identical to iscc-core and without its codec.

A work's ISCC-CODE joins three 64-bit units: its Content-Code (:mod:`~copyalign.core.registry.iscc`,
:mod:`~copyalign.core.registry.iscc_image`), its Data-Code (a MinHash of the xxh32 of content-defined chunks
of the bytes) and its Instance-Code (BLAKE3 of the bytes). Through iscc-core that took ~0.45 ms per 2 KB work,
as much as the Text-Code itself: its chunker reads a pydantic option per byte, and each unit is encoded to
base32 and decoded again to be combined. Here the digests are computed directly (the chunking and MinHash in
the compiled kernels where they are built; iscc-core's own ``soft_hash_data_v0`` otherwise) and the code is its
header, taken once from iscc-core for each content type, and the three digests.

``tests/unit/core/test_iscc_code.py`` holds every function to iscc-core on generated data.

Example:
    >>> from copyalign.core.registry.iscc import soft_hash_text, text_collapse
    >>> iscc_code(ic.ST_CC.TEXT, soft_hash_text(text_collapse("Hello World")), b"Hello World")
    'ISCC:KAASKDNZNYGUUF5AN3WLDFTHCO4KIQPYHFARD23RHI'
"""

from __future__ import annotations

import io
from functools import cache

import iscc_core as ic
import numpy as np
from blake3 import blake3
from iscc_core.cdc import alg_cdc_params

from copyalign.core.kernels import native
from copyalign.core.registry.iscc import MPA, MPB, minhash_digest

__all__ = ["data_digest", "instance_digest", "iscc_code"]

_GEAR = np.array(ic.core_opts.cdc_gear, dtype=np.uint32)  # iscc-core's gear table: every entry below 2**32
# the chunk sizes (smallest, largest, where the mask changes) and the two masks
_MIN, _MAX, _CENTER, _MASK_S, _MASK_L = (int(v) for v in alg_cdc_params(ic.core_opts.data_avg_chunk_size))
_ONE_READ = int(ic.core_opts.io_read_size)  # iscc-core reads (and chunks) larger data in pieces of this size


def data_digest(data: bytes) -> bytes:
    """``iscc_core.soft_hash_data_v0`` of ``data``: the 256-bit digest of its Data-Code."""
    if native is None or len(data) > _ONE_READ:
        return bytes(ic.soft_hash_data_v0(io.BytesIO(data)))
    return minhash_digest(native.iscc_data_minhash(data, _GEAR, _MIN, _MAX, _CENTER, _MASK_S, _MASK_L, MPA, MPB))


def instance_digest(data: bytes) -> bytes:
    """The 256-bit digest of ``data``'s Instance-Code (BLAKE3, as ``iscc_core.gen_instance_code_v0``)."""
    return bytes(blake3(data).digest())


@cache
def _header(content_type: int) -> bytes:
    """The header of an ISCC-CODE of 64-bit Content-, Data- and Instance-Codes whose Content-Code has subtype
    ``content_type`` (``ic.ST_CC``), as iscc-core writes it: its units' digests follow it, 8 bytes each."""

    def unit(mtype: int, stype: int) -> str:
        return "ISCC:" + str(ic.encode_component(mtype, stype, ic.VS.V0, 64, bytes(8)))

    units = [unit(ic.MT.CONTENT, content_type), unit(ic.MT.DATA, ic.ST.NONE), unit(ic.MT.INSTANCE, ic.ST.NONE)]
    raw = bytes(ic.decode_base32(str(ic.gen_iscc_code_v0(units)["iscc"]).removeprefix("ISCC:")))
    if raw[-24:] != bytes(24):  # pragma: no cover - a change of iscc-core's layout
        raise RuntimeError("iscc-core's ISCC-CODE no longer ends with the three units' digests")
    return raw[:-24]


def iscc_code(content_type: int, content_digest: bytes, data: bytes) -> str:
    """``iscc_core.gen_iscc_code_v0`` of the 64-bit Content-Code of subtype ``content_type`` with digest
    ``content_digest`` and the 64-bit Data- and Instance-Codes of ``data``."""
    body = content_digest[:8] + data_digest(data)[:8] + instance_digest(data)[:8]
    return "ISCC:" + str(ic.encode_base32(_header(content_type) + body))
