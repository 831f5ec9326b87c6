"""Every record type the audit log follows, and how its records look there.

Listed here, once, so that what the log covers is read in one place (and ``verify-log``
and the exports know every type whatever modules a process happened to import).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, SQLModel

from registry.assets.models import Asset
from registry.auditlog.service import snapshot
from registry.auth.models import ApiKey
from registry.checkjobs.models import CheckJob
from registry.checks.models import Check
from registry.claims.models import Claim
from registry.claims.service import events_by_claim
from registry.holders.models import RightsHolder
from registry.licences.models import Licence
from registry.lineage.models import AIModel, Generation
from registry.lineage.service import check_ids_of, training_sources_views
from registry.manifests.models import Manifest
from registry.optouts.models import OptOut
from registry.optouts.schemas import phash_hex
from registry.signals.models import SignalSnapshot
from registry.signingkeys.models import SigningKeyRecord
from registry.sources.models import Source
from registry.sources.schemas import DEFAULT_CATEGORY, AcquisitionMethod
from registry.sources.service import holder_ids_of
from registry.trainingsummary.models import TrainingSummaryStatement

# Record id → what the log adds to the record's columns, for many records at once.
Extras = Callable[[Session, list[Any]], dict[str, dict[str, Any]]]


@dataclass(frozen=True)
class AuditedType:
    model: type[SQLModel]
    # Links kept in other tables that are part of the record as the log remembers it, read
    # for a whole page of records at once: a fixed number of queries however many it holds.
    extras: Extras | None = None
    # Bookkeeping columns rewritten without a log entry (a job's lease and progress).
    unlogged: frozenset[str] = frozenset()
    # Columns added after records of this type were logged: from an entry written before
    # them, the value the migration gave the record (so a replay still pins it down).
    added: Mapping[str, Callable[[dict[str, Any]], Any]] = field(default_factory=dict)


def _linked(name: str, links_of: Callable[[Session, list[str]], Mapping[str, list[Any]]]) -> Extras:
    """The extra ``{name: [...]}``: what ``links_of`` finds for each record id (else [])."""
    def extras(session: Session, records: list[Any]) -> dict[str, dict[str, Any]]:
        links = links_of(session, [record.id for record in records])
        return {record.id: {name: links.get(record.id, [])} for record in records}
    return extras


def _constant(value: Any) -> Callable[[dict[str, Any]], Any]:
    return lambda logged: value


def _claim_events(session: Session, claim_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    return {claim_id: [snapshot(e) for e in events]
            for claim_id, events in events_by_claim(session, claim_ids).items()}


AUDITED: dict[str, AuditedType] = {
    "rights_holder": AuditedType(RightsHolder),
    "api_key": AuditedType(ApiKey),
    "signing_key": AuditedType(SigningKeyRecord),
    "licence": AuditedType(Licence),
    "source": AuditedType(Source, _linked("holder_ids", holder_ids_of), added={
        # migration 2026_12_06_training_summary
        "category": lambda logged: DEFAULT_CATEGORY[AcquisitionMethod(logged["acquisition_method"])].value,
        "crawler": _constant(None), "collection_period": _constant(None)}),
    "asset": AuditedType(Asset, added={  # migration 2026_12_06_asset_c2pa: never read before it
        "c2pa_trusted": _constant(False),
        **{name: _constant(None) for name in (
            "c2pa_state", "c2pa_manifest_label", "c2pa_claim_generator", "c2pa_signer_issuer",
            "c2pa_signer_name", "c2pa_terms", "c2pa_ai_training", "c2pa_detail")}}),
    "manifest": AuditedType(Manifest),
    "check": AuditedType(Check),
    # Heartbeats rewrite the lease and progress many times a run: bookkeeping, not history;
    # a look-up's answer is its requester's, not the log's (as a synchronous look-up is).
    "check_job": AuditedType(CheckJob, unlogged=frozenset({"frames_done", "seconds_done", "lease_until",
                                                           "lookup_items"})),
    "ai_model": AuditedType(AIModel, _linked("training_sources", training_sources_views)),
    "generation": AuditedType(Generation, _linked("check_ids", check_ids_of)),
    "opt_out": AuditedType(OptOut, lambda session, opt_outs: {
        o.id: {"phash": phash_hex(o.phash)} for o in opt_outs}),
    "claim": AuditedType(Claim, _linked("events", _claim_events)),
    "training_summary_statement": AuditedType(TrainingSummaryStatement),
    "signal_snapshot": AuditedType(SignalSnapshot),
}
