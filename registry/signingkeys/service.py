"""The registry's own Ed25519 keys: generated, rotated and loaded from the database.

Private keys never leave the process: they are stored PKCS#8-encrypted with
REGISTRY_KEY_PASSPHRASE, or, in development without a passphrase, in 0600 files.
"""

from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select

from registry.auth.actor import Actor
from registry.core.config import Environment, Settings
from registry.core.errors import ChangedConcurrently, Conflict, ServiceUnavailable
from registry.core.models import utcnow
from registry.core.signing import (
    Keyring,
    KeyringError,
    SigningKey,
    VerificationKey,
    encrypt_private_key,
    load_private_key,
    read_unencrypted_private_key,
    write_unencrypted_private_key,
)
from registry.signingkeys.models import SigningKeyRecord
from registry.unit_of_work import commit_changes

ENTITY = "signing_key"


def _development(settings: Settings) -> bool:
    return settings.environment is not Environment.production


def _to_key(record: SigningKeyRecord, settings: Settings) -> SigningKey | VerificationKey:
    public = VerificationKey(record.key_name, record.public_key, record.not_before, record.not_after)
    if public.key_id != record.id:
        raise KeyringError(f"signing key {record.id} does not match its public key")
    if record.encrypted_private_pem and settings.passphrase:
        return SigningKey(public, load_private_key(record.encrypted_private_pem, settings.passphrase))
    if record.private_key_file and _development(settings):
        return SigningKey(public, read_unencrypted_private_key(record.private_key_file,
                                                               development=True))
    return public


def load_keyring(session: Session, settings: Settings) -> Keyring:
    records = session.exec(select(SigningKeyRecord).where(
        SigningKeyRecord.key_name == settings.log_origin)).all()
    return Keyring(_to_key(r, settings) for r in records)


def _store(session: Session, settings: Settings, key: SigningKey) -> SigningKeyRecord:
    record = SigningKeyRecord(id=key.key_id, key_name=key.key_name, public_key=key.public_key_bytes,
                              not_before=key.not_before or utcnow(), not_after=key.not_after)
    if settings.passphrase:
        record.encrypted_private_pem = encrypt_private_key(key.private_key, settings.passphrase)
    elif _development(settings):
        settings.key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = settings.key_dir / f"{key.key_id}.pem"
        write_unencrypted_private_key(key, path, development=True)
        record.private_key_file = str(path)
    else:
        raise ServiceUnavailable("REGISTRY_KEY_PASSPHRASE is required to store a signing key")
    session.add(record)
    return record


def _commit_new_key(session: Session, actor: Actor, record: SigningKeyRecord,
                    changes: list[tuple[str, str, SQLModel]]) -> None:
    """Commit, or leave nothing behind: a development key's file goes with a lost race."""
    try:
        commit_changes(session, actor, changes)
    except BaseException:
        if record.private_key_file:
            Path(record.private_key_file).unlink(missing_ok=True)
        raise


def ensure_active_key(session: Session, settings: Settings, actor: Actor) -> bool:
    """Create the first signing key if no key is valid now; returns whether one was made.
    Of processes doing this at once (replicas each running ``db upgrade``), the database
    lets one key in (one open key per name); the others find it made."""
    keyring = load_keyring(session, settings)
    try:
        keyring.select_key_valid_at(utcnow())
        return False
    except KeyringError:
        record = _store(session, settings, SigningKey.generate(settings.log_origin, utcnow()))
        try:
            _commit_new_key(session, actor, record, [("signing_key.created", ENTITY, record)])
        except IntegrityError:
            return False
        return True


def rotate(session: Session, settings: Settings, actor: Actor,
           now: datetime | None = None) -> SigningKeyRecord:
    """A new key signs from now on; the old one keeps verifying what it signed before."""
    now = now or utcnow()
    keyring = load_keyring(session, settings)
    try:
        current = keyring.select_key_valid_at(now)
    except KeyringError:
        raise Conflict("there is no active signing key to rotate") from None
    old = session.get(SigningKeyRecord, current.key_id)
    assert old is not None
    if old.not_after is not None:
        # Valid at this request's ``now`` but already given an end by a rotation that read
        # the clock later and committed first: rotating it again would leave two open keys.
        raise ChangedConcurrently(f"signing key {old.id} was rotated by a simultaneous request")
    new_key = SigningKey.generate(settings.log_origin, now)
    old.not_after = now
    session.add(old)
    record = _store(session, settings, new_key)
    # One transaction: a rotation racing this one updates the same old key's row, and
    # only one of them can (the other is refused whole, its new key never stored).
    try:
        _commit_new_key(session, actor, record, [("signing_key.retired", ENTITY, old),
                                                 ("signing_key.created", ENTITY, record)])
    except IntegrityError:
        raise ChangedConcurrently("a simultaneous rotation opened a new signing key first") from None
    return record


def active_signer(session: Session, settings: Settings) -> SigningKey:
    try:
        return load_keyring(session, settings).active_signer(utcnow())
    except KeyringError as exc:
        raise ServiceUnavailable(f"no usable signing key: {exc}; run `registry db upgrade` "
                                 "or check REGISTRY_KEY_PASSPHRASE") from None


def public_keys(session: Session) -> list[SigningKeyRecord]:
    return list(session.exec(select(SigningKeyRecord).order_by(SigningKeyRecord.not_before)).all())
