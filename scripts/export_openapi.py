"""Writes the app's OpenAPI document to openapi/openapi.json (committed; a test compares)."""

import json
import sys
import tempfile
from pathlib import Path

from registry.core.config import Settings
from registry.main import create_app

TARGET = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"


def render() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(environment="test", data_dir=Path(tmp)))
        return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    TARGET.write_text(render())
    print(f"wrote {TARGET}", file=sys.stderr)
