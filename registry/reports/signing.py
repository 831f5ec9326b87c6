"""Signed reports: the report document canonicalised with RFC 8785, in a DSSE envelope
signed by the registry's active key; verified offline by ``registry verify-report``."""

import json
from typing import Any

import rfc8785
from pydantic import BaseModel
from sqlmodel import Session

from registry.core.config import Settings
from registry.core.signing import VerificationKey
from registry.manifests.dsse import DSSEError, sign_envelope, unique_members, verify_envelope
from registry.signingkeys.service import active_signer

PAYLOAD_TYPE = "application/vnd.provenance-registry.report+json"
ENVELOPE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"


class ReportInvalid(ValueError):
    """The signed report is not authentic or not a report."""


def canonical(report: BaseModel) -> bytes:
    return rfc8785.dumps(report.model_dump(mode="json"))


def envelope_bytes(session: Session, settings: Settings, report: BaseModel) -> bytes:
    """Ed25519 signatures are deterministic: the same report and key give the same bytes."""
    envelope = sign_envelope(PAYLOAD_TYPE, canonical(report), [active_signer(session, settings)])
    return json.dumps(envelope, indent=2).encode() + b"\n"


def verify_report(envelope: bytes | str, keys: list[VerificationKey]) -> dict[str, Any]:
    """Signature over the exact payload bytes first, then the payload type, then parsing."""
    try:
        payload = verify_envelope(envelope, keys, PAYLOAD_TYPE)
        document = json.loads(payload, object_pairs_hook=unique_members(ReportInvalid))
    except (DSSEError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportInvalid(str(exc)) from None
    if not isinstance(document, dict) or not isinstance(document.get("report"), str):
        raise ReportInvalid("the payload is not a registry report")
    if rfc8785.dumps(document) != payload:
        raise ReportInvalid("the payload is not RFC 8785 canonical JSON")
    return document


def describe(document: dict[str, Any]) -> str:
    """One line naming what a verified report is about."""
    kind = document["report"]
    if kind == "copyright_evidence":
        g = document.get("generation") or {}
        return (f"copyright evidence for generation {g.get('id')}: {len(document.get('matches') or [])} "
                f"match(es), log checkpoint size {(document.get('checkpoint') or {}).get('size')}")
    if kind == "clearance":
        scope = document.get("generation_id") or f"production {document.get('production')!r}"
        return f"clearance of {scope} for {document.get('use')} on {document.get('on')}: {document.get('verdict')}"
    if kind == "compensation_statement":
        m = document.get("model") or {}
        return (f"compensation statement for model {m.get('id')}, {document.get('period_start')}.."
                f"{document.get('period_end')}: {document.get('distributed')} of {document.get('pool')} "
                f"{document.get('currency')} over {document.get('line_count')} line(s)")
    if kind == "training_content_summary":
        m = ((document.get("general") or {}).get("model")) or {}
        return (f"training-content summary of model {m.get('id')} ({m.get('name')} {m.get('version')}), "
                f"version {document.get('summary_version')}, last update {document.get('last_update')}")
    return kind
