"""Settings, read from the environment with the ``REGISTRY_`` prefix."""

from enum import Enum
from functools import cached_property
from pathlib import Path

from cryptography import x509
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(str, Enum):
    development = "development"
    test = "test"
    production = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore")

    environment: Environment = Environment.development
    data_dir: Path = Path("registry-data")
    # Defaults to an SQLite file inside data_dir; production points this at PostgreSQL.
    database_url: str | None = None
    blob_dir: Path | None = None

    max_upload_bytes: int = 512 * 1024 * 1024
    max_image_pixels: int = 80_000_000
    max_clip_seconds: float = 600.0
    # Room for a full request of query descriptors in one body: ~330 KB per image, and a
    # minute-long clip's (its reframe part: ~52 MB, at most ~63 MB for any clip).
    max_json_bytes: int = 64 * 1024 * 1024
    # Clips longer than this are refused by POST /v1/checks and checked as jobs
    # (POST /v1/check-jobs), which accept clips up to job_clip_max_seconds.
    sync_clip_max_seconds: float = 60.0
    job_clip_max_seconds: float = 4 * 3600.0
    # Background job workers per API process (0: only `registry worker` processes work jobs).
    job_workers: int = 1
    # A running job's worker renews its lease as it reports progress; a job whose lease
    # ran out (its worker died) is taken over by another worker and re-run.
    job_lease_seconds: float = 60.0
    job_poll_seconds: float = 1.0

    # A portal sign-in lasts this long (then the browser signs in again); signing out or
    # revoking the key ends it at once.
    portal_session_hours: float = Field(default=8.0, gt=0, le=24 * 30)

    host: str = "127.0.0.1"
    port: int = 8000
    # Passphrase that encrypts the registry's private signing keys at rest. Without one
    # (development and test only) private keys are 0600 files in data_dir/keys.
    key_passphrase: SecretStr | None = None
    # Names the log in its checkpoints (C2SP tlog-checkpoint origin) and names its keys.
    log_origin: str = "provenance-registry.local/log"
    # A PEM file of the certificate authorities whose C2PA signers the registry trusts. None:
    # no signer is trusted (a manifest can still be valid: intact and correctly signed).
    c2pa_trust_anchors: Path | None = None

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> "Settings":
        if self.environment is Environment.production:
            problems = []
            if not self.key_passphrase or len(self.key_passphrase.get_secret_value()) < 16:
                problems.append("REGISTRY_KEY_PASSPHRASE must be set (16+ characters)")
            if self.database_url is None:
                problems.append("REGISTRY_DATABASE_URL must be set explicitly")
            if problems:
                raise ValueError("unsafe production settings: " + "; ".join(problems))
        return self

    @field_validator("c2pa_trust_anchors")
    @classmethod
    def _anchors_are_certificates(cls, path: Path | None) -> Path | None:
        """Refused at start-up rather than at the first upload: a typo would otherwise
        leave every signer untrusted without a word."""
        if path is None:
            return None
        try:
            x509.load_pem_x509_certificates(path.read_bytes())
        except OSError as exc:
            raise ValueError(f"REGISTRY_C2PA_TRUST_ANCHORS: cannot read {path}: {exc}") from None
        except ValueError as exc:
            raise ValueError(f"REGISTRY_C2PA_TRUST_ANCHORS: {path} is not a PEM certificate "
                             f"bundle: {exc}") from None
        return path

    @cached_property
    def c2pa_trust_anchor_pem(self) -> str | None:
        """The trust anchors' PEM text, read once (checked when the settings are made)."""
        if self.c2pa_trust_anchors is None:
            return None
        return self.c2pa_trust_anchors.read_text()

    @cached_property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'registry.db').resolve()}"

    @cached_property
    def effective_blob_dir(self) -> Path:
        return (self.blob_dir or self.data_dir / "blobs").resolve()

    @property
    def passphrase(self) -> str | None:
        return self.key_passphrase.get_secret_value() if self.key_passphrase else None

    @property
    def key_dir(self) -> Path:
        return self.data_dir.resolve() / "keys"

    def ensure_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.effective_blob_dir.mkdir(parents=True, exist_ok=True)
