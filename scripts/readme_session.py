"""Runs the README's curl session against a running server and checks what it prints.

Used by CI, so that the walkthrough keeps working exactly as printed.
Usage: python scripts/readme_session.py http://127.0.0.1:PORT
"""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("## A first session with curl", "## Signed manifests and the audit log, checked offline",
            "## Checking generated media for near-copies",
            "## Lineage, lookups, claims and reports")


def session_script(base_url: str) -> str:
    text = (ROOT / "README.md").read_text()
    blocks = []
    for heading in SECTIONS:
        section = text[text.index(heading):].split("\n## ", 1)[0]
        blocks += re.findall(r"```sh\n(.*?)```", section, re.S)  # json blocks are output
    script = "\n".join(blocks).replace("http://127.0.0.1:8000", base_url)
    script = script.replace(".venv/", "$REPO/.venv/").replace("scripts/", "$REPO/scripts/")
    # Files the walkthrough downloads go to a scratch directory, not the checkout.
    return f"set -euo pipefail\nREPO={ROOT}\ncd \"$(mktemp -d)\"\n" + script


def main() -> None:
    result = subprocess.run(["bash", "-c", session_script(sys.argv[1])], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    out = result.stdout
    print(out[-2000:])
    expected = ['"media_type":"image/png"', '"media_type":"video/mp4"', '"frame_count":132',
                '"verdict":"conditional"', '"kind":"attribution"', "OK: manifest of Blender open movies",
                "is in the manifest", "OK: the log of", '"verdict":"copy"', '"speed":1.25',
                '"mirrored":true', '"channel":"local_features"', '"name":"DreamFrames"', '"status":"under_review"',
                '"verdict":"blocked"', "OK: signed by the registry: clearance", "10000.00,EUR",
                '"report":"training_content_summary"', '"size_bin":"less than 1 million images"',
                "OK: signed by the registry: training-content summary of model"]
    missing = [e for e in expected if e not in out]
    # The copy starts 0.4 s into the film; the offset may land on a neighbouring sampled frame.
    offsets = [float(x) for x in re.findall(r'"offset_s":(-?[0-9.]+)', out)]
    if not any(abs(x - 0.4) <= 0.05 for x in offsets):
        missing.append(f"offset_s within 0.05 s of 0.4 (got {offsets})")
    # The vertical reframe starts 1.0 s into the film: within one frame (0.04 s at 25 fps),
    # found from the upload and from its descriptor.
    if sum(abs(x - 1.0) <= 0.04 for x in offsets) < 2:
        missing.append(f"offset_s within 0.04 s of 1.0 twice (got {offsets})")
    if result.returncode or missing:
        sys.exit(f"README session failed (exit {result.returncode}); missing {missing}\n{result.stderr}")
    print("README session works as printed")


if __name__ == "__main__":
    main()
