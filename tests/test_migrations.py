import sqlalchemy as sa
from sqlmodel import Session

from registry.auditlog import merkle
from registry.auditlog.service import append_entry
from registry.auth.actor import SYSTEM_ACTOR
from registry.core import migrate
from registry.sources.models import Source
from registry.unit_of_work import record_view
from tests.conftest import Api
from tests.factories import builtin_licence, holder, source


def test_upgrade_builds_merkle_nodes_for_entries_logged_before_the_tree(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url, "2026_11_25_foundation")
    engine = sa.create_engine(url)
    payloads = [f'{{"idx":{i}}}'.encode() for i in range(11)]
    with engine.begin() as conn:
        for i, payload in enumerate(payloads):
            conn.execute(sa.text(
                "INSERT INTO log_entry (idx, recorded_at, actor, action, entity_type, entity_id, "
                "payload, leaf_hash) VALUES (:i, '2026-01-01 00:00:00', 'system', 'x.created', 'x', "
                "'x', :p, :h)"), {"i": i, "p": payload, "h": merkle.leaf_hash(payload)})
        conn.execute(sa.text("UPDATE log_head SET size = 11"))
    migrate.upgrade(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT level, idx, hash FROM log_node")).all()
    engine.dispose()
    store = merkle.InMemoryNodeStore()
    store.extend(merkle.leaf_hash(p) for p in payloads)
    assert {(level, idx): bytes(h) for level, idx, h in rows} == store.get_nodes(
        [(level, idx) for level, idx, _ in rows])
    assert len(rows) == 2 * 11 - bin(11).count("1")


def test_records_logged_before_a_column_was_added_replay_with_its_backfilled_value(
        admin: Api, cli) -> None:  # type: ignore[no-untyped-def]
    """A source logged before ``category`` existed (its last entry lacks it) replays with the
    category the migration derived from its acquisition method, and no other."""
    licence = builtin_licence(admin, "CC-BY-4.0")
    created = source(admin, [holder(admin)["id"]], licence["id"], acquisition_method="web_crawl")
    engine = admin.client.app.state.engine
    with Session(engine) as session:
        record = session.get(Source, created["id"])
        view = record_view(session, "source", record)
        older = {k: v for k, v in view.items() if k not in ("category", "crawler", "collection_period")}
        append_entry(session, SYSTEM_ACTOR, "source.updated", "source", record.id, older)
        session.commit()
    assert cli("verify-log").exit_code == 0

    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE source SET category = 'synthetic' WHERE id = :id"), {"id": created["id"]})
    result = cli("verify-log")
    assert result.exit_code != 0
    assert "category: log 'crawled', database 'synthetic'" in result.output
