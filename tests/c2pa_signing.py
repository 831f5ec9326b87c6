"""Signing sample images with C2PA manifests in the tests themselves: a throwaway
certificate chain made with ``cryptography`` (a root CA and an ES256 signing certificate
with the key usage and EKU the C2PA trust model asks of a claim signer), and the C2PA SDK's
Builder to embed a manifest carrying the given assertions."""

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image, PngImagePlugin

COMMENT = "signed for the registry's tests"


@dataclass(frozen=True)
class SigningChain:
    root_pem: bytes
    chain_pem: bytes  # signing certificate, then the root
    key_pem: bytes


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Studio CA")])


def _usage(*, signer: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=signer, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=not signer,
                         crl_sign=not signer, encipher_only=False, decipher_only=False)


def make_chain(signer_name: str = "Test Signer") -> SigningChain:
    """A root CA and a signing certificate it issued (C2PA refuses self-signed signers)."""
    now = datetime.now(UTC)
    root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def certificate(subject: x509.Name, public_key: Any) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(_name("Test Root CA"))
                .public_key(public_key).serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))

    root = (certificate(_name("Test Root CA"), root_key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_usage(signer=False), critical=True)
            .sign(root_key, hashes.SHA256()))
    leaf = (certificate(_name(signer_name), key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(signer=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
                           critical=False)
            .sign(root_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return SigningChain(root.public_bytes(pem), leaf.public_bytes(pem) + root.public_bytes(pem),
                     key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def training_mining(entries: dict[str, dict[str, str]],
                    label: str = "cawg.training-mining") -> dict[str, Any]:
    """A training-and-mining assertion, e.g. ``{"cawg.ai_training": {"use": "notAllowed"}}``."""
    return {"label": label, "data": {"entries": entries}}


def sign_png(source: Path, dest: Path, chain: SigningChain, assertions: list[dict[str, Any]],
             remote_url: str | None = None) -> Path:
    """``source`` as a PNG (with a text comment, for tampering later) and a signed manifest:
    embedded, or only referenced at ``remote_url``."""
    plain = io.BytesIO()
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", COMMENT)
    with Image.open(source) as image:
        image.save(plain, "PNG", pnginfo=info)
    plain.seek(0)
    manifest = {"claim_generator_info": [{"name": "registry-tests", "version": "1.0"}],
                "title": dest.name,
                "assertions": [{"label": "c2pa.actions", "data": {"actions": [{
                    "action": "c2pa.created",
                    "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"}]}},
                    *assertions]}
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(
        c2pa.C2paSigningAlg.ES256, chain.chain_pem, chain.key_pem, None))
    signed = io.BytesIO()
    with c2pa.Builder(manifest) as builder:
        if remote_url:
            builder.set_no_embed()
            builder.set_remote_url(remote_url)
        builder.sign(signer, "image/png", plain, signed)
    dest.write_bytes(signed.getvalue())
    return dest


def rewrite_chunk(path: Path, chunk_type: bytes, change: Callable[[bytes], bytes]) -> Path:
    """Change the first chunk of that type in a PNG, keeping its CRC right (so the image
    still decodes: only the C2PA hashes can tell)."""
    data, pos = path.read_bytes(), 8
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        if kind == chunk_type:
            body = change(data[pos + 8:pos + 8 + length])
            assert len(body) == length, "keep the chunk's length: offsets are hashed too"
            chunk = struct.pack(">I", length) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
            path.write_bytes(data[:pos] + chunk + data[pos + 12 + length:])
            return path
        pos += 12 + length
    raise AssertionError(f"no {chunk_type!r} chunk")
