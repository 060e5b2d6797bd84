from __future__ import annotations

import io
import json
import pickle
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from copyalign.core.scan.signals import (
    TRAINING_AGENTS,
    Signal,
    Verdict,
    errors,
    evaluate,
    html_meta,
    reserved,
    site_signals,
    xmp_packet,
)
from copyalign.errors import InvalidInputError

URL = "https://example.org/a/b.html"


def only(signals: list[Signal], name: str) -> Signal:
    found = [s for s in signals if s.name == name]
    assert len(found) == 1, signals
    return found[0]


# --- nothing present, misuse ------------------------------------------------------------------------------


def test_nothing_present_yields_no_signals() -> None:
    assert evaluate(url=URL) == []
    assert evaluate(url=URL, site=site_signals(), headers={"Content-Type": "text/html"}, html="<p>hi</p>") == []
    assert evaluate(url=None, xmp="<x:xmpmeta xmlns:x='adobe:ns:meta/'/>", c2pa={}) == []
    assert not reserved([]) and errors([]) == []


def test_misuse_raises_invalid_input() -> None:
    with pytest.raises(InvalidInputError) as e:
        evaluate(url=URL, purpose="search")
    assert e.value.field == "purpose"
    with pytest.raises(InvalidInputError) as e:
        evaluate(url=URL, agents="GPTBot")
    assert e.value.field == "agents"
    with pytest.raises(InvalidInputError) as e:
        evaluate(url=URL, headers={"Content-Usage": b"train-ai=n"})  # type: ignore[dict-item]
    assert e.value.field == "headers"
    with pytest.raises(InvalidInputError):
        site_signals(robots_txt=b"User-agent: *")  # type: ignore[arg-type]


# --- robots.txt -------------------------------------------------------------------------------------------


def test_robots_denies_a_training_agent_and_names_it() -> None:
    site = site_signals(robots_txt="User-agent: CCBot\nDisallow: /a/\n\nUser-agent: *\nAllow: /\n")
    s = only(evaluate(url=URL, site=site), "robots")
    assert (s.source, s.verdict, s.detail) == ("robots.txt", Verdict.DENY, "CCBot disallowed for /a/b.html")
    assert only(evaluate(url="https://example.org/c", site=site), "robots").verdict is Verdict.ALLOW


def test_robots_star_group_covers_every_training_agent() -> None:
    site = site_signals(robots_txt="User-agent: *\nDisallow: /\n")
    s = only(evaluate(url=URL, site=site), "robots")
    assert s.verdict is Verdict.DENY and s.detail.startswith(f"{TRAINING_AGENTS[0]} disallowed")


def test_robots_allowing_everyone_is_one_allow_signal() -> None:
    site = site_signals(robots_txt="User-agent: Googlebot\nDisallow: /\n")
    signals = evaluate(url=URL, site=site)
    assert [(s.name, s.verdict) for s in signals] == [("robots", Verdict.ALLOW)]
    assert not reserved(signals)


def test_robots_checks_the_declared_agent_first() -> None:
    site = site_signals(robots_txt="User-agent: MyCrawler\nDisallow: /a\n\nUser-agent: GPTBot\nDisallow: /\n")
    s = only(evaluate(url=URL, site=site, agents=["mycrawler"]), "robots")
    assert s.detail == "mycrawler disallowed for /a/b.html"
    # the declared agent is allowed elsewhere, GPTBot still is not
    assert only(evaluate(url="https://example.org/z", site=site, agents=["MyCrawler"]), "robots").detail.startswith(
        "GPTBot"
    )


def test_robots_agent_with_a_group_by_prefix_is_not_lost() -> None:
    # protego matches the "applebot" group for Applebot-Extended; the agent plan must keep asking it
    site = site_signals(robots_txt="User-agent: Applebot\nDisallow: /\n")
    assert only(evaluate(url=URL, site=site), "robots").detail == "Applebot-Extended disallowed for /a/b.html"


def test_site_signals_survive_pickling_for_workers() -> None:
    site = site_signals(
        robots_txt="User-agent: GPTBot\nDisallow: /a\n", tdmrep_json='[{"location": "/", "tdm-reservation": 1}]'
    )
    evaluate(url=URL, site=site)  # warms the per-site agent plan cache
    copy = pickle.loads(pickle.dumps(site))  # noqa: S301 - our own object
    assert evaluate(url=URL, site=copy) == evaluate(url=URL, site=site)
    assert [s.verdict for s in evaluate(url=URL, site=copy)] == [Verdict.DENY, Verdict.DENY]


def test_robots_needs_a_url() -> None:
    assert evaluate(url=None, site=site_signals(robots_txt="User-agent: *\nDisallow: /\n")) == []


def test_unparseable_url_is_an_error_for_url_rules() -> None:
    s = only(evaluate(url="http://[bad/x", site=site_signals(robots_txt="User-agent: *\nDisallow: /")), "robots")
    assert s.verdict is Verdict.ERROR


# --- AIPREF Content-Usage ---------------------------------------------------------------------------------


def test_content_usage_header_deny_allow_and_unknown_tokens() -> None:
    s = only(evaluate(url=URL, headers={"content-usage": "train-ai=n, search=y"}), "aipref")
    assert (s.source, s.verdict, s.detail) == ("header", Verdict.DENY, "Content-Usage: train-ai=n")
    s = only(evaluate(url=URL, headers={"Content-Usage": "train-ai=y, future-thing=n;p=1"}), "aipref")
    assert s.verdict is Verdict.ALLOW
    assert evaluate(url=URL, headers={"Content-Usage": "search=n, future-thing=n"}) == []


def test_content_usage_purpose_resolution() -> None:
    h = {"Content-Usage": "train-ai=y, train-genai=n"}
    assert only(evaluate(url=URL, headers=h), "aipref").verdict is Verdict.DENY
    assert only(evaluate(url=URL, headers=h, purpose="train-ai"), "aipref").verdict is Verdict.ALLOW
    # train-genai falls back to train-ai; train-ai does not look at train-genai
    assert only(evaluate(url=URL, headers={"Content-Usage": "train-ai=n"}), "aipref").verdict is Verdict.DENY
    assert evaluate(url=URL, headers={"Content-Usage": "train-genai=n"}, purpose="train-ai") == []


def test_content_usage_broken_value_is_error() -> None:
    s = only(evaluate(url=URL, headers={"Content-Usage": "train-ai=maybe"}), "aipref")
    assert s.verdict is Verdict.ERROR and errors([s]) == [s] and not reserved([s])
    assert only(evaluate(url=URL, headers={"Content-Usage": "train ai = n"}), "aipref").verdict is Verdict.ERROR


def test_content_usage_repeated_header_lines_any_n_wins() -> None:
    s = only(evaluate(url=URL, headers={"Content-Usage": ["search=y", "train-ai=n"]}), "aipref")
    assert s.verdict is Verdict.DENY


def test_content_usage_in_robots_with_and_without_path() -> None:
    robots = "User-agent: *\nAllow: /\nContent-Usage: /a/ train-ai=n\nContent-Usage: train-genai=y\n"
    site = site_signals(robots_txt=robots)
    s = only(evaluate(url=URL, site=site), "aipref")
    assert (s.source, s.verdict, s.detail) == ("robots.txt", Verdict.DENY, "Content-Usage: /a/ train-ai=n")
    assert only(evaluate(url="https://example.org/other", site=site), "aipref").verdict is Verdict.ALLOW
    # a site-wide statement applies without a URL too
    assert only(evaluate(url=None, site=site), "aipref").verdict is Verdict.ALLOW


def test_content_usage_header_and_robots_disagree_deny_is_reported() -> None:
    site = site_signals(robots_txt="Content-Usage: train-ai=n\n")
    signals = evaluate(url=URL, site=site, headers={"Content-Usage": "train-ai=y"})
    assert sorted((s.source, s.verdict) for s in signals if s.name == "aipref") == [
        ("header", Verdict.ALLOW),
        ("robots.txt", Verdict.DENY),
    ]
    assert reserved(signals)


# --- Cloudflare Content Signals ---------------------------------------------------------------------------


def test_content_signal_in_robots_group_is_site_wide() -> None:
    robots = "User-Agent: *\nContent-Signal: search=yes, ai-train=no, ai-input=yes\nAllow: /\n"
    s = only(evaluate(url=URL, site=site_signals(robots_txt=robots)), "content-signal")
    assert (s.source, s.verdict, s.detail) == ("robots.txt", Verdict.DENY, "Content-Signal: ai-train=no")


def test_content_signal_header_allow_and_absent() -> None:
    s = only(evaluate(url=URL, headers={"Content-Signal": "ai-train=yes"}), "content-signal")
    assert s.verdict is Verdict.ALLOW and s.source == "header"
    assert evaluate(url=URL, headers={"Content-Signal": "search=yes"}) == []
    assert only(evaluate(url=URL, headers={"Content-Signal": "ai-train=n0"}), "content-signal").verdict is Verdict.ERROR


# --- TDMRep -----------------------------------------------------------------------------------------------


def test_tdm_headers_with_policy() -> None:
    h = {"TDM-Reservation": "1", "tdm-policy": "https://example.org/policy.json"}
    s = only(evaluate(url=URL, headers=h), "tdmrep")
    assert s.verdict is Verdict.DENY and s.detail == "tdm-reservation: 1; tdm-policy: https://example.org/policy.json"
    assert only(evaluate(url=URL, headers={"tdm-reservation": "0"}), "tdmrep").verdict is Verdict.ALLOW
    assert only(evaluate(url=URL, headers={"tdm-reservation": "yes"}), "tdmrep").verdict is Verdict.ERROR


def test_tdm_meta_tag() -> None:
    html = '<html><head><meta name="tdm-reservation" content="1"></head><body></body></html>'
    s = only(evaluate(url=URL, html=html), "tdmrep")
    assert (s.source, s.verdict) == ("meta", Verdict.DENY)


def test_tdmrep_json_first_match_in_order_wins() -> None:
    rules = [
        {"location": "/a/public/*", "tdm-reservation": 0},
        {"location": "/a/*", "tdm-reservation": 1, "tdm-policy": "https://example.org/p"},
        {"location": "/a/public/deep", "tdm-reservation": 1},
    ]
    site = site_signals(tdmrep_json=json.dumps(rules))
    s = only(evaluate(url="https://example.org/a/public/deep", site=site), "tdmrep")
    assert (s.source, s.verdict) == ("tdmrep.json", Verdict.ALLOW)
    s = only(evaluate(url=URL, site=site), "tdmrep")
    assert s.verdict is Verdict.DENY and "location /a/*" in s.detail and "https://example.org/p" in s.detail
    assert evaluate(url="https://example.org/b", site=site) == []


def test_tdmrep_json_patterns_anchor_and_wildcard() -> None:
    site = site_signals(tdmrep_json='[{"location": "*.pdf$", "tdm-reservation": 1}]')
    assert reserved(evaluate(url="https://example.org/x/y.pdf", site=site))
    assert evaluate(url="https://example.org/x/y.pdf.html", site=site) == []


@pytest.mark.parametrize(
    "text",
    ["{not json", '{"location": "/"}', '[{"location": "/", "tdm-reservation": 2}]', '[{"tdm-reservation": 1}]', "[1]"],
)
def test_tdmrep_json_malformed_is_error_for_every_url(text: str) -> None:
    site = site_signals(tdmrep_json=text)
    for url in (URL, "https://example.org/"):
        s = only(evaluate(url=url, site=site), "tdmrep")
        assert (s.source, s.verdict) == ("tdmrep.json", Verdict.ERROR)


def test_tdm_header_and_file_disagreeing_reports_both() -> None:
    site = site_signals(tdmrep_json='[{"location": "/", "tdm-reservation": 0}]')
    signals = evaluate(url=URL, site=site, headers={"tdm-reservation": "1"})
    assert sorted((s.source, s.verdict) for s in signals) == [
        ("header", Verdict.DENY),
        ("tdmrep.json", Verdict.ALLOW),
    ]
    assert reserved(signals)


# --- X-Robots-Tag and meta robots -------------------------------------------------------------------------


def test_x_robots_tag_noai_and_noimageai() -> None:
    s = only(evaluate(url=URL, headers={"X-Robots-Tag": "noindex, noai"}), "x-robots-tag")
    assert (s.verdict, s.detail) == (Verdict.DENY, "X-Robots-Tag: noai")
    assert evaluate(url=URL, headers={"X-Robots-Tag": "noimageai"}) == []
    assert reserved(evaluate(url=URL, headers={"X-Robots-Tag": "noimageai"}, is_image=True))


def test_x_robots_tag_agent_specificity() -> None:
    s = only(evaluate(url=URL, headers={"x-robots-tag": ["googlebot: noindex", "gptbot: noai"]}), "x-robots-tag")
    assert s.detail == "X-Robots-Tag: GPTBot: noai"
    assert evaluate(url=URL, headers={"X-Robots-Tag": "googlebot: noai"}) == []
    assert reserved(evaluate(url=URL, headers={"X-Robots-Tag": "googlebot: noai"}, agents=["Googlebot"]))
    # a date's colons do not open an agent scope
    h = {"X-Robots-Tag": "unavailable_after: 25 Jun 2030 15:00:00 PST, noai"}
    assert reserved(evaluate(url=URL, headers=h))


def test_meta_robots_and_per_agent() -> None:
    html = "<head><META NAME='robots' CONTENT='NOAI, noimageai'></head>"
    s = only(evaluate(url=URL, html=html), "meta-robots")
    assert (s.source, s.verdict, s.detail) == ("meta", Verdict.DENY, "meta robots: noai")
    assert reserved(evaluate(url=URL, html='<meta content="noai" name="CCBot">'))
    assert evaluate(url=URL, html='<meta name="googlebot" content="noai">') == []
    assert reserved(evaluate(url=URL, html='<meta name="googlebot" content="noai">', agents=["Googlebot"]))
    assert evaluate(url=URL, html='<meta name="robots" content="noimageai">') == []


def test_html_meta_is_robust_and_stops_at_head_end() -> None:
    html = (
        '<!doctype html><HTML><head><meta charset="utf-8">'
        "<meta name='A' content='single'>"
        '<meta content="before" name="B" >'
        "<Meta Name=C Content=unquoted/>"
        '<meta name="d" content="a &amp; b">'
        '<meta property="og:title" content="x">'
        '</head><body><meta name="late" content="ignored"></body>'
    )
    assert html_meta(html) == [("a", "single"), ("b", "before"), ("c", "unquoted/"), ("d", "a & b")]
    assert html_meta('<meta name="x" content="y"><body><meta name="z" content="w">') == [("x", "y")]


# --- ai.txt -----------------------------------------------------------------------------------------------


def test_ai_txt_file_type_patterns_match_anywhere() -> None:
    site = site_signals(ai_txt="User-Agent: *\nDisallow: *.jpg\nAllow: /\n")
    s = only(evaluate(url="https://x.org/img/a.jpg", site=site), "ai-txt")
    assert (s.source, s.verdict, s.detail) == ("ai.txt", Verdict.DENY, "* disallowed for /img/a.jpg")
    assert only(evaluate(url="https://x.org/a.txt", site=site), "ai-txt").verdict is Verdict.ALLOW


def test_ai_txt_disallow_all() -> None:
    site = site_signals(ai_txt="User-Agent: *\nDisallow: /\n")
    assert reserved(evaluate(url="https://x.org/", site=site))


# --- RSL --------------------------------------------------------------------------------------------------


def rsl(content: str, url: str = "/", server: str = "") -> str:
    attrs = f' url="{url}"' + (f' server="{server}"' if server else "")
    return f'<rsl xmlns="https://rslstandard.org/rsl"><content{attrs}><license>{content}</license></content></rsl>'


@pytest.mark.parametrize(
    ("terms", "verdict", "needle"),
    [
        ('<prohibits type="usage">ai-train</prohibits>', Verdict.DENY, "prohibits usage ai-train"),
        ('<prohibits type="usage">ai-all</prohibits>', Verdict.DENY, "ai-all"),
        ('<permits type="usage">search, ai-input</permits>', Verdict.DENY, "permits usage only ai-input, search"),
        ('<permits type="usage">ai-train</permits><payment type="purchase"/>', Verdict.DENY, "must be bought"),
        ('<permits type="usage">ai-all,search</permits><payment type="attribution"/>', Verdict.ALLOW, "ai-all"),
        ('<permits type="usage">all</permits>', Verdict.ALLOW, "permits usage all"),
        ('<prohibits type="usage">ai-input</prohibits>', Verdict.ALLOW, "all usage"),
    ],
)
def test_rsl_terms(terms: str, verdict: Verdict, needle: str) -> None:
    s = only(evaluate(url=URL, site=site_signals(rsl_xml=rsl(terms))), "rsl")
    assert s.verdict is verdict and needle in s.detail, s


def test_rsl_licence_server_requires_a_licence() -> None:
    xml = rsl('<permits type="usage">all</permits>', server="https://rsl.example.org/api")
    s = only(evaluate(url=URL, site=site_signals(rsl_xml=xml)), "rsl")
    assert s.verdict is Verdict.DENY and "licence server https://rsl.example.org/api" in s.detail


def test_rsl_content_url_matching() -> None:
    xml = rsl('<prohibits type="usage">ai-train</prohibits>', url="https://www.example.org/a/*")
    site = site_signals(rsl_xml=xml)
    assert reserved(evaluate(url=URL, site=site))
    assert evaluate(url="https://example.org/b", site=site) == []
    assert evaluate(url="https://other.net/a/b", site=site) == []


def test_rsl_malformed_is_error_and_entities_are_refused() -> None:
    assert only(evaluate(url=URL, site=site_signals(rsl_xml="<rsl><content")), "rsl").verdict is Verdict.ERROR
    bomb = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><rsl>&b;</rsl>'
    s = only(evaluate(url=URL, site=site_signals(rsl_xml=bomb)), "rsl")
    assert s.verdict is Verdict.ERROR


# --- IPTC plus:DataMining ---------------------------------------------------------------------------------

XMP_ATTR = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/"'
    ' plus:DataMining="http://ns.useplus.org/ldf/vocab/{value}"/></rdf:RDF></x:xmpmeta>'
)
XMP_ELEMENT = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/">'
    '<plus:DataMining rdf:resource="http://ns.useplus.org/ldf/vocab/{value}"/>'
    "</rdf:Description></rdf:RDF></x:xmpmeta>"
)


@pytest.mark.parametrize("template", [XMP_ATTR, XMP_ELEMENT])
@pytest.mark.parametrize(
    ("value", "verdict"),
    [
        ("DMI-PROHIBITED", Verdict.DENY),
        ("DMI-PROHIBITED-AIMLTRAINING", Verdict.DENY),
        ("DMI-PROHIBITED-GENAIMLTRAINING", Verdict.DENY),
        ("DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING", Verdict.DENY),
        ("DMI-PROHIBITED-SEECONSTRAINT", Verdict.DENY),
        ("DMI-ALLOWED", Verdict.ALLOW),
        ("DMI-SOMETHING-NEW", Verdict.ERROR),
    ],
)
def test_iptc_data_mining(template: str, value: str, verdict: Verdict) -> None:
    s = only(evaluate(url=None, xmp=template.format(value=value), is_image=True), "iptc")
    assert (s.source, s.verdict) == ("xmp", verdict) and value in s.detail


def test_iptc_unspecified_and_purpose() -> None:
    assert evaluate(url=None, xmp=XMP_ATTR.format(value="DMI-UNSPECIFIED")) == []
    genai_only = XMP_ATTR.format(value="DMI-PROHIBITED-GENAIMLTRAINING")
    assert evaluate(url=None, xmp=genai_only, purpose="train-ai") == []


def test_iptc_text_element_and_not_well_formed_fallback() -> None:
    text_form = XMP_ELEMENT.replace(
        '<plus:DataMining rdf:resource="http://ns.useplus.org/ldf/vocab/{value}"/>',
        "<plus:DataMining>DMI-PROHIBITED-AIMLTRAINING</plus:DataMining>",
    )
    assert reserved(evaluate(url=None, xmp=text_form))
    broken = XMP_ATTR.format(value="DMI-PROHIBITED").replace("</rdf:RDF>", "")
    assert only(evaluate(url=None, xmp=broken), "iptc").verdict is Verdict.DENY
    s = only(evaluate(url=None, xmp="<x:xmpmeta><plus:DataMining></x:xmp"), "iptc")
    assert s.verdict is Verdict.ERROR


def jpeg_with_xmp(packet: bytes) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buf, format="JPEG")
    jpeg = buf.getvalue()
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + packet
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + app1 + jpeg[2:]


def test_xmp_packet_from_a_real_jpeg() -> None:
    inner = XMP_ATTR.format(value="DMI-PROHIBITED-AIMLTRAINING")
    packet = f'<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>{inner}<?xpacket end="w"?>'.encode()
    data = jpeg_with_xmp(packet)
    with Image.open(io.BytesIO(data)) as im:  # still a valid JPEG
        im.load()
        assert im.size == (8, 8)
    found = xmp_packet(data)
    assert found == inner
    assert reserved(evaluate(url=None, xmp=found, is_image=True))


def test_xmp_packet_absent_and_xpacket_only() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, format="PNG")
    assert xmp_packet(buf.getvalue()) is None
    bare = b'<?xpacket begin="" id="x"?><rdf:RDF/><?xpacket end="w"?>'
    assert xmp_packet(b"\x89PNG junk " + bare + b" tail") == bare.decode()


# --- C2PA -------------------------------------------------------------------------------------------------


def store(entries: dict[str, Any], *, label: str = "c2pa.training-mining", active: bool = True) -> dict[str, Any]:
    manifests = {
        "urn:old": {"assertions": [{"label": label, "data": {"entries": {"c2pa.ai_training": {"use": "allowed"}}}}]},
        "urn:new": {
            "assertions": [{"label": "c2pa.actions", "data": {}}, {"label": label, "data": {"entries": entries}}]
        },
    }
    out: dict[str, Any] = {"manifests": manifests}
    if active:
        out["active_manifest"] = "urn:new"
    return out


def test_c2pa_active_manifest_decides() -> None:
    s = only(evaluate(url=None, c2pa=store({"c2pa.ai_generative_training": {"use": "notAllowed"}})), "c2pa")
    assert (s.source, s.verdict, s.detail) == ("c2pa", Verdict.DENY, "c2pa.ai_generative_training: notAllowed")
    # the older manifest's "allowed" does not count while an active manifest is named
    assert evaluate(url=None, c2pa=store({"c2pa.ai_inference": {"use": "notAllowed"}})) == []
    # without active_manifest every manifest is read
    s = only(evaluate(url=None, c2pa=store({"c2pa.ai_inference": {"use": "notAllowed"}}, active=False)), "c2pa")
    assert s.verdict is Verdict.ALLOW


def test_c2pa_constrained_cawg_and_purpose() -> None:
    entries = {"cawg.ai_training": {"use": "constrained", "constraint_info": "ask us"}}
    s = only(evaluate(url=None, c2pa=store(entries, label="cawg.training-mining")), "c2pa")
    assert s.verdict is Verdict.DENY and "ask us" in s.detail
    genai = {"c2pa.ai_generative_training": {"use": "notAllowed"}, "c2pa.data_mining": {"use": "notAllowed"}}
    assert evaluate(url=None, c2pa=store(genai), purpose="train-ai") == []


def test_c2pa_bad_shapes_are_errors() -> None:
    assert only(evaluate(url=None, c2pa={"manifests": []}), "c2pa").verdict is Verdict.ERROR
    assert only(evaluate(url=None, c2pa={"manifests": {}, "active_manifest": "urn:x"}), "c2pa").verdict is Verdict.ERROR
    bad_entries = {"manifests": {"m": {"assertions": [{"label": "c2pa.training-mining", "data": []}]}}}
    assert only(evaluate(url=None, c2pa=bad_entries), "c2pa").verdict is Verdict.ERROR
    assert only(evaluate(url=None, c2pa=store({"c2pa.ai_training": "no"})), "c2pa").verdict is Verdict.ERROR


# --- never raises on captured data ------------------------------------------------------------------------


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.sampled_from(["c2pa.training-mining", "u"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=30), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    robots=st.text(),
    tdmrep=st.text(),
    ai_txt=st.text(),
    rsl_xml=st.text(),
    headers=st.dictionaries(
        st.sampled_from(["Content-Usage", "Content-Signal", "TDM-Reservation", "tdm-policy", "X-Robots-Tag"])
        | st.text(),
        st.text() | st.lists(st.text(), max_size=3),
    ),
    c2pa=st.dictionaries(st.sampled_from(["manifests", "active_manifest"]) | st.text(), JSON)
    | JSON.map(lambda data: {"manifests": {"m": {"assertions": [{"label": "c2pa.training-mining", "data": data}]}}})
    | JSON.map(lambda use: store({"c2pa.ai_training": {"use": use}, "cawg.ai_generative_training": use})),
    html=st.text(),
    xmp=st.text(),
    url=st.sampled_from([URL, "https://example.org/", "/relative?q=1", "http://[::1/x", None]),
)
def test_evaluate_never_raises_on_captured_text(
    robots: str,
    tdmrep: str,
    ai_txt: str,
    rsl_xml: str,
    headers: dict[str, str | list[str]],
    html: str,
    xmp: str,
    c2pa: dict[str, Any],
    url: str | None,
) -> None:
    site = site_signals(robots_txt=robots, tdmrep_json=tdmrep, ai_txt=ai_txt, rsl_xml=rsl_xml)
    signals = evaluate(url=url, site=site, headers=headers, html=html, xmp=xmp + " DataMining", c2pa=c2pa)
    assert all(isinstance(s, Signal) and isinstance(s.verdict, Verdict) for s in signals)
    # a broken site file is never silently skipped, whatever the URL
    failed = {s.name for s in signals if s.verdict is Verdict.ERROR}
    assert site.tdmrep is not None and site.rsl is not None
    assert site.tdmrep.error is None or "tdmrep" in failed
    assert site.rsl.error is None or "rsl" in failed
