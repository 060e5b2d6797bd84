"""Delivery: what a screened output carries when it leaves — the disclosure (text) or the visible mark
(images), the invisible watermark with the trace id, the GB 45438-2025 implicit label, a C2PA manifest when
the deployment has a signing identity — and its trace (seed 004 ¶79-80; China's labelling measures).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from copyalign.core.guard.aigc import AigcLabel
from copyalign.core.guard.containers import write_aigc
from copyalign.core.guard.rules import GuardAction, strongest
from copyalign.core.guard.watermark import MIN_SIDE as WATERMARK_MIN_SIDE
from copyalign.core.guard.watermark import embed_watermark
from copyalign.services.base import Deps, ServiceBase
from copyalign.services.guard.keys import GuardKeys
from copyalign.services.guard.results import Delivery, Verdict, trace_id_from_payload, trace_payload
from copyalign.services.guard.screening import Output
from copyalign.services.guard.traces import Traces
from copyalign.services.guard.visible import label_image, label_text

PRODUCER = "copyalign"
NOTICE_FALLBACK = "(c) training-data notice"


class Deliveries(ServiceBase):
    def __init__(self, deps: Deps, keys: GuardKeys, traces: Traces, *, c2pa_dir: Path | None = None) -> None:
        super().__init__(deps)
        self.keys = keys
        self.traces = traces
        self.c2pa_dir = c2pa_dir

    def deliver(
        self,
        provider_id: str,
        data: Output,
        decoded: Any,
        kind: str,
        verdicts: list[Verdict],
        *,
        prompt: str | None,
        user: str,
        model: str,
    ) -> Delivery:
        """Label, watermark and trace a screened output; a blocked one is traced but not delivered."""
        decision = strongest(v.decision for v in verdicts)
        trace_id = trace_id_from_payload(os.urandom(8))
        notice = user_notice(verdicts) if decision is GuardAction.WARN else None
        if decision is GuardAction.BLOCK:
            self.traces.record(
                provider_id, trace_id, kind, data, None, decision, verdicts, prompt=prompt, user=user, model=model
            )
            return Delivery(trace_id, decision, kind, None, "", tuple(verdicts), notice=user_notice(verdicts))
        label = AigcLabel(
            label="1",
            content_producer=PRODUCER,
            produce_id=trace_id,
            reserved_code1=self.keys.label_code(trace_id),
            content_propagator=provider_id,
            propagate_id=trace_id,
        )
        g = self.policy.guard
        rights = dict(self.policy.journey.copyright_notice)
        marks = {"visible": True, "aigc": False, "watermark": False, "c2pa": False}
        if kind == "text":
            disclosure = g.disclosure + "".join(f"\n{rights[lang]}" for lang in rights)
            delivered = label_text(decoded, disclosure=disclosure, position="append").encode()
            media_type = "text/plain; charset=utf-8"
            marks["aigc"] = True  # travels beside the text (the API response), as text files carry no metadata
        else:
            delivered, media_type = self._mark_image(decoded, data, trace_id, label, marks, rights)
        self.traces.record(
            provider_id,
            trace_id,
            kind,
            data,
            delivered,
            decision,
            verdicts,
            prompt=prompt,
            user=user,
            model=model,
            copyright_notice=rights,
        )
        return Delivery(
            trace_id, decision, kind, delivered, media_type, tuple(verdicts), label.to_dict(), marks, notice, rights
        )

    def refused(
        self, provider_id: str, verdicts: list[Verdict], *, prompt: str | None, user: str, model: str
    ) -> Delivery:
        """A generation refused at the prompt: traced, never generated."""
        trace_id = trace_id_from_payload(os.urandom(8))
        self.traces.record(
            provider_id, trace_id, "text", b"", None, GuardAction.BLOCK, verdicts, prompt=prompt, user=user, model=model
        )
        return Delivery(trace_id, GuardAction.BLOCK, "text", None, "", tuple(verdicts), notice=user_notice(verdicts))

    def _mark_image(
        self,
        img: Image.Image,
        data: Output,
        trace_id: str,
        label: AigcLabel,
        marks: dict[str, bool],
        rights: dict[str, str],
    ) -> tuple[bytes, str]:
        """Visible mark, then the invisible watermark over the whole picture, then the metadata, then C2PA
        (last, because its signature covers the bytes before it). A JPEG stays a JPEG; anything else,
        an in-memory image included, is delivered as PNG."""
        fmt = "PNG" if isinstance(data, Image.Image) else (Image.open(io.BytesIO(data)).format or "PNG").upper()
        alpha = img.getchannel("A") if img.mode in ("RGBA", "LA") else None
        visible = label_image(img.convert("RGB"), text=self.policy.guard.image_label)
        if rights and self.policy.journey.image_notice_label:  # ¶80(c): the disclaimer's pointer, opposite corner
            visible = label_image(
                visible,
                text=self.policy.journey.image_notice_label,
                corner="top-left",
                fallback_text=NOTICE_FALLBACK,  # a machine without CJK fonts draws the English words
            )
        rgb = np.asarray(visible.convert("RGB"))
        side = min(rgb.shape[:2])
        if side >= WATERMARK_MIN_SIDE:
            # a large image carries the delivery time too (seed 003 §4.4's 128 bits); a small one the trace id
            stamp = int(self.clock.now().timestamp()) if side >= self.policy.guard.watermark_128_min_side else None
            marked = Image.fromarray(embed_watermark(rgb, trace_payload(trace_id), key=self.keys.watermark, time=stamp))
            marks["watermark"] = True
        else:  # too small to carry 64 bits; the labels and the trace still do their part
            marked = visible.convert("RGB")
        buf = io.BytesIO()
        if fmt == "JPEG":
            marked.save(buf, "JPEG", quality=95, subsampling=0)
            media_type = "image/jpeg"
        else:
            if alpha is not None:
                marked.putalpha(alpha)
            marked.save(buf, "PNG", compress_level=1)  # level 6 costs 90 ms on a 512x512 picture, for ~8 % less
            media_type = "image/png"
        out = write_aigc(buf.getvalue(), label, rights=rights)
        marks["aigc"] = True
        identity = self._c2pa_identity()
        if identity is not None:
            from copyalign.services.guard import c2pa  # the c2pa extra, only where a signing identity exists

            out = c2pa.sign_c2pa(
                out, media_type, identity, trace_id=trace_id, producer=PRODUCER, copyright_notice=rights
            )
            marks["c2pa"] = True
        return out, media_type

    def _c2pa_identity(self) -> Any:
        if self.c2pa_dir is None or not (self.c2pa_dir / "c2pa-cert.pem").exists():
            return None
        from copyalign.services.guard import c2pa

        if not c2pa.available():
            return None
        return c2pa.load_signing_identity(self.c2pa_dir)


def user_notice(verdicts: Sequence[Verdict]) -> str:
    """What the user is told: which works, never the evidence (that is for the provider)."""
    titles = sorted(
        {t for v in verdicts for r in v.reasons if r.action is not GuardAction.ALLOW for t in r.titles if t}
    )
    blocked = any(v.decision is GuardAction.BLOCK for v in verdicts)
    head = "This request was not fulfilled" if blocked else "Note"
    if titles:
        shown = "; ".join(titles[:5]) + ("; ..." if len(titles) > 5 else "")
        return f"{head}: it concerns protected works ({shown})."
    return f"{head}: it may concern protected works."


__all__ = ["PRODUCER", "Deliveries", "user_notice"]
