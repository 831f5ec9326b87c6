"""``registry export croissant|dataset-card|spdx``: the HTTP documents, written from the
database directly (an admin's view), naming the registry by the base URL it is served at."""

import json
from collections.abc import Callable
from pathlib import Path

from sqlmodel import Session

from registry.auth.actor import SYSTEM_ACTOR
from registry.core.config import Settings
from registry.core.db import standalone_session
from registry.core.models import utcnow
from registry.interchange import croissant, dataset_card, spdx
from registry.interchange.facts import Links, source_facts


def _write(settings: Settings, out: Path, render: Callable[[Session], str]) -> str:
    with standalone_session(settings.effective_database_url) as session:
        text = render(session)
    out.write_text(text)
    return f"written to {out}"


def export_document(settings: Settings, kind: str, record_id: str, base_url: str, out: Path) -> str:
    links = Links(base_url.rstrip("/"))
    renderers: dict[str, Callable[[Session], str]] = {
        "croissant": lambda s: json.dumps(croissant.croissant(source_facts(s, SYSTEM_ACTOR, record_id),
                                                              links), indent=2),
        "dataset-card": lambda s: dataset_card.dataset_card(source_facts(s, SYSTEM_ACTOR, record_id),
                                                            links),
        "spdx": lambda s: json.dumps(spdx.model_spdx(s, SYSTEM_ACTOR, record_id, links, utcnow()),
                                     indent=2),
    }
    return _write(settings, out, renderers[kind])
