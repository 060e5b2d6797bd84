"""C2PA manifests on delivered outputs: who made this file, that an AI model made it, and the generation's trace id,
signed so that any C2PA reader (Adobe's Content Credentials, the ``c2patool``) can check it.

Needs the ``c2pa`` extra (``c2pa-python``, the Content Authenticity Initiative's bindings to c2pa-rs), imported
only when a manifest is signed or read. The signing identity needs only ``cryptography``:
:func:`make_signing_identity` makes an offline test CA and an ES256 (P-256) signing certificate issued by it,
which ``copyalign init`` runs once. c2pa-rs refuses to sign with a certificate that is self-signed, lacks the
``digitalSignature`` key usage, lacks an extended key usage it accepts (``emailProtection`` here; the C2PA
signing EKU is not in this version's default list), or lacks the Authority Key Identifier; the ones made here
have all of that. A reader that does not know the test CA reports the manifest ``Valid`` with the failure
code ``signingCredential.untrusted``; one given the CA (``trust_anchors=identity.ca_pem``) reports ``Trusted``.
A production deployment uses a certificate from a CA on the C2PA trust list instead.

Signing is offline: no timestamp authority, no OCSP, no remote manifests. Sign last, after every other change
to the file (:func:`copyalign.core.guard.containers.write_aigc` included): the manifest's hash covers the bytes.

Example:
    >>> identity = make_signing_identity(tmp_path, organisation="Example AI")  # doctest: +SKIP
    >>> signed = sign_c2pa(png, "image/png", identity, trace_id="tr_01", producer="Example AI")  # doctest: +SKIP
    >>> read_c2pa(signed, "image/png")["trace_id"]  # doctest: +SKIP
    'tr_01'
"""

from __future__ import annotations

import datetime as dt
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import copyalign
from copyalign.errors import (
    ConfigurationError,
    ConflictError,
    InvalidInputError,
    MissingExtraError,
    UnsupportedContentError,
)

CERT_FILE = "c2pa-cert.pem"
KEY_FILE = "c2pa-key.pem"
TRACE_ASSERTION = "org.copyalign.trace"
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
UNTRUSTED = "signingCredential.untrusted"
_OFFLINE = {"remote_manifest_fetch": False, "ocsp_fetch": False}


def _lib() -> Any:
    try:
        import c2pa
    except (ImportError, OSError) as exc:  # OSError: the package is there but its native library will not load
        raise MissingExtraError("C2PA manifests", "c2pa") from exc
    return c2pa


def available() -> bool:
    """Whether the ``c2pa`` extra is installed and loads."""
    try:
        _lib()
    except MissingExtraError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class SigningIdentity:
    """A C2PA signing certificate chain (PEM, the signing certificate first, then its CA) and its P-256 key.

    Validated on construction: the chain parses, and the key is a P-256 key matching the first certificate.
    """

    cert_chain_pem: bytes
    private_key_pem: bytes = field(repr=False)

    def __post_init__(self) -> None:
        try:
            certs = x509.load_pem_x509_certificates(self.cert_chain_pem)
            key = serialization.load_pem_private_key(self.private_key_pem, password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"the C2PA signing identity does not load: {exc}", field="c2pa") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
            raise ConfigurationError("the C2PA signing key must be an ECDSA P-256 key (ES256)", field="c2pa")
        leaf_key = certs[0].public_key()
        if leaf_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) != key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
            raise ConfigurationError("the C2PA signing key does not match its certificate", field="c2pa")

    @property
    def ca_pem(self) -> bytes:
        """The last certificate of the chain: the CA a reader trusts to see this identity's manifests as
        ``Trusted`` (pass it to :func:`read_c2pa` as ``trust_anchors``)."""
        last = x509.load_pem_x509_certificates(self.cert_chain_pem)[-1]
        return last.public_bytes(serialization.Encoding.PEM)


def make_signing_identity(
    directory: Path,
    *,
    organisation: str,
    valid_days: int = 730,
    now: dt.datetime | None = None,
    overwrite: bool = False,
) -> SigningIdentity:
    """Create an offline test CA and a signing certificate for ``organisation`` and write them to ``directory``
    as :data:`CERT_FILE` (the chain: signing certificate, then CA) and :data:`KEY_FILE` (mode 0600). The CA's
    own key is not kept: it signs this one certificate and is thrown away.

    Raises:
        InvalidInputError: an empty organisation or a validity under one day.
        ConflictError: the directory already holds an identity and ``overwrite`` is false.
    """
    org = organisation.strip() if isinstance(organisation, str) else ""
    if not org:
        raise InvalidInputError("the organisation must not be empty", field="organisation")
    if valid_days < 1:
        raise InvalidInputError("the certificate must be valid for at least one day", field="valid_days")
    directory = Path(directory)
    cert_path, key_path = directory / CERT_FILE, directory / KEY_FILE
    if not overwrite and (cert_path.exists() or key_path.exists()):
        raise ConflictError(f"{directory} already holds a C2PA signing identity")
    start = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(minutes=5)  # tolerate a reader's clock skew
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{org} C2PA test CA"),
        ]
    )
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=max(3650, valid_days + 1)))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                    x509.NameAttribute(NameOID.COMMON_NAME, f"{org} C2PA signer"),
                ]
            )
        )
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    identity = SigningIdentity(
        leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(identity.private_key_pem)
    key_path.chmod(0o600)  # O_CREAT's mode does not apply to a file that already existed
    cert_path.write_bytes(identity.cert_chain_pem)
    return identity


def load_signing_identity(directory: Path) -> SigningIdentity:
    """The identity :func:`make_signing_identity` wrote to ``directory``.

    Raises:
        ConfigurationError: the files are missing or do not load.
    """
    directory = Path(directory)
    try:
        chain = (directory / CERT_FILE).read_bytes()
        key = (directory / KEY_FILE).read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"no C2PA signing identity in {directory} (run `copyalign init`): {exc.strerror}", field="c2pa"
        ) from exc
    return SigningIdentity(chain, key)


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def sign_c2pa(
    data: bytes,
    mime: str,
    identity: SigningIdentity,
    *,
    trace_id: str,
    producer: str,
    tsa_url: None = None,
    copyright_notice: dict[str, str] | None = None,
) -> bytes:
    """``data`` with an embedded C2PA manifest: a ``c2pa.created`` action whose ``digitalSourceType`` is IPTC's
    ``trainedAlgorithmicMedia``, and a :data:`TRACE_ASSERTION` assertion ``{"trace_id", "producer"}`` (with
    ``copyright_notice``, lang -> the disclaimer of seed 004 ¶80(c), when given), signed with ``identity``
    (ES256). ``tsa_url`` is reserved: signing is offline, with no timestamp.

    Raises:
        MissingExtraError: the ``c2pa`` extra is not installed.
        UnsupportedContentError: a media type C2PA cannot embed in, or bytes that are not that type.
        ConfigurationError: c2pa-rs refuses the signing certificate (expired, wrong extensions).
    """
    if tsa_url is not None:
        raise InvalidInputError("signing with a timestamp authority is not supported", field="tsa_url")
    for name, value in (("trace_id", trace_id), ("producer", producer)):
        if not isinstance(value, str) or not value.strip():
            raise InvalidInputError(f"{name} must not be empty", field=name)
    if not isinstance(identity, SigningIdentity):
        raise InvalidInputError("sign_c2pa takes a SigningIdentity", field="identity")
    c2pa = _lib()
    mime = mime.lower().strip()
    if mime not in c2pa.Builder.get_supported_mime_types():
        raise UnsupportedContentError(f"C2PA manifests cannot be embedded in {mime}", field="mime")
    trace_data: dict[str, Any] = {"trace_id": trace_id, "producer": producer}
    if copyright_notice:
        trace_data["copyright_notice"] = dict(copyright_notice)
    manifest = {
        "claim_generator_info": [{"name": "copyalign", "version": copyalign.__version__}],
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA}]},
            },
            {"label": TRACE_ASSERTION, "data": trace_data},
        ],
    }
    # no thumbnail: it would add a re-encoded copy of the picture (~25 KB) to every delivered output
    context = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": False}}, "verify": _OFFLINE})
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, identity.cert_chain_pem, identity.private_key_pem, None)
    dest = io.BytesIO()
    try:
        with c2pa.Signer.from_info(info) as signer, c2pa.Builder(manifest, context) as builder:
            builder.sign(signer, mime, io.BytesIO(bytes(data)), dest)
    except (c2pa.C2paError.Signature, c2pa.C2paError.Verify) as exc:
        raise ConfigurationError(f"the C2PA signing identity was refused: {exc}", field="c2pa") from exc
    except c2pa.C2paError as exc:
        raise UnsupportedContentError(f"cannot embed a C2PA manifest in this {mime} file: {exc}", field="data") from exc
    return dest.getvalue()


class C2paSummary(TypedDict):
    """What :func:`read_c2pa` reports of the active manifest.

    ``validation_state`` is c2pa-rs's: ``Invalid`` (a signature or hash does not verify), ``Valid`` (it does,
    but the signer's CA is not trusted), ``Trusted``. ``signature_valid`` is true for the last two; ``errors``
    are the failure codes other than :data:`UNTRUSTED` (``assertion.dataHash.mismatch`` for edited pixels).
    """

    claim_generator: str
    digital_source_type: str | None
    trace_id: str | None
    producer: str | None
    copyright_notice: dict[str, str] | None
    signer: str | None
    validation_state: str
    signature_valid: bool
    trusted: bool
    errors: list[str]


def read_c2pa(data: bytes, mime: str, *, trust_anchors: bytes | None = None) -> C2paSummary | None:
    """The active C2PA manifest's essentials (:class:`C2paSummary`); None when the file has no manifest.

    ``trust_anchors`` (PEM) are CA certificates to trust in addition to none: without them every signer is
    untrusted, which says nothing about whether the signature is valid.

    Raises:
        MissingExtraError: the ``c2pa`` extra is not installed.
        UnsupportedContentError: bytes c2pa-rs cannot parse as ``mime``, or a manifest store it cannot read.
    """
    c2pa = _lib()
    settings: dict[str, Any] = {"verify": _OFFLINE}
    if trust_anchors is not None:
        settings["trust"] = {"user_anchors": trust_anchors.decode("ascii")}
    try:
        context = c2pa.Context.from_dict(settings)
        reader = c2pa.Reader.try_create(mime, io.BytesIO(bytes(data)), None, context)
        if reader is None:
            return None
        with reader:
            manifest = reader.get_active_manifest()
            state = reader.get_validation_state() or "Invalid"
            results = reader.get_validation_results() or {}
    except c2pa.C2paError as exc:
        raise UnsupportedContentError(f"cannot read the C2PA manifest: {exc}", field="data") from exc
    if manifest is None:
        return None
    failures = [str(f.get("code")) for f in results.get("activeManifest", {}).get("failure", [])]
    assertions = {a.get("label"): a.get("data") for a in manifest.get("assertions", [])}
    trace = assertions.get(TRACE_ASSERTION)
    trace = trace if isinstance(trace, dict) else {}
    signature = manifest.get("signature_info") or {}
    return C2paSummary(
        claim_generator=_claim_generator(manifest),
        digital_source_type=_created_source_type(assertions),
        trace_id=_str_or_none(trace.get("trace_id")),
        producer=_str_or_none(trace.get("producer")),
        copyright_notice=_notice(trace.get("copyright_notice")),
        signer=_str_or_none(signature.get("common_name") or signature.get("issuer")),
        validation_state=str(state),
        signature_valid=state in ("Valid", "Trusted"),
        trusted=state == "Trusted",
        errors=[code for code in failures if code != UNTRUSTED],
    )


def _claim_generator(manifest: dict[str, Any]) -> str:
    info = manifest.get("claim_generator_info")
    if isinstance(info, list) and info and isinstance(info[0], dict):
        name, version = info[0].get("name", ""), info[0].get("version")
        return f"{name}/{version}" if version else str(name)
    return str(manifest.get("claim_generator", ""))


def _created_source_type(assertions: dict[Any, Any]) -> str | None:
    for label, data in assertions.items():
        if isinstance(label, str) and label.startswith("c2pa.actions") and isinstance(data, dict):
            for action in data.get("actions", []):
                if isinstance(action, dict) and action.get("action") == "c2pa.created":
                    return _str_or_none(action.get("digitalSourceType"))
    return None


def _notice(value: object) -> dict[str, str] | None:
    if not isinstance(value, dict):
        return None
    return {str(k): v for k, v in value.items() if isinstance(v, str)}


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
