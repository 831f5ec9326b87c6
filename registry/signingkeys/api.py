from fastapi import APIRouter

from registry.auth.deps import Admin
from registry.core.deps import SessionDep, SettingsDep
from registry.signingkeys import service
from registry.signingkeys.schemas import PublicKeySet, PublicSigningKey

router = APIRouter(tags=["Signing keys"])


@router.get("/.well-known/registry-keys.json", response_model=PublicKeySet)
def well_known_keys(session: SessionDep, settings: SettingsDep) -> PublicKeySet:
    """Public, unauthenticated: every key the registry ever signed with, with its window.
    Save this file to verify manifests and checkpoints offline."""
    return PublicKeySet(log_origin=settings.log_origin,
                        keys=[PublicSigningKey.from_record(r) for r in service.public_keys(session)])


@router.post("/v1/signing-keys/rotate", response_model=PublicSigningKey)
def rotate(session: SessionDep, settings: SettingsDep, actor: Admin) -> PublicSigningKey:
    """Start signing with a new key; the old key's window closes now."""
    return PublicSigningKey.from_record(service.rotate(session, settings, actor))
