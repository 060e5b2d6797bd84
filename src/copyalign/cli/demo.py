"""A small sample registry for ``copyalign serve --demo``: a newcomer sees a working portal at once.

The texts are public-domain openings (Melville, Austen, Dickens, and Li Bai in Chinese); the images are drawn
here, so nothing is downloaded.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageDraw

from copyalign.context import Copyalign
from copyalign.core.registry.preferences import Purpose, Value
from copyalign.services.registry.parties import Principal
from copyalign.services.registry.preferences import PreferenceInput
from copyalign.services.registry.works import WorkInput

TEXTS = [
    (
        "Moby-Dick, chapter 1",
        "Herman Melville",
        "Call me Ishmael. Some years ago—never mind how long precisely—having little or no money in my purse, and "
        "nothing particular to interest me on shore, I thought I would sail about a little and see the watery part "
        "of the world.",
        Value.DENY,
    ),
    (
        "Pride and Prejudice, chapter 1",
        "Jane Austen",
        "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want "
        "of a wife.",
        Value.ALLOW_WITH_REMUNERATION,
    ),
    (
        "A Tale of Two Cities, book 1",
        "Charles Dickens",
        "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
        "foolishness, it was the epoch of belief, it was the epoch of incredulity.",
        Value.ALLOW,
    ),
    ("静夜思", "李白", "床前明月光，疑是地上霜。举头望明月，低头思故乡。", Value.DENY),
]


def _image(seed: int) -> bytes:
    img = Image.new("RGB", (320, 240), (20 * seed % 255, 90, 160))
    d = ImageDraw.Draw(img)
    for i in range(8):
        d.ellipse(
            (20 + i * 30, 30 + (i * seed) % 120, 80 + i * 30, 90 + (i * seed) % 120),
            fill=((i * 40) % 255, (seed * 70) % 255, 200 - i * 20),
        )
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@dataclass(frozen=True)
class DemoRegistry:
    holder_id: str
    api_key: str
    works: int


DEMO_HOLDER = "Demo Publishing House"


def seed(ca: Copyalign, operator: Principal) -> DemoRegistry:
    """Seed the sample registry once; on later runs only issue a fresh key for the demo holder."""
    existing = next((p for p in ca.parties.list(operator) if p.name == DEMO_HOLDER), None)
    if existing is not None:
        key = ca.parties.issue_key(operator, existing.id, label="demo")
        return DemoRegistry(existing.id, key.secret, len(ca.works.list(operator, holder_id=existing.id)))
    holder = ca.parties.create(operator, name=DEMO_HOLDER, role="rights_holder", email="rights@demo.example")
    key = ca.parties.issue_key(operator, holder.id, label="demo")
    items = [
        WorkInput(
            data=text.encode(),
            title=title,
            creators=(author,),
            preferences=(PreferenceInput(Purpose.TRAIN_AI, value),),
        )
        for title, author, text, value in TEXTS
    ]
    items += [
        WorkInput(
            data=_image(i),
            title=f"Demo illustration {i}",
            kind="image",
            creators=("Demo Studio",),
            preferences=(PreferenceInput(Purpose.TRAIN_GENAI, Value.DENY),),
        )
        for i in (1, 2)
    ]
    views = ca.works.register_many(operator, items, holder_id=holder.id)
    ca.ledger.checkpoint()
    return DemoRegistry(holder.id, key.secret, len(views))
