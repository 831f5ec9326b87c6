"""Content Credentials (C2PA) embedded in an uploaded file, read offline at ingest.

The manifest store is read from the staged bytes by the C2PA SDK (``c2pa-python``) with
remote manifests and OCSP never fetched: a file whose manifest lives only at a URL is
recorded as ``unverified`` (neither intact nor tampered as far as the registry knows). Two
answers are kept apart:

* **valid**: the claim signature checks and every hash (the file's bytes, each assertion)
  matches: the manifest is intact and was signed by the holder of that certificate;
* **trusted**: the signing certificate chains to one of the deployment's trust anchors
  (``REGISTRY_C2PA_TRUST_ANCHORS``); with none configured no signer is trusted.

The training and mining terms (``cawg.training-mining``, and the older
``c2pa.training-mining``) of a valid manifest become the asset's training terms; an invalid
manifest's assertions are not imported, since nothing vouches for them.
"""

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import c2pa

NONE, VALID, INVALID, UNVERIFIED = "none", "valid", "invalid", "unverified"
USES = {"allowed", "notAllowed", "constrained"}
MINING_LABELS = {"cawg.training-mining", "c2pa.training-mining"}
# The entries that are about training a model (inference and data mining are recorded too,
# but do not decide the asset's AI-training term).
TRAINING_ENTRIES = {"cawg.ai_training", "cawg.ai_generative_training",
                    "c2pa.ai_training", "c2pa.ai_generative_training"}
# The registry's own vocabulary (licences') for the derived AI-training term.
_TERM = {"notAllowed": "not_allowed", "constrained": "constrained", "allowed": "allowed"}
# Trust is reported on its own, so "untrusted" is not one of the reasons a manifest is invalid.
_TRUST_CODES = {"signingCredential.untrusted"}
_VERSION_SUFFIX = re.compile(r"\.v\d+$")
_MAX_TEXT = 2000


@dataclass(frozen=True)
class ContentCredentials:
    state: str = NONE
    trusted: bool = False
    manifest_label: str | None = None
    claim_generator: str | None = None
    signer_issuer: str | None = None
    signer_name: str | None = None
    terms: list[dict[str, Any]] = field(default_factory=list)
    ai_training: str | None = None
    detail: str | None = None

    def columns(self) -> dict[str, Any]:
        """The asset's ``c2pa_*`` columns."""
        return {"c2pa_state": self.state, "c2pa_trusted": self.trusted,
                "c2pa_manifest_label": self.manifest_label,
                "c2pa_claim_generator": self.claim_generator,
                "c2pa_signer_issuer": self.signer_issuer, "c2pa_signer_name": self.signer_name,
                "c2pa_terms": self.terms, "c2pa_ai_training": self.ai_training,
                "c2pa_detail": self.detail}


def offline_settings(trust_anchor_pem: str | None) -> dict[str, Any]:
    """SDK settings: nothing fetched, the signer's trust checked against our anchors only."""
    settings: dict[str, Any] = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False,
                                           "verify_trust": True}}
    if trust_anchor_pem:
        settings["trust"] = {"trust_anchors": trust_anchor_pem}
    return settings


def read_content_credentials(path: Path, media_type: str,
                             trust_anchor_pem: str | None) -> ContentCredentials:
    """What the file's embedded C2PA manifest store says; never raises for what the file holds."""
    if media_type not in _supported_media_types():
        return ContentCredentials()  # a format that cannot carry a manifest the SDK reads
    # Made outside the try: settings the SDK refuses are the deployment's error, not the file's.
    with c2pa.Context.from_dict(offline_settings(trust_anchor_pem)) as context:
        try:
            with path.open("rb") as stream, c2pa.Reader(media_type, stream, context=context) as reader:
                store = json.loads(reader.json())
        except (c2pa.C2paError.ManifestNotFound, c2pa.C2paError.NotSupported):
            return ContentCredentials()
        except c2pa.C2paError as exc:
            remote = _remote_url(exc)
            if remote:  # not tampered, not checked: its manifest lives at a URL we do not fetch
                return ContentCredentials(state=UNVERIFIED, detail=_clip(
                    f"the manifest is not embedded but kept at {remote}, which the registry does not fetch"))
            return ContentCredentials(state=INVALID, detail=_clip(str(exc).strip() or type(exc).__name__))
    return _from_store(store)


@cache
def _supported_media_types() -> frozenset[str]:
    """Asked of the SDK once per process, not on every upload."""
    return frozenset(c2pa.Reader.get_supported_mime_types())


def _from_store(store: dict[str, Any]) -> ContentCredentials:
    label = store.get("active_manifest")
    manifest = (store.get("manifests") or {}).get(label) or {}
    signature = manifest.get("signature_info") or {}
    state = store.get("validation_state")
    found = {"manifest_label": _clip(label), "claim_generator": _clip(_generator(manifest)),
             "signer_issuer": _clip(signature.get("issuer")),
             "signer_name": _clip(signature.get("common_name"))}
    if state not in ("Valid", "Trusted"):
        failures = [s.get("code", "?") for s in store.get("validation_status") or []
                    if s.get("code") not in _TRUST_CODES]
        return ContentCredentials(state=INVALID, detail=_clip("; ".join(failures) or state),
                                  **found)
    terms = _training_terms(manifest.get("assertions") or [])
    return ContentCredentials(state=VALID, trusted=state == "Trusted", terms=terms,
                              ai_training=ai_training_term(terms), **found)


def _generator(manifest: dict[str, Any]) -> str | None:
    if manifest.get("claim_generator"):
        return str(manifest["claim_generator"])
    for info in manifest.get("claim_generator_info") or []:
        if isinstance(info, dict) and info.get("name"):
            return f"{info['name']} {info.get('version', '')}".strip()
    return None


def _training_terms(assertions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every well-formed entry of the manifest's training-mining assertions, sorted."""
    terms = {}
    for assertion in assertions:
        if _VERSION_SUFFIX.sub("", str(assertion.get("label", ""))) not in MINING_LABELS:
            continue
        entries = (assertion.get("data") or {}).get("entries") or {}
        for entry, value in entries.items() if isinstance(entries, dict) else ():
            if isinstance(value, dict) and value.get("use") in USES:
                info = value.get("constraint_info")
                terms[str(entry)[:100]] = {"entry": str(entry)[:100], "use": value["use"],
                                           "constraint_info": _clip(info) if info else None}
    return [terms[k] for k in sorted(terms)]


def ai_training_term(terms: list[dict[str, Any]]) -> str | None:
    """One term for AI training: the strictest of the training entries'."""
    uses = {t["use"] for t in terms if t["entry"] in TRAINING_ENTRIES}
    for use in ("notAllowed", "constrained", "allowed"):
        if use in uses:
            return _TERM[use]
    return None


def constraint_text(terms: list[dict[str, Any]]) -> str:
    return "; ".join(t["constraint_info"] for t in terms
                     if t["entry"] in TRAINING_ENTRIES and t["use"] == "constrained"
                     and t["constraint_info"])


def _remote_url(exc: Exception) -> str | None:
    """The URL of a manifest the SDK was told not to fetch ("Remote: ... <url>"), if that is
    what went wrong."""
    message = str(exc).strip()
    return message.rsplit(" ", 1)[-1] if message.startswith("Remote:") else None


def _clip(value: Any) -> str | None:
    return None if value is None else str(value)[:_MAX_TEXT]
