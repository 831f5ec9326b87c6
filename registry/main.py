"""The application factory: one place that wires settings, storage, routers and errors."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from PIL import Image
from sqlmodel import Session

from registry import __version__
from registry.assets.api import router as assets_router
from registry.auditlog.api import router as log_router
from registry.auth.api import router as keys_router
from registry.checkjobs.api import router as check_jobs_router
from registry.checkjobs.worker import WorkerPool
from registry.checks.api import router as checks_router
from registry.claims.api import router as claims_router
from registry.core.blobstore import LocalBlobStore
from registry.core.config import Settings
from registry.core.db import make_engine
from registry.core.errors import install_problem_handlers
from registry.core.limits import RequestGuard
from registry.core.problems import PROBLEM_RESPONSES
from registry.evaluation.api import router as evaluation_router
from registry.exports.api import router as exports_router
from registry.fingerprints.live import LiveIndex
from registry.holders.api import router as holders_router
from registry.interchange.api import router as interchange_router
from registry.licences.api import router as licences_router
from registry.lineage.api import router as lineage_router
from registry.lookup.api import router as lookup_router
from registry.manifests.api import router as manifests_router
from registry.optouts.api import router as optouts_router
from registry.portal.api import router as portal_router
from registry.portal.pages import STATIC_DIR
from registry.reports.api import router as reports_router
from registry.signals.api import router as signals_router
from registry.signingkeys.api import router as signing_router
from registry.sources.api import router as sources_router
from registry.trainingsummary.api import router as training_summary_router

ROUTERS = [keys_router, holders_router, licences_router, sources_router, assets_router,
           evaluation_router, checks_router, check_jobs_router, manifests_router, log_router,
           signing_router, lineage_router, claims_router, exports_router, optouts_router,
           lookup_router, reports_router, training_summary_router, interchange_router,
           signals_router]

log = logging.getLogger("registry")

DESCRIPTION = """Training-data provenance and licensing registry for AI film and media.

Authenticate with an API key: `Authorization: Bearer rk_…` (or `X-API-Key`). Errors are
RFC 9457 `application/problem+json`."""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    settings.ensure_dirs()
    # Pillow's own bomb guard, aligned with the registry's limit (it raises at twice this).
    Image.MAX_IMAGE_PIXELS = settings.max_image_pixels
    engine = make_engine(settings.effective_database_url)
    blobs = LocalBlobStore(settings.effective_blob_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if orphans := blobs.remove_orphans():
            log.info("cleared %d files left by a stopped process (staged uploads, holds, "
                     "blobs it was discarding: put back)", orphans)
        with Session(engine) as session:
            app.state.index = LiveIndex.open(settings.data_dir / "index", session)
        # Each lifespan stops the threads it started (a test client may nest a second one).
        jobs = app.state.jobs = WorkerPool(settings.job_workers, engine, settings, blobs,
                                           app.state.index.caught_up)
        jobs.start()
        yield
        jobs.stop()  # before the engine goes: a job in progress is requeued
        with Session(engine) as session:  # the next start loads it instead of rebuilding
            app.state.index.caught_up(session).save()
        engine.dispose()

    app = FastAPIOffline(title="Media Provenance Registry", version=__version__,
                         description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.state.blobs = blobs
    app.add_middleware(RequestGuard, max_json_bytes=settings.max_json_bytes,
                       max_upload_bytes=settings.max_upload_bytes)
    install_problem_handlers(app)
    for router in ROUTERS:
        app.include_router(router, responses=PROBLEM_RESPONSES)
    # The rights holders' pages at /, not in the API document.
    app.include_router(portal_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/health", tags=["Service"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app


logging.basicConfig(level=logging.INFO)
