"""DSSE v1 envelopes (github.com/secure-systems-lab/dsse, protocol.md / envelope.md).

Verification follows the protocol's order on purpose: decode, verify the
signature over PAE(payloadType, payload bytes), and only then look at the
payloadType and hand back the bytes.  Nothing about the payload is interpreted
before the signature is known good, which is the point of DSSE (no
"parse then verify" confusion and no canonicalisation of the payload).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from registry.core.signing import Signer, Verifier

MAX_SIGNATURES = 64  # bounds verification work on hostile envelopes

_STD_ALPHABET = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_URL_ALPHABET = re.compile(r"[A-Za-z0-9_-]*={0,2}")


class DSSEError(ValueError):
    """Malformed envelope, bad signature or unexpected payloadType."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body.

    Lengths are byte lengths in ASCII decimal; the explicit lengths are what
    make the encoding unambiguous (no type/body boundary confusion).
    """
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode_dsse(value: Any, what: str) -> bytes:
    """Accept standard or URL-safe base64, padded or not; nothing else.

    The alphabets may not be mixed, padding (if present) must be complete,
    and the encoding must be canonical (zero trailing bits), so one byte
    string has a bounded, well-defined set of accepted spellings and junk
    such as whitespace or stray characters is refused rather than skipped.
    """
    if not isinstance(value, str):
        raise DSSEError(f"{what} must be a base64 string, got {type(value).__name__}")
    if _STD_ALPHABET.fullmatch(value):
        altchars = None
    elif _URL_ALPHABET.fullmatch(value):
        altchars = b"-_"
    else:
        raise DSSEError(f"{what} is not base64 (standard or URL-safe)")
    body = value.rstrip("=")
    if value != body and len(value) % 4:
        raise DSSEError(f"{what} has incomplete base64 padding")
    if len(body) % 4 == 1:
        raise DSSEError(f"{what} has an impossible base64 length")
    padded = body + "=" * (-len(body) % 4)
    try:
        raw = base64.b64decode(padded, altchars=altchars, validate=True)
    except binascii.Error:
        raise DSSEError(f"{what} is not valid base64") from None
    canonical = base64.b64encode(raw, altchars=altchars).decode("ascii").rstrip("=")
    if canonical != body:
        raise DSSEError(f"{what} is not canonical base64 (non-zero trailing bits)")
    return raw


def sign_envelope(payload_type: str, payload: bytes, signers: Sequence[Signer]) -> dict[str, Any]:
    if not isinstance(payload_type, str) or not payload_type:
        raise DSSEError("payloadType must be a non-empty string")
    try:
        payload_type.encode("utf-8")
    except UnicodeEncodeError:
        raise DSSEError("payloadType is not valid Unicode") from None
    if not signers:
        raise DSSEError("at least one signer is required")
    message = pae(payload_type, bytes(payload))
    return {
        "payload": _b64encode(bytes(payload)),
        "payloadType": payload_type,
        "signatures": [{"keyid": s.key_id, "sig": _b64encode(s.sign(message))} for s in signers],
    }


def unique_members(error: type[ValueError]) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    """A json ``object_pairs_hook`` refusing duplicate members: two "payload" members
    would let different parsers see different payloads."""
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            if k in out:
                raise error(f"duplicate JSON member {k!r}")
            out[k] = v
        return out
    return hook


_reject_duplicate_keys = unique_members(DSSEError)


def _load_envelope(envelope: dict[str, Any] | bytes | str) -> dict[str, Any]:
    if isinstance(envelope, (bytes, bytearray, str)):
        try:
            envelope = json.loads(envelope, object_pairs_hook=_reject_duplicate_keys)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DSSEError(f"envelope is not valid JSON: {exc}") from None
    if not isinstance(envelope, dict):
        raise DSSEError(f"envelope must be a JSON object, got {type(envelope).__name__}")
    return envelope


def verify_envelope(
    envelope: dict[str, Any] | bytes | str,
    verifiers: Iterable[Verifier],
    expected_payload_type: str,
    *,
    threshold: int = 1,
) -> bytes:
    """Verify a DSSE envelope and return the payload bytes for the caller to parse.

    Accepted when signatures from at least ``threshold`` distinct trusted keys
    verify.  Signatures that don't verify (or come from unknown keys) are
    skipped, per DSSE's multi-signature rules; ``keyid`` only narrows which
    keys are tried and is never trusted on its own.
    """
    if threshold < 1:
        raise ValueError("threshold must be >= 1")
    env = _load_envelope(envelope)

    # 1. Decode. Reject if decoding fails.
    for field in ("payload", "payloadType", "signatures"):
        if field not in env:
            raise DSSEError(f"envelope is missing {field!r}")
    payload = b64decode_dsse(env["payload"], "payload")
    payload_type = env["payloadType"]
    if not isinstance(payload_type, str):
        raise DSSEError("payloadType must be a string")
    try:
        payload_type.encode("utf-8")  # JSON can smuggle in lone surrogates
    except UnicodeEncodeError:
        raise DSSEError("payloadType is not valid Unicode") from None
    sigs = env["signatures"]
    if not isinstance(sigs, list) or not sigs:
        raise DSSEError("signatures must be a non-empty list")
    if len(sigs) > MAX_SIGNATURES:
        raise DSSEError(f"too many signatures ({len(sigs)} > {MAX_SIGNATURES})")
    decoded: list[tuple[str, bytes]] = []
    for i, s in enumerate(sigs):
        if not isinstance(s, dict):
            raise DSSEError(f"signatures[{i}] must be an object")
        if "sig" not in s:
            raise DSSEError(f"signatures[{i}] is missing 'sig'")
        keyid = s.get("keyid", "")
        if not isinstance(keyid, str):
            raise DSSEError(f"signatures[{i}].keyid must be a string")
        decoded.append((keyid, b64decode_dsse(s["sig"], f"signatures[{i}].sig")))

    # 2. Verify signatures over PAE of the exact payload bytes.
    trusted = list(verifiers)
    message = pae(payload_type, payload)
    accepted: set[str] = set()
    for keyid, sig in decoded:
        for v in trusted:
            if keyid and keyid != v.key_id:
                continue  # KEYID may narrow the candidates, nothing more
            if v.key_id not in accepted and v.verify(sig, message):
                accepted.add(v.key_id)
                break
        if len(accepted) >= threshold:
            break
    if len(accepted) < threshold:
        raise DSSEError(
            f"signature verification failed: {len(accepted)} of {threshold} required trusted signatures verified"
        )

    # 3. Only now is payloadType trustworthy enough to compare.
    if payload_type != expected_payload_type:
        raise DSSEError(f"unexpected payloadType {payload_type!r} (expected {expected_payload_type!r})")
    return payload
