"""The portal in a real browser: Debian's Chromium driven by Playwright against the API
served by uvicorn. Sign in → my works → look up an excerpt of the sample film → the match
with both thumbnails and the copied span → sign out; another holder sees none of it. Every
page passes axe-core (vendored) with no serious violations and raises no CSP violation.

Screenshots of each step are written to ``REGISTRY_SCREENSHOT_DIR`` (default
``build/portal-screenshots``); with ``REGISTRY_UPDATE_SCREENSHOTS=1`` the ones the README
shows are also copied to ``tests/screenshots/``.
"""

import json
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from registry.core.config import Settings
from registry.main import create_app
from tests import media
from tests.conftest import Api
from tests.factories import builtin_licence, holder, source, upload

ROOT = Path(__file__).resolve().parent.parent
AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js"
README_SHOTS = {"lookup-result": "lookup-result.png", "claim": "claim.png"}
SERIOUS = {"serious", "critical"}

# One backend: the pages read through the same services the HTTP tests (test_portal.py)
# already run on both databases; this test is about the browser.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def chromium() -> Iterator:  # type: ignore[type-arg]
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        if os.environ.get("REGISTRY_REQUIRE_BROWSER") == "1":
            pytest.fail("REGISTRY_REQUIRE_BROWSER=1 but chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def server(settings: Settings, cli) -> Iterator[tuple[str, Api]]:  # type: ignore[no-untyped-def]
    """The app on a free loopback port, and an admin speaking to it over HTTP."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    uv = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                       log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    result = cli("keys", "create", "--name", "first admin")
    assert result.exit_code == 0, result.output
    with httpx.Client(base_url=url, timeout=120) as http:
        yield url, Api(http, result.stdout.strip().splitlines()[-1])  # type: ignore[arg-type]
    uv.should_exit = True
    thread.join(timeout=30)


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("REGISTRY_SCREENSHOT_DIR", ROOT / "build" / "portal-screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Page:
    """A browser tab that records what must never happen: dialogs (an unescaped script),
    CSP violations and serious accessibility violations."""

    def __init__(self, browser, shots: Path, who: str) -> None:  # type: ignore[no-untyped-def]
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.tab = self.context.new_page()
        self.shots, self.who = shots, who
        self.problems: list[str] = []
        self.tab.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss()))
        self.tab.on("console", lambda m: self.problems.append(f"console: {m.text}")
                    if m.type == "error" and "Content Security Policy" in m.text else None)

    def shot(self, name: str) -> None:
        path = self.shots / f"{self.who}-{name}.png"
        self.tab.screenshot(path=str(path), full_page=True)
        if os.environ.get("REGISTRY_UPDATE_SCREENSHOTS") == "1" and name in README_SHOTS:
            target = Path(__file__).parent / "screenshots" / README_SHOTS[name]
            target.parent.mkdir(exist_ok=True)
            shutil.copyfile(path, target)

    def accessible(self) -> None:
        """axe-core's WCAG 2.x A/AA rules: no serious or critical violation."""
        if not self.tab.evaluate("() => typeof window.axe !== 'undefined'"):
            # Evaluated over the DevTools protocol, which the page's CSP does not govern.
            self.tab.evaluate(AXE.read_text())
        found = self.tab.evaluate("""async () => (await axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})).violations
            .map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))""")
        serious = [v for v in found if v["impact"] in SERIOUS]
        assert not serious, f"{self.tab.url}: {serious}"

    def sign_in(self, url: str, key: str) -> None:
        self.tab.goto(f"{url}/")
        self.tab.wait_for_url("**/sign-in**")
        self.tab.get_by_label("API key").fill(key)
        self.tab.get_by_role("button", name="Sign in").click()
        self.tab.wait_for_url("**/works")

    def look_up(self, clip: Path) -> None:
        self.tab.get_by_role("link", name="Look up a work").click()
        self.tab.wait_for_url("**/lookup")
        self.tab.get_by_label("Work or fingerprint file").set_input_files(str(clip))
        self.tab.get_by_role("button", name="Look up").click()
        self.tab.wait_for_selector("#answer", timeout=120_000)

    def close(self) -> None:
        self.context.close()
        assert not self.problems, self.problems


def _thumbnails_loaded(tab) -> list[str]:  # type: ignore[no-untyped-def]
    return tab.evaluate("""() => [...document.querySelectorAll('img')]
        .filter(img => img.complete && img.naturalWidth > 0).map(img => img.alt)""")


def test_a_rights_holder_looks_up_its_film_and_another_sees_none_of_it(
        chromium, server, shots, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url, admin = server
    ann = holder(admin, '<script>alert("x")</script> Blender Foundation')
    bob = holder(admin, "Bob Pictures")
    cc_by = builtin_licence(admin, "CC-BY-4.0")["id"]
    films = source(admin, [ann["id"]], cc_by, name="Open movies")
    film = upload(admin, films["id"], media.clip("bigbuckbunny.mp4"))
    excerpt = media.make_variant(media.clip("bigbuckbunny.mp4"), tmp_path / "excerpt.mp4",
                                 start=1.0, duration=3.0, scale=0.5, bitrate=300_000)
    still = upload(admin, films["id"], media.image("coffee.png"))
    admin.ok("post", f"/v1/sources/{films['id']}/manifests", 201)
    model = admin.ok("post", "/v1/models", 201, json={
        "name": "Dreamreel", "version": "1", "owner": "Studio X", "trained_until": "2026-10-01",
        "training_sources": [{"source_id": films["id"], "weight": "0.4"}]})
    with excerpt.open("rb") as clip:
        check = admin.ok("post", "/v1/checks", 201, files={"files": ("shot-12.mp4", clip, "video/mp4")})
    admin.ok("post", "/v1/generations", 201, json={
        "model_id": model["id"], "production": "Short film", "title": "Shot 12", "check_ids": [check["id"]]})
    bob_src = source(admin, [bob["id"]], cc_by, name="Bob stills")
    upload(admin, bob_src["id"], media.image("chelsea.png"))
    ann_key = admin.make_key("rights_holder", ann["id"]).key
    bob_key = admin.make_key("rights_holder", bob["id"]).key

    page = Page(chromium, shots, "ann")
    page.tab.goto(f"{url}/")
    page.tab.wait_for_url("**/sign-in**")
    page.accessible()
    page.shot("sign-in")
    page.sign_in(url, ann_key)
    assert '<script>alert("x")</script> Blender Foundation' in page.tab.inner_text("h1")
    assert film["id"] in page.tab.content()
    page.tab.wait_for_load_state("networkidle")
    assert len(_thumbnails_loaded(page.tab)) == 2
    page.accessible()
    page.shot("my-works")

    page.look_up(excerpt)
    answer = page.tab.inner_text("#answer")
    assert answer.startswith("1 registered work is this work or a near copy"), answer
    match = page.tab.locator(".match").first
    assert film["id"] in match.inner_text() and "Dreamreel 1" in match.inner_text()
    assert "Shot 12 (Short film" in match.inner_text()
    page.tab.wait_for_load_state("networkidle")
    assert {"Your work", f"Registered work {film['id']}"} <= set(_thumbnails_loaded(page.tab))
    assert page.tab.locator("svg.timeline rect.span").count() >= 1
    offsets = [float(x) for x in re.findall(r"offset ([+-]\d+\.\d+) s", match.inner_text())]
    assert offsets and abs(offsets[0] - 1.0) <= 0.05, offsets  # the excerpt starts at 1 s
    page.accessible()
    page.shot("lookup-result")

    # File a copyright claim from the match, follow it, download its evidence.
    claim_form = page.tab.locator("details", has_text="File a copyright claim against “Shot 12”")
    claim_form.get_by_text("File a copyright claim against “Shot 12”").click()
    claim_form.get_by_label("Your statement").fill("Shot 12 copies my film <b>frame for frame</b>.")
    claim_form.get_by_role("button", name="File the claim").click()
    page.tab.wait_for_url("**/claims/clm_*")
    assert page.tab.inner_text("#claim-status") == "filed"
    assert "<b>frame for frame</b>" in page.tab.inner_text(".statement")
    with page.tab.expect_download() as pdf:
        page.tab.get_by_role("link", name="Copyright evidence (PDF)").click()
    assert Path(pdf.value.path()).read_bytes().startswith(b"%PDF")
    with page.tab.expect_download() as signed:
        page.tab.get_by_role("link", name="Copyright evidence (signed JSON)").click()
    assert json.loads(Path(signed.value.path()).read_text())["payloadType"]
    page.tab.get_by_label("Add a comment").fill("The registered frames are on pages 2-3.")
    page.tab.get_by_role("button", name="Add comment").click()
    page.tab.wait_for_url("**/claims/clm_*")
    assert "The registered frames are on pages 2-3." in page.tab.inner_text("#history ~ ol")
    claim_url = page.tab.url.split("#")[0]
    page.accessible()
    page.shot("claim")

    # Opt the still out: its digest is computed in the browser, the file is not sent.
    page.tab.get_by_role("link", name="Opt-outs").click()
    page.tab.get_by_label("Work (optional)").set_input_files(str(media.image("coffee.png")))
    page.tab.wait_for_function("() => document.getElementById('sha256').value.length === 64")
    assert page.tab.input_value("#sha256") == still["sha256"]
    page.tab.get_by_label("Takes effect on").fill("2026-01-01")
    page.tab.get_by_role("button", name="Record the opt-out").click()
    page.tab.wait_for_url("**/opt-outs#recorded")
    assert "in force" in page.tab.inner_text("table")
    assert f"holds work {still['id']}" in page.tab.inner_text("main")
    page.accessible()
    page.shot("opt-outs")

    page.tab.get_by_role("link", name="Statements").click()
    page.tab.get_by_label("Period from").fill("2026-01-01")
    page.tab.get_by_label("Period to").fill("2026-12-31")
    page.tab.get_by_label("Royalty pool").fill("10000.00")
    page.tab.get_by_role("button", name="Show the statement").click()
    page.tab.wait_for_selector("#statement-heading")
    assert "Blender Foundation" in page.tab.inner_text("table")
    with page.tab.expect_download() as statement:
        page.tab.get_by_role("link", name="PDF").click()
    assert Path(statement.value.path()).read_bytes().startswith(b"%PDF")
    page.accessible()
    page.shot("statement")
    page.tab.get_by_role("link", name="verify it yourself").click()
    assert "registry verify-report" in page.tab.inner_text("main")
    page.accessible()

    page.tab.get_by_role("button", name="Sign out").click()
    page.tab.wait_for_url("**/sign-in")
    page.tab.goto(f"{url}/works")
    page.tab.wait_for_url("**/sign-in**")
    page.shot("signed-out")
    page.close()

    other = Page(chromium, shots, "bob")
    other.sign_in(url, bob_key)
    assert film["id"] not in other.tab.content() and "Open movies" not in other.tab.content()
    other.look_up(excerpt)
    assert "No registered work of yours" in other.tab.inner_text("#answer")
    assert film["id"] not in other.tab.content() and "Dreamreel" not in other.tab.content()
    other.accessible()
    other.shot("lookup-nothing")
    other.tab.goto(claim_url)
    assert other.tab.inner_text("h1") == "Something went wrong"  # Ann's claim is unknown to Bob
    other.close()

    reviewer = Page(chromium, shots, "curator")
    reviewer.sign_in(url, admin.make_key("curator").key)
    reviewer.tab.get_by_role("link", name="Claims to review").click()
    reviewer.tab.get_by_role("link", name=claim_url.rsplit("/", 1)[1]).click()
    reviewer.tab.get_by_label("under review").check()
    reviewer.tab.get_by_label("Comment (optional)").fill("Checking the frames.")
    reviewer.tab.get_by_role("button", name="Move the claim").click()
    reviewer.tab.wait_for_url("**/claims/clm_*")
    assert reviewer.tab.inner_text("#claim-status") == "under review"
    reviewer.accessible()
    reviewer.shot("review")
    reviewer.close()

    narrow = Page(chromium, shots, "narrow")
    narrow.context.close()
    narrow.context = chromium.new_context(viewport={"width": 360, "height": 740})
    narrow.tab = narrow.context.new_page()
    narrow.sign_in(url, ann_key)
    width = narrow.tab.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 360, f"the page scrolls sideways at 360 px ({width} px wide)"
    narrow.shot("my-works-360px")
    narrow.close()


def test_a_long_clip_look_up_shows_its_progress_then_the_answer(chromium, server, shots, settings) -> None:  # type: ignore[no-untyped-def]
    url, admin = server
    ann = holder(admin, "Blender Foundation")
    films = source(admin, [ann["id"]], builtin_licence(admin, "CC-BY-4.0")["id"], name="Open movies")
    film = upload(admin, films["id"], media.clip("bigbuckbunny.mp4"))
    settings.sync_clip_max_seconds = 2.0  # the 5 s film is then looked up as a job

    page = Page(chromium, shots, "job")
    page.sign_in(url, admin.make_key("rights_holder", ann["id"]).key)
    page.tab.get_by_role("link", name="Look up a work").click()
    page.tab.get_by_label("Work or fingerprint file").set_input_files(str(media.clip("bigbuckbunny.mp4")))
    page.tab.get_by_role("button", name="Look up").click()
    page.tab.wait_for_selector("#job-progress, #answer")
    if page.tab.locator("#job-progress").count():
        page.accessible()
        page.shot("progress")
    page.tab.wait_for_selector("#answer", timeout=120_000)  # the page reloads itself when done
    assert page.tab.url.split("/lookup/jobs/")[1].startswith("job_")
    assert film["id"] in page.tab.locator(".match").first.inner_text()
    page.tab.wait_for_load_state("networkidle")
    assert {"Your work", f"Registered work {film['id']}"} <= set(_thumbnails_loaded(page.tab))
    page.accessible()
    page.shot("answer")
    page.close()
