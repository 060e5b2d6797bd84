"""The AIGC label in an XMP packet, where Chinese platforms read it.

TC260's practice guide (TC260-PG-20258A) and the tools built on it write XMP with the namespace
``http://www.tc260.org.cn/ns/AIGC/1.0/`` (prefix ``TC260``) and the label's JSON as the text of ``TC260:AIGC``.
An existing packet is kept and only its ``AIGC`` property is replaced: the packet is edited as text so that its
prefixes, other properties and padding stay exactly as they were, and parsed again to prove it well-formed.
Parsing uses defusedxml: a packet comes from strangers.

Example:
    >>> aigc_of_packet(with_aigc(None, '{"Label":"1"}'))
    '{"Label":"1"}'
"""

from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeElementTree

from copyalign.core.guard.aigc import AIGC_KEY
from copyalign.errors import UnsupportedContentError

TC260_NS = "http://www.tc260.org.cn/ns/AIGC/1.0/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


def aigc_of_packet(packet: str) -> str | None:
    """The text of the packet's ``TC260:AIGC`` property (element or attribute form); None when it has none
    or is not well-formed XML (a broken packet of someone else's is not this reader's to judge)."""
    try:
        root = SafeElementTree.fromstring(packet.strip().lstrip("\ufeff").encode("utf-8"))
    except Exception:  # defusedxml raises several unrelated classes for hostile or broken XML
        return None
    tag = f"{{{TC260_NS}}}{AIGC_KEY}"
    for element in root.iter():
        if element.tag == tag:
            return element.text or ""
        if tag in element.attrib:
            return str(element.attrib[tag])
    return None


def with_aigc(packet: str | None, value: str) -> str:
    """``packet`` with its AIGC property set to ``value`` (a new packet when None). The packet is edited as
    text (the old property removed, a new ``rdf:Description`` added) so that the rest of it, its prefixes and
    its padding stay exactly as they were; the result is parsed again to prove it well-formed."""
    text = escape(value)
    if packet is None:
        return (
            '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
            '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
            f'<rdf:RDF xmlns:rdf="{RDF_NS}">'
            f'<rdf:Description rdf:about="" xmlns:TC260="{TC260_NS}"><TC260:AIGC>{text}</TC260:AIGC></rdf:Description>'
            "</rdf:RDF></x:xmpmeta>\n"
            '<?xpacket end="w"?>'
        )
    if _parse(packet) is None:
        raise UnsupportedContentError("the file's XMP packet is not well-formed XML", field="data")
    edited = packet
    for prefix in set(re.findall(r'xmlns:([A-Za-z_][\w.-]*)\s*=\s*["\']' + re.escape(TC260_NS) + "[\"']", packet)):
        p = re.escape(prefix)
        edited = re.sub(rf"<{p}:AIGC\b[^>]*/>", "", edited)
        edited = re.sub(rf"<{p}:AIGC\b[^>]*>.*?</{p}:AIGC\s*>", "", edited, flags=re.DOTALL)
        edited = re.sub(rf"\s{p}:AIGC\s*=\s*(\"[^\"]*\"|'[^']*')", "", edited)
    rdf = re.search(r'xmlns:([A-Za-z_][\w.-]*)\s*=\s*["\']' + re.escape(RDF_NS) + "[\"']", edited)
    if rdf is None or f"</{rdf.group(1)}:RDF>" not in edited:
        raise UnsupportedContentError("the file's XMP packet has no rdf:RDF element", field="data")
    r, q = rdf.group(1), re.escape(rdf.group(1))
    # drop a Description this function added before and just emptied (one with no properties left in it)
    edited = re.sub(
        rf'<{q}:Description(?:\s+(?:{q}:about=""|xmlns:[\w.-]+="[^"]*"))*\s*>\s*</{q}:Description>', "", edited
    )
    close = edited.rfind(f"</{r}:RDF>")
    description = (
        f'<{r}:Description {r}:about="" xmlns:TC260="{TC260_NS}"><TC260:AIGC>{text}</TC260:AIGC></{r}:Description>'
    )
    edited = edited[:close] + description + edited[close:]
    root = _parse(edited)
    tag = f"{{{TC260_NS}}}{AIGC_KEY}"
    count = 0 if root is None else sum((e.tag == tag) + (tag in e.attrib) for e in root.iter())
    if count != 1:
        raise UnsupportedContentError("could not replace the AIGC property of the file's XMP packet", field="data")
    return edited


def _parse(packet: str) -> Any:
    try:
        return SafeElementTree.fromstring(packet.strip().lstrip("\ufeff").encode("utf-8"))
    except Exception:  # see _xmp_aigc
        return None


__all__ = ["RDF_NS", "TC260_NS", "aigc_of_packet", "with_aigc"]
