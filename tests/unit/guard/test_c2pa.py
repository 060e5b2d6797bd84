from __future__ import annotations

import datetime as dt
import io
import stat
import sys
from pathlib import Path

import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from PIL import Image

from copyalign.core.guard.aigc import AigcLabel
from copyalign.core.guard.containers import read_aigc, write_aigc
from copyalign.errors import (
    ConfigurationError,
    ConflictError,
    InvalidInputError,
    MissingExtraError,
    UnsupportedContentError,
)
from copyalign.services.guard import c2pa
from copyalign.services.guard.labels import read_labels

needs_c2pa = pytest.mark.skipif(not c2pa.available(), reason="needs the c2pa extra")


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> c2pa.SigningIdentity:
    return c2pa.make_signing_identity(tmp_path_factory.mktemp("c2pa"), organisation="Example AI")


def _image(fmt: str, size: tuple[int, int] = (80, 60)) -> bytes:
    arr = np.random.default_rng(1).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, fmt)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------- the identity


def test_signing_identity_is_a_ca_issued_es256_certificate_with_what_c2pa_requires(tmp_path: Path) -> None:
    identity = c2pa.make_signing_identity(tmp_path, organisation="Example AI")
    chain = x509.load_pem_x509_certificates((tmp_path / c2pa.CERT_FILE).read_bytes())
    assert len(chain) == 2
    leaf, ca = chain
    assert leaf.issuer == ca.subject != leaf.subject
    leaf.verify_directly_issued_by(ca)
    assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey)
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert stat.S_IMODE((tmp_path / c2pa.KEY_FILE).stat().st_mode) == 0o600
    assert c2pa.load_signing_identity(tmp_path) == identity
    assert identity.ca_pem.startswith(b"-----BEGIN CERTIFICATE-----") and b"PRIVATE" not in identity.ca_pem
    assert "PRIVATE" not in repr(identity)


def test_an_existing_identity_is_not_overwritten_by_accident(tmp_path: Path) -> None:
    first = c2pa.make_signing_identity(tmp_path, organisation="Example AI")
    with pytest.raises(ConflictError):
        c2pa.make_signing_identity(tmp_path, organisation="Example AI")
    second = c2pa.make_signing_identity(tmp_path, organisation="Example AI", overwrite=True)
    assert second != first and c2pa.load_signing_identity(tmp_path) == second


def test_loading_a_missing_or_mismatched_identity_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="copyalign init"):
        c2pa.load_signing_identity(tmp_path)
    a = c2pa.make_signing_identity(tmp_path / "a", organisation="A")
    b = c2pa.make_signing_identity(tmp_path / "b", organisation="B")
    with pytest.raises(ConfigurationError, match="does not match"):
        c2pa.SigningIdentity(a.cert_chain_pem, b.private_key_pem)


def test_the_organisation_is_required(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError) as err:
        c2pa.make_signing_identity(tmp_path, organisation=" ")
    assert err.value.field == "organisation"


# ------------------------------------------------------------------------------------------ sign and read


@needs_c2pa
@pytest.mark.parametrize(("fmt", "mime"), [("PNG", "image/png"), ("JPEG", "image/jpeg")])
def test_signed_manifest_reads_back_with_the_trace_id(identity: c2pa.SigningIdentity, fmt: str, mime: str) -> None:
    src = _image(fmt)
    signed = c2pa.sign_c2pa(src, mime, identity, trace_id="tr_0123", producer="Example AI")
    found = c2pa.read_c2pa(signed, mime)
    assert found is not None
    assert found["trace_id"] == "tr_0123" and found["producer"] == "Example AI"
    assert found["digital_source_type"] == c2pa.TRAINED_ALGORITHMIC_MEDIA
    assert found["claim_generator"].startswith("copyalign/")
    assert found["signer"] == "Example AI C2PA signer"
    # a self-made CA: the signature is valid, the signer is not trusted by a reader that does not know the CA
    assert (found["validation_state"], found["signature_valid"], found["trusted"]) == ("Valid", True, False)
    assert found["errors"] == []
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(signed))), np.asarray(Image.open(io.BytesIO(src))))


@needs_c2pa
def test_a_reader_that_trusts_the_ca_sees_the_manifest_as_trusted(
    identity: c2pa.SigningIdentity, tmp_path: Path
) -> None:
    signed = c2pa.sign_c2pa(_image("PNG"), "image/png", identity, trace_id="tr_1", producer="Example AI")
    found = c2pa.read_c2pa(signed, "image/png", trust_anchors=identity.ca_pem)
    assert found is not None and found["validation_state"] == "Trusted" and found["trusted"]
    stranger = c2pa.make_signing_identity(tmp_path, organisation="Someone else")
    other = c2pa.read_c2pa(signed, "image/png", trust_anchors=stranger.ca_pem)
    assert other is not None and other["validation_state"] == "Valid" and not other["trusted"]


@needs_c2pa
def test_editing_the_pixels_after_signing_is_detected(identity: c2pa.SigningIdentity) -> None:
    signed = bytearray(c2pa.sign_c2pa(_image("JPEG"), "image/jpeg", identity, trace_id="tr_2", producer="Example AI"))
    signed[signed.rindex(b"\xff\xd9") - 20] ^= 0x01  # one bit of the entropy-coded scan
    found = c2pa.read_c2pa(bytes(signed), "image/jpeg")
    assert found is not None
    assert found["validation_state"] == "Invalid" and not found["signature_valid"]
    assert "assertion.dataHash.mismatch" in found["errors"]
    assert found["trace_id"] == "tr_2"  # still readable, for tracing a tampered copy


@needs_c2pa
def test_labels_written_before_signing_survive_and_labels_written_after_break_the_manifest(
    identity: c2pa.SigningIdentity,
) -> None:
    label = AigcLabel(label="1", content_producer="Example AI", produce_id="tr_3")
    labelled = write_aigc(_image("PNG"), label)
    signed = c2pa.sign_c2pa(labelled, "image/png", identity, trace_id="tr_3", producer="Example AI")
    report = read_labels(signed, trust_anchors=identity.ca_pem)
    assert report.aigc == label
    assert report.c2pa is not None and report.c2pa["trace_id"] == "tr_3" and report.c2pa["trusted"]
    relabelled = write_aigc(signed, AigcLabel(label="1", content_producer="Someone else", produce_id="x"))
    after = c2pa.read_c2pa(relabelled, "image/png")
    assert read_aigc(relabelled) is not None
    assert after is not None and not after["signature_valid"]


@needs_c2pa
def test_a_file_without_a_manifest_reads_as_none() -> None:
    assert c2pa.read_c2pa(_image("JPEG"), "image/jpeg") is None


@needs_c2pa
def test_bytes_that_are_not_the_claimed_type_are_refused(identity: c2pa.SigningIdentity) -> None:
    with pytest.raises(UnsupportedContentError):
        c2pa.sign_c2pa(b"\x89PNG\r\n\x1a\nthis is not a png", "image/png", identity, trace_id="t", producer="p")
    with pytest.raises(UnsupportedContentError):
        c2pa.sign_c2pa(_image("PNG"), "text/plain", identity, trace_id="t", producer="p")
    with pytest.raises(UnsupportedContentError):
        c2pa.read_c2pa(b"\x89PNG\r\n\x1a\njunk", "image/png")


@needs_c2pa
def test_an_expired_certificate_is_refused_as_configuration(tmp_path: Path) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    expired = c2pa.make_signing_identity(tmp_path, organisation="Example AI", valid_days=2, now=past)
    with pytest.raises(ConfigurationError):
        c2pa.sign_c2pa(_image("PNG"), "image/png", expired, trace_id="t", producer="p")


def test_signing_needs_a_trace_id(identity: c2pa.SigningIdentity) -> None:
    with pytest.raises(InvalidInputError) as err:
        c2pa.sign_c2pa(_image("PNG"), "image/png", identity, trace_id="", producer="p")
    assert err.value.field == "trace_id"


def test_without_the_extra_signing_says_which_extra_to_install(
    identity: c2pa.SigningIdentity, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "c2pa", None)  # what `import c2pa` sees when the package is absent
    assert not c2pa.available()
    with pytest.raises(MissingExtraError) as err:
        c2pa.sign_c2pa(_image("PNG"), "image/png", identity, trace_id="t", producer="p")
    assert err.value.extra == "c2pa"
    with pytest.raises(MissingExtraError):
        c2pa.read_c2pa(_image("PNG"), "image/png")
