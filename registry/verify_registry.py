"""``registry verify-log``: replays the database against its log and reports divergence.

Checks, in order: the entries form a gap-free sequence whose canonical payloads hash to the
stored leaves and name their own position; the Merkle tree rebuilt from those leaves matches
every stored node and every signed checkpoint; the latest logged state of every record
equals the record in the database; every manifest still carries a valid signature over the
payload digest its log entry recorded. It reads every domain (manifests, signing keys,
each audited record type), so it sits above them rather than inside the log's package.
"""


import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

from sqlmodel import Session, select

from registry.audited import AUDITED, AuditedType
from registry.auditlog import merkle
from registry.auditlog.checkpoint import NoteError, verify_checkpoint
from registry.auditlog.models import LogCheckpoint, LogEntry, LogHead, LogNode
from registry.core.config import Settings
from registry.manifests.dsse import DSSEError, verify_envelope
from registry.manifests.models import Manifest
from registry.manifests.statement import PAYLOAD_TYPE
from registry.signingkeys.service import load_keyring
from registry.unit_of_work import record_views

_BATCH = 5000
_VIEWS_PER_BATCH = 500  # records whose extras are read together


@dataclass(frozen=True)
class Divergence:
    check: str
    detail: str
    idx: int | None = None
    entity: str | None = None

    def __str__(self) -> str:
        where = " ".join(p for p in (f"entry {self.idx}" if self.idx is not None else "",
                                     self.entity or "") if p)
        return f"[{self.check}] {where + ': ' if where else ''}{self.detail}"


def _entries(session: Session) -> Iterator[LogEntry]:
    last = -1
    while True:
        batch = session.exec(select(LogEntry).where(LogEntry.idx > last)
                             .order_by(LogEntry.idx).limit(_BATCH)).all()
        if not batch:
            return
        yield from batch
        last = batch[-1].idx
        session.expunge_all()


def _check_entries(session: Session, problems: list[Divergence],
                   latest: dict[tuple[str, str], tuple[int, dict]]) -> merkle.InMemoryNodeStore:
    tree = merkle.InMemoryNodeStore()
    expected = 0
    for entry in _entries(session):
        if entry.idx != expected:
            problems.append(Divergence("sequence", f"entries {expected}..{entry.idx - 1} are missing "
                                       "(deleted from the log)", idx=entry.idx))
            expected = entry.idx
        try:
            payload = json.loads(entry.payload)
        except ValueError:
            problems.append(Divergence("payload", "payload is not JSON", idx=entry.idx))
            payload = {}
        if payload.get("idx") != entry.idx:
            problems.append(Divergence("order", f"payload was written as entry {payload.get('idx')} "
                                       "(entries reordered or moved)", idx=entry.idx))
        columns = {"action": entry.action, "entity_type": entry.entity_type,
                   "entity_id": entry.entity_id, "actor": entry.actor}
        for name, value in columns.items():
            if payload.get(name) != value:
                problems.append(Divergence("columns", f"column {name}={value!r} but payload says "
                                           f"{payload.get(name)!r}", idx=entry.idx))
        leaf = merkle.leaf_hash(entry.payload)
        if leaf != entry.leaf_hash:
            problems.append(Divergence("leaf", "payload does not hash to the stored leaf "
                                       "(entry edited)", idx=entry.idx))
        tree.append(leaf)
        expected = entry.idx + 1
        if "entity_type" in payload:
            latest[(payload["entity_type"], payload["entity_id"])] = (entry.idx, payload.get("data"))
    return tree


def _check_tree(session: Session, settings: Settings, tree: merkle.InMemoryNodeStore,
                problems: list[Divergence]) -> None:
    head = session.exec(select(LogHead.size).where(LogHead.id == 1)).one()
    if head != tree.size:
        problems.append(Divergence("size", f"log head says {head} entries, log holds {tree.size}"))
    for level, idx, digest in session.execute(select(LogNode.level, LogNode.idx, LogNode.hash)):
        ours = tree.get_nodes([(level, idx)]).get((level, idx))
        if ours != digest:
            problems.append(Divergence("tree", f"stored Merkle node ({level}, {idx}) differs from "
                                       "the one rebuilt from the entries"))
    _check_checkpoints(session, settings, tree, problems)


def _check_checkpoints(session: Session, settings: Settings, tree: merkle.InMemoryNodeStore,
                       problems: list[Divergence]) -> None:
    """Every stored checkpoint: its signature, its stored size and root against the ones
    it signs, that root against the tree rebuilt at its size; and the chain -- each names
    the one before it, the log head names the last -- so none was deleted."""
    def problem(detail: str) -> None:
        problems.append(Divergence("checkpoint", detail))

    keys = load_keyring(session, settings).verifiers()
    previous = None
    for checkpoint in session.exec(select(LogCheckpoint).order_by(LogCheckpoint.size)).all():
        if checkpoint.previous_size != previous:
            problem(f"checkpoint {checkpoint.size} follows checkpoint {checkpoint.previous_size}, "
                    f"but the one stored before it is {previous} (a checkpoint was deleted)")
        previous = checkpoint.size
        try:
            signed = verify_checkpoint(checkpoint.note, keys, expected_origin=settings.log_origin)
        except NoteError as exc:
            problem(f"checkpoint {checkpoint.size}: {exc}")
            continue
        if (signed.size, signed.root) != (checkpoint.size, checkpoint.root):
            problem(f"checkpoint {checkpoint.size}: the stored size or root differs from the "
                    "signed note's (the row was edited)")
        if signed.size > tree.size:
            problem(f"signed checkpoint of size {signed.size} is beyond the log's {tree.size} "
                    "entries (log truncated)")
        elif merkle.root(signed.size, tree) != signed.root:
            problem(f"signed checkpoint of size {signed.size} does not match the log rebuilt "
                    "from its entries (history rewritten)")
    latest = session.exec(select(LogHead.checkpoint_size).where(LogHead.id == 1)).one()
    if latest != previous:
        problem(f"the log head names checkpoint {latest} as the latest signed, but the latest "
                f"stored is {previous} (a checkpoint was deleted)")


def _check_records(session: Session, latest: dict[tuple[str, str], tuple[int, dict]],
                   problems: list[Divergence]) -> None:
    for entity_type, spec in AUDITED.items():
        seen = set()
        records = session.exec(select(spec.model)).all()
        # the views of many records at once (their extras: a few queries per batch)
        views = (view for start in range(0, len(records), _VIEWS_PER_BATCH)
                 for view in record_views(session, entity_type,
                                          records[start:start + _VIEWS_PER_BATCH]))
        for record, current in zip(records, views, strict=True):
            record_id = getattr(record, "id")
            seen.add(record_id)
            logged = latest.get((entity_type, record_id))
            if logged is None:
                problems.append(Divergence("replay", "record has no log entry",
                                           entity=f"{entity_type} {record_id}"))
                continue
            idx, data = logged
            data = _with_added_columns(spec, data or {})
            changed = sorted(k for k in set(current) | set(data) if current.get(k) != data.get(k))
            if changed:
                detail = "; ".join(f"{k}: log {data.get(k)!r}, database {current.get(k)!r}"
                                   for k in changed[:5])
                problems.append(Divergence("replay", f"differs from its last log entry: {detail}",
                                           idx=idx, entity=f"{entity_type} {record_id}"))
        for (logged_type, logged_id), (idx, _) in latest.items():
            if logged_type == entity_type and logged_id not in seen:
                problems.append(Divergence("replay", "logged record is missing from the database",
                                           idx=idx, entity=f"{entity_type} {logged_id}"))


def _with_added_columns(spec: AuditedType, data: dict) -> dict:
    """A record as its entry pins it: columns added after the entry was written hold what
    the migration that added them gave the record."""
    missing = {name: value_of(data) for name, value_of in spec.added.items() if name not in data}
    return data | missing if missing else data


def _check_manifests(session: Session, settings: Settings, problems: list[Divergence]) -> None:
    keys = load_keyring(session, settings).verifiers()
    for manifest in session.exec(select(Manifest).where(Manifest.kind == "registry")).all():
        entity = f"manifest {manifest.id}"
        try:
            envelope = json.loads(manifest.envelope)
            payload = verify_envelope(envelope, keys, PAYLOAD_TYPE)
        except (ValueError, DSSEError) as exc:
            problems.append(Divergence("manifest", f"envelope does not verify: {exc}", entity=entity))
            continue
        if hashlib.sha256(payload).hexdigest() != manifest.payload_sha256:
            problems.append(Divergence("manifest", "signed payload differs from the logged digest "
                                       "(manifest substituted)", entity=entity))
        del envelope, payload
        session.expunge(manifest)


def verify_log(session: Session, settings: Settings) -> list[Divergence]:
    problems: list[Divergence] = []
    latest: dict[tuple[str, str], tuple[int, dict]] = {}
    tree = _check_entries(session, problems, latest)
    _check_tree(session, settings, tree, problems)
    _check_records(session, latest, problems)
    _check_manifests(session, settings, problems)
    return problems


