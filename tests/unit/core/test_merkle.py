"""RFC 9162 Merkle maths: published vectors, an independent implementation, and property tests.

The oracles: the published vectors (``tests/vectors/rfc6962.json``), the RFC's definitions written out in
``merkle_reference.py`` (not the production module's), and pymerkle, which computes the same roots, the same
inclusion paths, and every subtree hash a consistency proof is made of.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copyalign.core.log import merkle
from copyalign.errors import InvalidInputError, VerificationError
from tests.unit.core import merkle_reference as ref

VECTORS = json.loads((Path(__file__).parents[2] / "vectors" / "rfc6962.json").read_text())
LEAVES = [ref.leaf_hash(bytes.fromhex(x)) for x in VECTORS["leaves"]]
ROOTS = [bytes.fromhex(r) for r in VECTORS["roots"]]


def store_of(leaves: list[bytes]) -> merkle.MemoryNodeStore:
    s = merkle.MemoryNodeStore()
    s.append(leaves)
    return s


@pytest.mark.parametrize("size", range(9))
def test_published_roots(size: int) -> None:
    assert [merkle.leaf_hash(bytes.fromhex(x)) for x in VECTORS["leaves"]] == LEAVES
    assert ref.root(LEAVES[:size]) == ROOTS[size]  # the oracle agrees with the vectors
    assert merkle.root_from_leaves(LEAVES[:size]) == ROOTS[size]
    s = store_of(LEAVES[:size])
    assert s.root() == ROOTS[size] == merkle.root(size, s)


@pytest.mark.parametrize("v", VECTORS["inclusion"], ids=lambda v: f"{v['index']}-{v['size']}")
def test_published_inclusion_proofs(v: dict) -> None:
    proof = [bytes.fromhex(p) for p in v["proof"]]
    s = store_of(LEAVES[: v["size"]])
    assert merkle.inclusion_proof(v["index"], v["size"], s) == proof
    assert ref.inclusion(v["index"], LEAVES[: v["size"]]) == proof
    merkle.verify_inclusion(LEAVES[v["index"]], v["index"], v["size"], proof, ROOTS[v["size"]])


@pytest.mark.parametrize("v", VECTORS["consistency"], ids=lambda v: f"{v['first']}-{v['second']}")
def test_published_consistency_proofs(v: dict) -> None:
    proof = [bytes.fromhex(p) for p in v["proof"]]
    s = store_of(LEAVES[: v["second"]])
    assert merkle.consistency_proof(v["first"], v["second"], s) == proof
    assert ref.consistency(v["first"], LEAVES[: v["second"]]) == proof
    merkle.verify_consistency(v["first"], v["second"], ROOTS[v["first"]], ROOTS[v["second"]], proof)


def leaves_of(n: int, salt: int = 0) -> list[bytes]:
    return [ref.leaf_hash(f"{salt}-{i}".encode()) for i in range(n)]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.lists(st.integers(1, 40), max_size=12))
def test_batched_appends_equal_the_reference(n: int, cuts: list[int]) -> None:
    leaves = leaves_of(n)
    s = merkle.MemoryNodeStore()
    i = 0
    for c in cuts:
        s.append(leaves[i : i + c])
        i = min(n, i + c)
    s.append(leaves[i:])
    assert s.size == n
    assert s.root() == ref.root(leaves) == merkle.root_from_leaves(leaves)
    for size in {1, n // 2 or 1, n}:
        assert merkle.root(size, s) == ref.root(leaves[:size])


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_stored_proofs_equal_reference_and_verify(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 200))
    leaves = leaves_of(n, 1)
    s = store_of(leaves)
    size = data.draw(st.integers(1, n))
    index = data.draw(st.integers(0, size - 1))
    root = ref.root(leaves[:size])
    proof = merkle.inclusion_proof(index, size, s)
    assert proof == ref.inclusion(index, leaves[:size])
    merkle.verify_inclusion(leaves[index], index, size, proof, root)
    old = data.draw(st.integers(0, size))
    cproof = merkle.consistency_proof(old, size, s)
    assert cproof == ref.consistency(old, leaves[:size])
    merkle.verify_consistency(old, size, ref.root(leaves[:old]), root, cproof)


def mutations(proof: list[bytes]) -> list[list[bytes]]:
    out = [proof + [bytes(32)], [bytes(32), *proof], proof + proof[:1]]
    if proof:
        out.append(proof[:-1])
        out.append(proof[1:])
    for i in range(len(proof)):
        for bit in (0, 77, 255):
            p = list(proof)
            b = bytearray(p[i])
            b[bit // 8] ^= 1 << (bit % 8)
            p[i] = bytes(b)
            out.append(p)
    return out


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 70), st.data())
def test_every_mutated_inclusion_proof_is_rejected(n: int, data: st.DataObject) -> None:
    leaves = leaves_of(n, 2)
    root = ref.root(leaves)
    index = data.draw(st.integers(0, n - 1))
    proof = ref.inclusion(index, leaves)
    for bad in mutations(proof):
        with pytest.raises(VerificationError):
            merkle.verify_inclusion(leaves[index], index, n, bad, root)
    # (the root does not commit to the size, so only size changes that alter the path shape can be caught
    # here; the size is authenticated by the signed checkpoint, as in transparency-dev's own probes)
    for idx, size in [(index ^ 1, n), (index, 2 * n), (index, n // 2)]:
        if 0 <= idx < size and (idx, size) != (index, n):
            with pytest.raises(VerificationError):
                merkle.verify_inclusion(leaves[index], idx, size, proof, root)
    with pytest.raises(VerificationError):
        merkle.verify_inclusion(leaves[index], index, n, proof, hashlib.sha256(b"x").digest())


@settings(max_examples=40, deadline=None)
@given(st.integers(3, 70), st.data())
def test_every_mutated_consistency_proof_is_rejected(n: int, data: st.DataObject) -> None:
    leaves = leaves_of(n, 3)
    old = data.draw(st.integers(1, n - 1))
    r1, r2 = ref.root(leaves[:old]), ref.root(leaves)
    proof = ref.consistency(old, leaves)
    for bad in [*mutations(proof), []]:
        with pytest.raises(VerificationError):
            merkle.verify_consistency(old, n, r1, r2, bad)
    with pytest.raises(VerificationError):
        merkle.verify_consistency(old, n, r2, r1, proof)
    with pytest.raises(VerificationError):
        merkle.verify_consistency(old + 1, n, r1, r2, proof)


def test_edge_cases() -> None:
    with pytest.raises(VerificationError):
        merkle.verify_inclusion(LEAVES[0], 1, 1, [], ROOTS[1])
    with pytest.raises(VerificationError):
        merkle.verify_inclusion(b"short", 0, 1, [], ROOTS[1])
    with pytest.raises(VerificationError):
        merkle.verify_consistency(2, 1, ROOTS[2], ROOTS[1], [])
    merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, ROOTS[5], [])
    with pytest.raises(InvalidInputError):
        merkle.inclusion_proof(3, 3, store_of(LEAVES[:3]))
    with pytest.raises(InvalidInputError):
        merkle.append_leaves(3, [], [LEAVES[0]])
    with pytest.raises(VerificationError, match="lacks the tree node"):
        merkle.inclusion_proof(0, 4, merkle.MemoryNodeStore())


def _pymerkle(entries: list[bytes]):  # noqa: ANN202
    from pymerkle import InmemoryTree

    tree = InmemoryTree(algorithm="sha256")
    for e in entries:
        tree.append_entry(e)
    return tree


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 31, 64, 100])
def test_agrees_with_pymerkle_on_roots_and_proofs(n: int) -> None:
    """An independent implementation (pymerkle 7, RFC 9162 hashing) computes the same roots; its inclusion path
    is the leaf followed by our proof, and it verifies against our root; and every hash of our consistency proof
    is the root pymerkle computes over that proof's range of entries (the ranges of RFC 9162's SUBPROOF)."""
    from pymerkle import verify_consistency, verify_inclusion

    entries = [f"entry {i} of {n}".encode() for i in range(n)]
    theirs = _pymerkle(entries)
    ours = store_of([merkle.leaf_hash(e) for e in entries])
    assert theirs.get_root() == ours.root()
    subroots: dict[tuple[int, int], bytes] = {}

    def their_root(a: int, b: int) -> bytes:
        if (a, b) not in subroots:
            subroots[a, b] = _pymerkle(entries[a:b]).get_root()
        return subroots[a, b]

    for size in sorted({1, 2, n // 2 or 1, n - 1 or 1, n}):
        if size > n:
            continue
        root = merkle.root(size, ours)
        assert theirs.get_root(size) == root
        for index in range(size):
            proof = theirs.prove_inclusion(index + 1, size)  # pymerkle counts leaves from 1
            assert proof.path[0] == merkle.leaf_hash(entries[index])
            assert proof.path[1:] == merkle.inclusion_proof(index, size, ours), (index, size)
            verify_inclusion(merkle.leaf_hash(entries[index]), root, proof)
        for old in range(size + 1):
            expected = [their_root(a, b) for a, b in ref.consistency_ranges(old, size)]
            assert merkle.consistency_proof(old, size, ours) == expected, (old, size)
            if old:  # and pymerkle's own consistency proof holds between our two roots
                verify_consistency(merkle.root(old, ours), root, theirs.prove_consistency(old, size))
