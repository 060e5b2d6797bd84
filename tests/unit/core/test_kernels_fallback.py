"""The no-compiler install, on purpose: with the compiled kernels blocked, every answer is the same.

The C extension is optional (``setup.py``: ``optional=True``): a machine without a compiler installs the
package without it and every caller takes its numpy or Python path. The equivalence tests in
``test_textfp.py``, ``test_content.py`` and ``tests/unit/index/test_segment.py`` compare the two paths inside one
process, which only means something where the extension was built (``.ci/run`` asserts it was). This test runs
the other install: a child interpreter whose import of ``copyalign.core._kernels`` fails, as it does where the
build was skipped, and compares what it answers with what this process, which has the kernels, answers.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from copyalign.core import kernels

ROOT = Path(__file__).resolve().parents[3]

TEXTS = [
    "",
    "A rights holder registers a poem; the developer's corpus holds it, line by line.",
    "Don't re-\nregister RIGHTS-holder works: 1,000 e.g. and/or\tthe \u2018same\u2019 text\u2014twice\u2026",
    "caf\u00e9 na\u00efve \u00c5ngstr\u00f6m \ufb01ne \u2160 \u00bd \u00a0 soft\u00adhyphen zero\u200bwidth",
    "版权人登记作品，开发者的语料库里有它。 mixed 漢字 text",
    "\U0001f600 emoji \U00020000 \U000e0001 tags \u1100\u1161\u11a8 jamo e\u0301 combining",
]

_BLOCK_KERNELS = """
import json, sys

class NoKernels:
    # the import fails as it does on an install built without a C compiler
    def find_spec(self, name, path=None, target=None):
        if name == "copyalign.core._kernels":
            raise ModuleNotFoundError("No module named 'copyalign.core._kernels'", name=name)
        return None

sys.meta_path.insert(0, NoKernels())
from copyalign.core import kernels
assert kernels.native is None, "the kernels were not blocked"
from tests.unit.core.test_kernels_fallback import answers
print(json.dumps(answers()))
"""


def answers() -> dict[str, Any]:
    """What every caller of a kernel answers, on fixed inputs, through whichever path this process has."""
    from copyalign.core import content
    from copyalign.core.matching import textfp
    from copyalign.core.matching.imagefp import ImageHash
    from copyalign.core.registry.fingerprint import fingerprint
    from copyalign.services.matching import mih, segment
    from copyalign.services.matching.segment import IndexedWork, Segment

    out: dict[str, Any] = {"fingerprints": [], "normalised": [], "lsh": [], "lookup": [], "images": [], "iscc": []}
    # PDQ of a registered photo and its crops (pdq64, or pdqhash without the kernels)
    import skimage.data
    from PIL import Image

    from copyalign.core.matching.imagefp import registered_hashes

    photo = Image.fromarray(skimage.data.astronaut()).resize((160, 120))
    out["pdq"] = [[h.pdq.hex(), h.quality] for h in registered_hashes(photo)]
    for text in TEXTS:
        fp = textfp.text_fingerprint(text)
        arrays = {name: getattr(fp, name).tolist() for name in ("starts", "ends", "token_hashes", "kgrams", "winnowed")}
        out["fingerprints"].append({**arrays, "characters": fp.characters})
        out["normalised"].append(content.normalise_text(text))
        if text:  # the registry's ISCC-CODE: the Text-Code's and Data-Code's MinHash kernels
            registered = fingerprint((text * 40).encode(), content.Limits(), kind="text")
            out["iscc"].append([registered.iscc, registered.iscc_content])
    rng = np.random.default_rng(25)
    for _ in range(5):
        sig = rng.integers(0, 2**32, textfp.NUM_PERM, dtype=np.uint64).astype(np.uint32)
        out["lsh"].append(textfp.lsh_keys(sig).tolist())
    keys = np.sort(rng.integers(0, 2**64, 5000, dtype=np.uint64))
    keys[100:110] = keys[100]  # a key held ten times
    directory = segment._directory(keys)
    needles = np.concatenate([keys[::50], rng.integers(0, 2**64, 50, dtype=np.uint64)])
    for max_hits in (0, 2):
        owner, idx = segment._lookup(keys, directory, needles, max_hits)
        out["lookup"].append([owner.tolist(), idx.tolist()])
    # the multi-index image probe, over a bucket table (the kernel's path) with hashes near the query
    table_min, mih.MIH_TABLE_MIN = mih.MIH_TABLE_MIN, 100
    query = rng.integers(0, 2**64, size=(2, 4), dtype=np.uint64)
    rows = [query[0] ^ (np.uint64(1) << np.uint64(d)) for d in range(20)]
    rows += list(rng.integers(0, 2**64, size=(400, 4), dtype=np.uint64))
    full = (0.0, 0.0, 1.0, 1.0)
    works = [
        IndexedWork(
            f"w{i}",
            "image",
            hashlib.sha256(b"%d" % i).digest(),
            images=[ImageHash(np.asarray(r, dtype=np.uint64).astype(">u8").tobytes(), 100, 0, full, "whole")],
        )
        for i, r in enumerate(rows)
    ]
    try:
        seg = Segment.build(works, min_quality=50)
    finally:
        mih.MIH_TABLE_MIN = table_min
    assert "mih_table" in seg.arrays
    # and over the wide layout of large segments (11 chunks of 23-24 bits, two-bit variants)
    wide_min, mih.MIH_WIDE_MIN = mih.MIH_WIDE_MIN, 100
    try:
        wide = Segment.build(works, min_quality=50)
    finally:
        mih.MIH_WIDE_MIN = wide_min
    assert "mihw_table" in wide.arrays
    for s in (seg, wide):
        for radius in (0, 16, 31):
            r, q, d = s.image_candidates(query, radius)
            out["images"].append(sorted(zip(r.tolist(), q.tolist(), d.tolist(), strict=True)))
    return out


@pytest.mark.skipif(kernels.native is None, reason="this process has no kernels to compare with (.ci/run builds them)")
def test_an_install_without_the_compiled_kernels_answers_exactly_the_same() -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH")) if p),
    }
    child = subprocess.run(
        [sys.executable, "-c", _BLOCK_KERNELS], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert child.returncode == 0, child.stderr[-4000:]
    without = json.loads(child.stdout.splitlines()[-1])
    with_kernels = json.loads(json.dumps(answers()))
    assert without["images"][-1], "the probe found nothing: the comparison would be empty"
    for part, value in with_kernels.items():
        assert without[part] == value, part
