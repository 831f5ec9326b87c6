"""The log's Merkle tree in the database: checkpoints and proofs, O(log n) rows each."""

import base64
from collections.abc import Iterable

from sqlalchemy import update
from sqlmodel import Session, select

from registry.auditlog import merkle
from registry.auditlog.checkpoint import Checkpoint, NoteError, parse_checkpoint_text, parse_note, sign_checkpoint
from registry.auditlog.models import LogCheckpoint, LogEntry, LogHead
from registry.auditlog.service import node_lookup
from registry.core.config import Settings
from registry.core.errors import InvalidInput, NotFound, ServiceUnavailable
from registry.signingkeys.service import active_signer


class DbNodeStore:
    """``merkle.NodeStore`` over the log_node table: one query per proof."""

    def __init__(self, session: Session) -> None:
        self.get_nodes = node_lookup(session)


class _ReadNodes:
    """``merkle.NodeStore`` over nodes already read (a missing one stays missing)."""

    def __init__(self, nodes: dict[merkle.NodeKey, bytes]) -> None:
        self.nodes = nodes

    def get_nodes(self, keys: list[merkle.NodeKey]) -> dict[merkle.NodeKey, bytes]:
        return {key: self.nodes[key] for key in keys if key in self.nodes}


# Nodes per query when proving many leaves: with the levels' parameters, under SQLite's
# historic limit of 999 bound parameters.
_NODES_PER_QUERY = 900


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def log_size(session: Session) -> int:
    return session.exec(select(LogHead.size).where(LogHead.id == 1)).one()


def _check_size(session: Session, tree_size: int) -> None:
    size = log_size(session)
    if tree_size > size:
        raise InvalidInput(f"tree_size {tree_size} is beyond the log's size {size}")


def _as_signed(stored: LogCheckpoint) -> LogCheckpoint:
    """The stored checkpoint, refused if its columns disagree with its own signed note:
    exports, reports and evidence publish the root column, which nothing else protects."""
    try:
        signed = parse_checkpoint_text(parse_note(stored.note).text)
    except NoteError:
        signed = None
    if signed is None or (signed.size, signed.root) != (stored.size, bytes(stored.root)):
        raise ServiceUnavailable(
            f"the stored checkpoint for tree size {stored.size} does not match its signed note; "
            "the log's storage was altered: run `registry verify-log`")
    return stored


def latest_checkpoint(session: Session, settings: Settings) -> LogCheckpoint:
    """The signed checkpoint for the current size, signing one if none exists yet."""
    stored = session.get(LogCheckpoint, log_size(session))
    if stored is not None:
        return _as_signed(stored)
    # Signing holds the log head's row (as appends do), so checkpoints are chained in
    # size order and the head names the latest, whichever replica signs it.
    session.execute(update(LogHead).where(LogHead.id == 1)
                    .values(checkpoint_size=LogHead.checkpoint_size))
    head = session.exec(select(LogHead).where(LogHead.id == 1)
                        .execution_options(populate_existing=True)).one()
    stored = session.get(LogCheckpoint, head.size)
    if stored is not None:  # another replica signed it while this one waited
        session.rollback()
        return _as_signed(stored)
    root = merkle.root(head.size, DbNodeStore(session))
    signer = active_signer(session, settings)
    note = sign_checkpoint(Checkpoint(settings.log_origin, head.size, root), [signer]).decode()
    checkpoint = LogCheckpoint(size=head.size, root=root, note=note, key_id=signer.key_id,
                               previous_size=head.checkpoint_size)
    head.checkpoint_size = head.size
    session.add_all([checkpoint, head])
    session.commit()
    return checkpoint


def stored_checkpoint(session: Session, size: int) -> LogCheckpoint:
    checkpoint = session.get(LogCheckpoint, size)
    if checkpoint is None:
        raise NotFound(f"no checkpoint was published for tree size {size}")
    return _as_signed(checkpoint)


def inclusion(session: Session, idx: int, tree_size: int) -> dict:
    return inclusions(session, [idx], tree_size)[idx]


def inclusions(session: Session, idxs: Iterable[int], tree_size: int) -> dict[int, dict]:
    """Inclusion proofs of many leaves (by index) in the tree of ``tree_size`` leaves: the
    log's size read once, the root computed once, and every node the proofs need fetched
    together (one query per ``_NODES_PER_QUERY`` nodes), however many leaves."""
    wanted = sorted(set(idxs))
    if any(not 0 <= idx < tree_size for idx in wanted):
        raise InvalidInput("need 0 <= idx < tree_size")
    if not wanted:
        return {}
    _check_size(session, tree_size)
    keys = dict.fromkeys(merkle.root_keys(tree_size))
    for idx in wanted:
        keys.update(dict.fromkeys([(0, idx), *merkle.inclusion_proof_keys(idx, tree_size)]))
    ordered, lookup, nodes = list(keys), node_lookup(session), {}
    for start in range(0, len(ordered), _NODES_PER_QUERY):
        nodes.update(lookup(ordered[start:start + _NODES_PER_QUERY]))
    store = _ReadNodes(nodes)
    root = b64(merkle.root(tree_size, store))
    return {idx: {"idx": idx, "tree_size": tree_size, "leaf_hash": b64(nodes[(0, idx)]),
                  "root": root,
                  "proof": [b64(h) for h in merkle.inclusion_proof(idx, tree_size, store)]}
            for idx in wanted}


def consistency(session: Session, first: int, second: int) -> dict:
    if not 0 < first <= second:
        raise InvalidInput("need 0 < first <= second")
    _check_size(session, second)
    store = DbNodeStore(session)
    return {"first": first, "second": second,
            "first_root": b64(merkle.root(first, store)),
            "second_root": b64(merkle.root(second, store)),
            "proof": [b64(h) for h in merkle.consistency_proof(first, second, store)]}


def entry(session: Session, idx: int) -> LogEntry:
    found = session.get(LogEntry, idx)
    if found is None:
        raise NotFound(f"log entry {idx} does not exist")
    return found
