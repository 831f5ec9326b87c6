"""Ed25519 keyring with validity windows, shared by checkpoints and DSSE.

Design notes
------------
* Key ids are the C2SP signed-note key id (first 4 bytes of
  SHA-256(name || 0x0A || 0x01 || pubkey)), hex-encoded, so the same id
  appears in checkpoint signature lines, DSSE ``keyid`` and vkey strings.
* Validity windows are half-open ``[not_before, not_after)``; rotation sets
  the old key's ``not_after`` to the new key's ``not_before``, so exactly one
  key is valid at any instant and "which key signed at time t" is unambiguous.
* Storage is abstract: keys go out as ``KeyRecord`` (metadata + PKCS#8 PEM
  encrypted with a caller-supplied passphrase) and come back the same way.
  Unencrypted PEM exists only as a 0600 file, and only when the caller states
  it is a development setup.
* All timestamps must be timezone-aware: a naive datetime compared against a
  stored UTC window silently shifts by the host's offset.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519_SIGNATURE_TYPE = 0x01  # C2SP signed-note signature type byte
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64


class KeyringError(ValueError):
    """Bad key material, wrong passphrase, or no key valid at a time."""


class SignatureVerificationError(ValueError):
    """A signature did not verify with the key valid at the claimed time."""


@runtime_checkable
class Signer(Protocol):
    """Anything that can produce Ed25519 signatures for a named key."""

    @property
    def key_name(self) -> str: ...

    @property
    def key_id(self) -> str: ...

    @property
    def public_key_bytes(self) -> bytes: ...

    def sign(self, data: bytes) -> bytes: ...


@runtime_checkable
class Verifier(Protocol):
    """Checks signatures for one named key. ``verify`` never raises on a bad
    signature; it returns False so callers decide how to report it."""

    @property
    def key_name(self) -> str: ...

    @property
    def key_id(self) -> str: ...

    def verify(self, signature: bytes, data: bytes) -> bool: ...


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def validate_key_name(name: str) -> None:
    """C2SP: key names are non-empty, without Unicode spaces or '+'."""
    if not isinstance(name, str) or not name:
        raise KeyringError("key name must be a non-empty string")
    if any(ch.isspace() or ch == "+" or ord(ch) < 0x20 for ch in name):
        raise KeyringError(f"key name {name!r} must not contain spaces, '+' or control characters")


def c2sp_key_id(key_name: str, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || 0x01 || pubkey)[:4] (c2sp.org/signed-note)."""
    validate_key_name(key_name)
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise KeyringError(f"Ed25519 public key must be {PUBLIC_KEY_SIZE} bytes")
    h = hashes.Hash(hashes.SHA256())
    h.update(key_name.encode("utf-8") + b"\n" + bytes([ED25519_SIGNATURE_TYPE]) + public_key)
    return h.finalize()[:4]


def _aware(t: datetime, what: str) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise KeyringError(f"{what} must be timezone-aware")
    return t


def _now() -> datetime:
    return datetime.now(UTC)


def _passphrase_bytes(passphrase: str | bytes) -> bytes:
    pw = passphrase.encode("utf-8") if isinstance(passphrase, str) else bytes(passphrase)
    if not pw:
        raise KeyringError("passphrase must not be empty")
    return pw


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# ---------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class VerificationKey:
    """Public half of a key plus its validity window. Implements ``Verifier``."""

    key_name: str
    public_key_bytes: bytes
    not_before: datetime | None = None  # None: unbounded (e.g. a bare vkey)
    not_after: datetime | None = None

    def __post_init__(self) -> None:
        validate_key_name(self.key_name)
        if len(self.public_key_bytes) != PUBLIC_KEY_SIZE:
            raise KeyringError(f"Ed25519 public key must be {PUBLIC_KEY_SIZE} bytes")
        if self.not_before is not None:
            _aware(self.not_before, "not_before")
        if self.not_after is not None:
            _aware(self.not_after, "not_after")
            if self.not_before is not None and self.not_after < self.not_before:
                raise KeyringError("not_after is before not_before")

    @property
    def key_id_bytes(self) -> bytes:
        return c2sp_key_id(self.key_name, self.public_key_bytes)

    @property
    def key_id(self) -> str:
        return self.key_id_bytes.hex()

    def verify(self, signature: bytes, data: bytes) -> bool:
        if len(signature) != SIGNATURE_SIZE:
            return False
        try:
            # OpenSSL's Ed25519 rejects non-canonical S (S >= L), so a
            # malleated copy of a valid signature does not verify.
            Ed25519PublicKey.from_public_bytes(self.public_key_bytes).verify(bytes(signature), bytes(data))
        except InvalidSignature:
            return False
        return True

    def valid_at(self, at: datetime) -> bool:
        _aware(at, "time")
        if self.not_before is not None and at < self.not_before:
            return False
        return self.not_after is None or at < self.not_after


@dataclass(frozen=True)
class SigningKey:
    """Private Ed25519 key plus its public metadata. Implements ``Signer``."""

    public: VerificationKey
    private_key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        if _raw_public(self.private_key.public_key()) != self.public.public_key_bytes:
            raise KeyringError("private key does not match the recorded public key")

    @classmethod
    def generate(cls, key_name: str, not_before: datetime | None = None) -> SigningKey:
        priv = Ed25519PrivateKey.generate()
        start = _aware(not_before, "not_before") if not_before else _now()
        return cls(VerificationKey(key_name, _raw_public(priv.public_key()), start, None), priv)

    @property
    def key_name(self) -> str:
        return self.public.key_name

    @property
    def key_id(self) -> str:
        return self.public.key_id

    @property
    def public_key_bytes(self) -> bytes:
        return self.public.public_key_bytes

    @property
    def not_before(self) -> datetime | None:
        return self.public.not_before

    @property
    def not_after(self) -> datetime | None:
        return self.public.not_after

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(bytes(data))

    def verify(self, signature: bytes, data: bytes) -> bool:
        return self.public.verify(signature, data)


# ---------------------------------------------------------------------------
# PEM serialisation
# ---------------------------------------------------------------------------


def encrypt_private_key(private_key: Ed25519PrivateKey, passphrase: str | bytes) -> bytes:
    """PKCS#8 PEM encrypted with the library's best available scheme."""
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(_passphrase_bytes(passphrase)),
    )


def load_private_key(pem: bytes, passphrase: str | bytes | None) -> Ed25519PrivateKey:
    """Load PKCS#8 PEM; ``passphrase=None`` only for unencrypted dev keys."""
    pw = None if passphrase is None else _passphrase_bytes(passphrase)
    try:
        key = serialization.load_pem_private_key(pem, password=pw)
    except (ValueError, TypeError) as exc:
        # cryptography uses ValueError for a wrong passphrase / corrupt data
        # and TypeError for an encrypted-vs-unencrypted mismatch.
        raise KeyringError(f"cannot load private key (wrong passphrase or corrupt PEM): {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyringError("private key is not Ed25519")
    return key


def write_unencrypted_private_key(key: SigningKey, path: str | os.PathLike[str], *, development: bool) -> None:
    """Write an unencrypted PEM with mode 0600. Refused unless development.

    O_EXCL means we never follow a pre-planted file/symlink or clobber a key.
    """
    if not development:
        raise KeyringError("unencrypted private keys may only be written in development mode")
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(os.fspath(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # independent of the process umask
        os.write(fd, pem)
    finally:
        os.close(fd)


def read_unencrypted_private_key(path: str | os.PathLike[str], *, development: bool) -> Ed25519PrivateKey:
    if not development:
        raise KeyringError("unencrypted private keys may only be read in development mode")
    p = Path(path)
    if p.stat().st_mode & 0o077:
        raise KeyringError(f"{p} is readable by group/others; expected mode 0600")
    return load_private_key(p.read_bytes(), None)


@dataclass(frozen=True)
class KeyRecord:
    """What a storage layer persists for one key (DB row or file)."""

    key_name: str
    key_id: str
    public_key: bytes
    not_before: datetime | None
    not_after: datetime | None
    encrypted_private_pem: bytes | None  # None for verify-only entries


def key_to_record(key: SigningKey | VerificationKey, passphrase: str | bytes | None) -> KeyRecord:
    pub = key.public if isinstance(key, SigningKey) else key
    pem = None
    if isinstance(key, SigningKey):
        if passphrase is None:
            raise KeyringError("a passphrase is required to export a private key")
        pem = encrypt_private_key(key.private_key, passphrase)
    return KeyRecord(pub.key_name, pub.key_id, pub.public_key_bytes, pub.not_before, pub.not_after, pem)


def key_from_record(record: KeyRecord, passphrase: str | bytes | None) -> SigningKey | VerificationKey:
    """Rebuild a key, checking the stored key id against the public key so a
    tampered row cannot silently re-label a key."""
    pub = VerificationKey(record.key_name, record.public_key, record.not_before, record.not_after)
    if pub.key_id != record.key_id:
        raise KeyringError(f"key id {record.key_id} does not match public key ({pub.key_id})")
    if record.encrypted_private_pem is None or passphrase is None:
        return pub
    return SigningKey(pub, load_private_key(record.encrypted_private_pem, passphrase))


# ---------------------------------------------------------------------------
# Keyring
# ---------------------------------------------------------------------------


class Keyring:
    """Keys for one key name (e.g. the log origin), ordered by not_before."""

    def __init__(self, keys: Iterable[SigningKey | VerificationKey] = ()) -> None:
        self._keys: list[SigningKey | VerificationKey] = []
        for k in keys:
            self.add(k)

    @classmethod
    def generate(cls, key_name: str, now: datetime | None = None) -> Keyring:
        return cls([SigningKey.generate(key_name, now or _now())])

    @staticmethod
    def _pub(k: SigningKey | VerificationKey) -> VerificationKey:
        return k.public if isinstance(k, SigningKey) else k

    def add(self, key: SigningKey | VerificationKey) -> None:
        if any(self._pub(k).key_id == self._pub(key).key_id for k in self._keys):
            raise KeyringError(f"duplicate key id {key.key_id}")
        self._keys.append(key)
        self._keys.sort(key=lambda k: self._pub(k).not_before or datetime.min.replace(tzinfo=UTC))

    @property
    def keys(self) -> Sequence[SigningKey | VerificationKey]:
        return tuple(self._keys)

    def verifiers(self) -> list[VerificationKey]:
        """Every public key, retired ones included: old signatures (e.g. old
        checkpoints) must keep verifying after rotation."""
        return [self._pub(k) for k in self._keys]

    def select_key_valid_at(self, at: datetime, key_id: str | None = None) -> VerificationKey:
        """The key whose window contains ``at`` (optionally: must be ``key_id``)."""
        _aware(at, "time")
        candidates = [self._pub(k) for k in self._keys if key_id is None or self._pub(k).key_id == key_id]
        if key_id is not None and not candidates:
            raise KeyringError(f"unknown key id {key_id}")
        for pub in candidates:
            if pub.valid_at(at):
                return pub
        which = f"key {key_id}" if key_id else "any key"
        raise KeyringError(f"{which} is not valid at {at.isoformat()}")

    def active_signer(self, now: datetime | None = None) -> SigningKey:
        at = now or _now()
        pub = self.select_key_valid_at(at)
        for k in self._keys:
            if isinstance(k, SigningKey) and k.public == pub:
                return k
        raise KeyringError(f"no private key loaded for active key {pub.key_id}")

    def rotate(self, now: datetime | None = None) -> SigningKey:
        """New key valid from ``now``; the current one gets ``not_after = now``."""
        at = _aware(now, "now") if now else _now()
        current = self.select_key_valid_at(at)
        if current.not_after is not None:
            raise KeyringError("the active key already has a scheduled not_after; refusing to rotate")
        retired = replace(current, not_after=at)
        self._keys = [
            (replace(k, public=retired) if isinstance(k, SigningKey) else retired) if self._pub(k) == current else k
            for k in self._keys
        ]
        new = SigningKey.generate(current.key_name, at)
        self.add(new)
        return new

    def verify_at(self, signature: bytes, data: bytes, at: datetime, key_id: str | None = None) -> VerificationKey:
        """Verify with the key valid at the recorded time ``at``.

        A signature by a key outside its window (e.g. a retired key claiming
        a time after its not_after) is rejected even if mathematically valid:
        that is what limits the damage of a leaked retired key.
        """
        try:
            pub = self.select_key_valid_at(at, key_id)
        except KeyringError as exc:
            raise SignatureVerificationError(str(exc)) from None
        if not pub.verify(signature, data):
            raise SignatureVerificationError(f"signature does not verify with key {pub.key_id}")
        return pub

    def to_records(self, passphrase: str | bytes) -> list[KeyRecord]:
        return [key_to_record(k, passphrase) for k in self._keys]

    @classmethod
    def from_records(cls, records: Iterable[KeyRecord], passphrase: str | bytes | None) -> Keyring:
        return cls(key_from_record(r, passphrase) for r in records)
