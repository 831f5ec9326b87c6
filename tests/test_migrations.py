import sqlalchemy as sa

from registry.auditlog import merkle
from registry.core import migrate


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
