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
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeElementTree

from copyalign.core.guard.aigc import AIGC_KEY
from copyalign.errors import UnsupportedContentError

TC260_NS = "http://www.tc260.org.cn/ns/AIGC/1.0/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DC_NS = "http://purl.org/dc/elements/1.1/"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _rights_xml(rights: Mapping[str, str] | None, rdf: str) -> tuple[str, str]:
    """The ``xmlns:dc`` declaration and the ``dc:rights`` language alternative for ``rights`` (lang -> text):
    the copyright disclaimer of seed 004 ¶80(c), in XMP's own rights property, beside the AIGC field. The
    English text (else the first) is also the ``x-default`` a reader without a language shows."""
    if not rights:
        return "", ""
    default = rights.get("en") or next(iter(rights.values()))
    items = [f'<{rdf}:li xml:lang="x-default">{escape(default)}</{rdf}:li>']
    items += [f'<{rdf}:li xml:lang="{escape(lang)}">{escape(text)}</{rdf}:li>' for lang, text in rights.items()]
    return f' xmlns:dc="{DC_NS}"', f"<dc:rights><{rdf}:Alt>{''.join(items)}</{rdf}:Alt></dc:rights>"


def rights_of_packet(packet: str) -> dict[str, str] | None:
    """The packet's ``dc:rights`` alternatives by language (``x-default`` left out when a language repeats it);
    None when it has none or is not well-formed."""
    root = _parse(packet)
    if root is None:
        return None
    for element in root.iter(f"{{{DC_NS}}}rights"):
        found = {str(li.get(XML_LANG, "x-default")): li.text or "" for li in element.iter(f"{{{RDF_NS}}}li")}
        if len(found) > 1:
            found.pop("x-default", None)
        return found
    return None


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


def with_aigc(packet: str | None, value: str, rights: Mapping[str, str] | None = None) -> str:
    """``packet`` with its AIGC property set to ``value`` (a new packet when None), and with ``rights`` (lang ->
    text) as ``dc:rights`` in the same description. The packet is edited as text (the old property removed, a
    new ``rdf:Description`` added) so that the rest of it, its prefixes and its padding stay exactly as they
    were; the result is parsed again to prove it well-formed."""
    text = escape(value)
    if packet is None:
        dc_ns, dc = _rights_xml(rights, "rdf")
        return (
            '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
            '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
            f'<rdf:RDF xmlns:rdf="{RDF_NS}">'
            f'<rdf:Description rdf:about="" xmlns:TC260="{TC260_NS}"{dc_ns}><TC260:AIGC>{text}</TC260:AIGC>{dc}'
            "</rdf:Description>"
            "</rdf:RDF></x:xmpmeta>\n"
            '<?xpacket end="w"?>'
        )
    if _parse(packet) is None:
        raise UnsupportedContentError("the file's XMP packet is not well-formed XML", field="data")
    # a description this function wrote before, rights and all, is replaced whole
    edited = re.sub(
        r'<([\w.-]+):Description [\w.-]+:about="" xmlns:TC260="'
        + re.escape(TC260_NS)
        + r'"(?: xmlns:dc="'
        + re.escape(DC_NS)
        + r'")?>.*?</\1:Description>',
        "",
        packet,
        flags=re.DOTALL,
    )
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
    dc_ns, dc = _rights_xml(rights, r)
    description = (
        f'<{r}:Description {r}:about="" xmlns:TC260="{TC260_NS}"{dc_ns}><TC260:AIGC>{text}</TC260:AIGC>{dc}'
        f"</{r}:Description>"
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


__all__ = ["DC_NS", "RDF_NS", "TC260_NS", "aigc_of_packet", "rights_of_packet", "with_aigc"]
