"""C2SP signed notes (c2sp.org/signed-note) and checkpoints (c2sp.org/tlog-checkpoint).

A checkpoint note looks like::

    example.com/log
    42
    <base64 root>
    [extension lines]
    <blank line>
    — example.com/log <base64(4-byte key id || 64-byte Ed25519 signature)>

The parser is strict (the note is attacker-supplied input) and mirrors the
reference Go implementation (golang.org/x/mod/sumdb/note): text and signatures
are split at the *last* blank line, unknown keys are ignored, a known key
whose signature fails rejects the whole note, and at least one known key must
verify.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from registry.auditlog.merkle import HASH_SIZE
from registry.core.signing import (
    ED25519_SIGNATURE_TYPE,
    PUBLIC_KEY_SIZE,
    KeyringError,
    Signer,
    VerificationKey,
    Verifier,
    c2sp_key_id,
    validate_key_name,
)

SIG_PREFIX = "\u2014 "  # EM DASH + space
MAX_SIGNATURES = 100  # spec: must accept >= 16; Go's reference caps at 100
_SIZE_RE = re.compile(r"0|[1-9][0-9]*")  # ASCII only, no leading zeroes, no sign
_MAX_SIZE = 2**64 - 1


class NoteError(ValueError):
    """Malformed or unverifiable signed note / checkpoint."""


@dataclass(frozen=True)
class NoteSignature:
    key_name: str
    key_id: bytes  # 4 bytes
    signature: bytes  # algorithm-specific, 64 bytes for Ed25519


@dataclass(frozen=True)
class Note:
    text: str  # includes the final newline, excludes the blank separator
    signatures: tuple[NoteSignature, ...]


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        """Note text; validated so we never sign something we'd refuse to parse."""
        if not self.origin or any(ord(c) < 0x20 for c in self.origin):
            raise NoteError("origin must be non-empty and free of control characters")
        if not 0 <= self.size <= _MAX_SIZE:
            raise NoteError(f"tree size {self.size} out of range")
        if len(self.root) != HASH_SIZE:
            raise NoteError(f"root hash must be {HASH_SIZE} bytes")
        for ext in self.extensions:
            if not ext or any(ord(c) < 0x20 for c in ext):
                raise NoteError("extension lines must be non-empty and free of control characters")
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode("ascii"), *self.extensions]
        return "".join(line + "\n" for line in lines)


# ---------------------------------------------------------------------------
# Encoding helpers
# ---------------------------------------------------------------------------


def _b64decode_strict(s: str, what: str) -> bytes:
    """Standard base64 with padding, canonical only.

    Re-encoding and comparing rejects whitespace, missing padding and
    non-zero trailing bits, so each value has exactly one accepted spelling.
    """
    try:
        raw = base64.b64decode(s.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise NoteError(f"{what} is not valid base64") from None
    if base64.b64encode(raw).decode("ascii") != s:
        raise NoteError(f"{what} is not canonical base64")
    return raw


def format_vkey(key_name: str, public_key: bytes) -> str:
    """``<name>+<hex key id>+<base64(0x01 || pubkey)>`` (note verifier key)."""
    key_id = c2sp_key_id(key_name, public_key)
    blob = base64.b64encode(bytes([ED25519_SIGNATURE_TYPE]) + public_key).decode("ascii")
    return f"{key_name}+{key_id.hex()}+{blob}"


def parse_vkey(vkey: str) -> VerificationKey:
    """Parse a vkey and check its embedded key id matches name + key."""
    # The name cannot contain '+', the base64 part can: split at most twice.
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise NoteError("vkey must be name+keyid+key")
    name, id_hex, blob = parts
    if not re.fullmatch(r"[0-9a-f]{8}", id_hex):
        raise NoteError("vkey key id must be 8 lowercase hex digits")
    raw = _b64decode_strict(blob, "vkey key")
    if len(raw) != 1 + PUBLIC_KEY_SIZE or raw[0] != ED25519_SIGNATURE_TYPE:
        raise NoteError("vkey is not an Ed25519 (type 0x01) key")
    try:
        key = VerificationKey(name, raw[1:])
    except KeyringError as exc:
        raise NoteError(f"invalid vkey: {exc}") from None
    if key.key_id != id_hex:
        raise NoteError(f"vkey key id {id_hex} does not match the key ({key.key_id})")
    return key


# ---------------------------------------------------------------------------
# Generic signed notes
# ---------------------------------------------------------------------------


def sign_note(text: str, signers: Sequence[Signer]) -> bytes:
    """Sign ``text`` (must end in a newline) with every signer."""
    if not signers:
        raise NoteError("at least one signer is required")
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    _check_characters(text)
    data = text.encode("utf-8")
    lines = []
    for s in signers:
        try:
            validate_key_name(s.key_name)
            # Derive the id from name + key rather than trusting s.key_id, so a
            # signer with a differently computed id can't emit bad lines.
            key_id = c2sp_key_id(s.key_name, s.public_key_bytes)
        except KeyringError as exc:
            raise NoteError(f"invalid signer: {exc}") from None
        sig = s.sign(data)
        lines.append(f"{SIG_PREFIX}{s.key_name} {base64.b64encode(key_id + sig).decode('ascii')}\n")
    return (text + "\n" + "".join(lines)).encode("utf-8")


def _check_characters(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteError("note is not valid UTF-8 (lone surrogate)") from None
    for ch in text:
        if ord(ch) < 0x20 and ch != "\n":
            raise NoteError(f"note contains control character U+{ord(ch):04X}")


def parse_note(note: bytes | str) -> Note:
    """Split and syntax-check a signed note without verifying anything."""
    if isinstance(note, bytes):
        try:
            msg = note.decode("utf-8", errors="strict")
        except UnicodeDecodeError:
            raise NoteError("note is not valid UTF-8") from None
    else:
        msg = note
    _check_characters(msg)
    if not msg.endswith("\n"):
        raise NoteError("note does not end with a newline")
    split = msg.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no blank line before the signatures")
    text, sig_block = msg[: split + 1], msg[split + 2 :]
    if not sig_block:
        raise NoteError("note has no signature lines")
    lines = sig_block[:-1].split("\n")  # block ends with "\n"
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"too many signatures ({len(lines)} > {MAX_SIGNATURES})")
    sigs = []
    for n, line in enumerate(lines, start=1):
        if not line.startswith(SIG_PREFIX):
            raise NoteError(f"signature line {n} does not start with an em dash and space")
        name, sep, b64 = line[len(SIG_PREFIX) :].partition(" ")
        if not sep or not b64:
            raise NoteError(f"signature line {n} lacks a signature")
        try:
            validate_key_name(name)
        except KeyringError as exc:
            raise NoteError(f"signature line {n}: {exc}") from None
        raw = _b64decode_strict(b64, f"signature line {n}")
        if len(raw) < 5:
            raise NoteError(f"signature line {n} is too short")
        sigs.append(NoteSignature(name, raw[:4], raw[4:]))
    return Note(text, tuple(sigs))


def open_note(note: bytes | str, verifiers: Iterable[Verifier]) -> tuple[Note, list[Verifier]]:
    """Parse and verify a note; returns it with the verifiers that signed it."""
    parsed = parse_note(note)
    known: dict[tuple[str, str], Verifier] = {}
    for v in verifiers:
        known[(v.key_name, v.key_id)] = v
    data = parsed.text.encode("utf-8")
    verified: list[Verifier] = []
    seen: set[tuple[str, str]] = set()
    for sig in parsed.signatures:
        ident = (sig.key_name, sig.key_id.hex())
        verifier = known.get(ident)
        if verifier is None:
            continue  # unknown (name, id): ignored per spec, e.g. witnesses
        if ident in seen:
            continue  # repeated signature by one key counts once
        seen.add(ident)
        if not verifier.verify(sig.signature, data):
            raise NoteError(f"invalid signature for known key {sig.key_name}+{sig.key_id.hex()}")
        verified.append(verifier)
    if not verified:
        raise NoteError("note has no valid signature from a known key")
    return parsed, verified


# ---------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------


def parse_checkpoint_text(text: str) -> Checkpoint:
    """Parse the body of a checkpoint (no signature checks)."""
    if not text.endswith("\n"):
        raise NoteError("checkpoint text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError("checkpoint needs origin, size and root lines")
    if any(not line for line in lines):
        raise NoteError("checkpoint lines must be non-empty")
    origin, size_s, root_s, *extensions = lines
    if not _SIZE_RE.fullmatch(size_s):
        raise NoteError(f"tree size {size_s!r} is not a canonical decimal")
    size = int(size_s)
    if size > _MAX_SIZE:
        raise NoteError("tree size exceeds 2**64-1")
    root = _b64decode_strict(root_s, "root hash")
    if len(root) != HASH_SIZE:
        raise NoteError(f"root hash must be {HASH_SIZE} bytes, got {len(root)}")
    return Checkpoint(origin, size, root, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signers: Sequence[Signer]) -> bytes:
    return sign_note(checkpoint.body(), signers)


def verify_checkpoint(
    note: bytes | str, verifiers: Iterable[Verifier], *, expected_origin: str | None = None
) -> Checkpoint:
    """Verify signatures first, then parse the body (never trust unverified text)."""
    parsed, _ = open_note(note, verifiers)
    cp = parse_checkpoint_text(parsed.text)
    if expected_origin is not None and cp.origin != expected_origin:
        raise NoteError(f"checkpoint origin {cp.origin!r} != expected {expected_origin!r}")
    return cp
