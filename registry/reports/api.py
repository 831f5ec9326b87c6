"""Report endpoints. One scheme picks the format: the ``format`` query parameter
(json, the default; dsse = signed JSON; csv; pdf). The Accept header is not consulted."""

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from registry.auth.deps import AnyActor, CheckReader
from registry.core.deps import BlobsDep, SessionDep, SettingsDep
from registry.core.errors import InvalidInput
from registry.evaluation.schemas import Use
from registry.reports import render_csv, render_pdf, service, statement
from registry.reports.compensation import DEFAULT_TRAINING_SHARE
from registry.reports.responses import document_response
from registry.reports.schemas import (
    ClearanceReport,
    CompensationStatement,
    CopyrightEvidenceReport,
    MatchBasis,
    ReportFormat,
)
from registry.reports.signing import ENVELOPE_MEDIA_TYPE

router = APIRouter(prefix="/v1/reports", tags=["Reports"])

Format = Annotated[ReportFormat, Query(description="json (default), dsse (signed JSON: "
                                                   "verify with `registry verify-report`), csv, pdf")]
_FORMATS = {200: {"description": "The report in the requested format",
                  "content": {ENVELOPE_MEDIA_TYPE: {}, "text/csv": {}, "application/pdf": {}}}}
@router.get("/copyright-evidence/{generation_id}", response_model=CopyrightEvidenceReport,
            responses=_FORMATS)
def copyright_evidence(generation_id: str, session: SessionDep,
                       settings: SettingsDep, blobs: BlobsDep, actor: AnyActor,
                       format: Format = ReportFormat.json) -> Any:
    """Every span of the generation that matched a registered work: the generated and the
    registered frame side by side (drawn in the PDF, cited by PNG digest in JSON), scores,
    the work's holders and licence, whether the licence permits the generation's intended
    use, and the audit-log entries of the generation, its checks and the works' manifests
    with inclusion proofs against the latest checkpoint. A rights holder gets it only for
    generations that matched its works, and sees only those matches."""
    report, images = service.copyright_evidence(session, settings, blobs, actor, generation_id)
    return document_response(session, settings, report, format.value, f"copyright-evidence-{generation_id}", {
        "csv": lambda: render_csv.evidence_csv(report), "pdf": lambda: render_pdf.evidence_pdf(report, images)})


@router.get("/copyright-evidence/{generation_id}/thumbnails/{png_sha256}", response_class=Response,
            responses={200: {"content": {"image/png": {}}, "description": "The thumbnail PNG"}})
def evidence_thumbnail(generation_id: str,
                       png_sha256: Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")], session: SessionDep,
                       blobs: BlobsDep, actor: AnyActor) -> Response:
    """A thumbnail the report cites by digest (``png_sha256``), rendered again from the stored
    media: its SHA-256 is the digest the report (and its signature) commits to."""
    png = service.evidence_thumbnail(session, blobs, actor, generation_id, png_sha256)
    return Response(png, media_type="image/png")


@router.get("/clearance", response_model=ClearanceReport, responses=_FORMATS)
def clearance(
    session: SessionDep,
    settings: SettingsDep,
    actor: CheckReader,
    request: Request,
    generation_id: Annotated[str | None, Query(max_length=40)] = None,
    production: Annotated[str | None, Query(min_length=1, max_length=300)] = None,
    use: Use = Use.commercial_release,
    on: Annotated[date | None, Query(description="Date of use; defaults to today (UTC)")] = None,
    territory: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    format: Format = ReportFormat.json,
) -> Any:
    """What releasing a generation (or every generation of a production) requires: the works
    it draws on, end-credit lines ready to paste, fees, and the blockers, from the matched
    works' licences and from the models' training sources (e.g. a non-commercial source
    blocks a commercial release). Give exactly one of ``generation_id`` and ``production``."""
    if (generation_id is None) == (production is None):
        raise InvalidInput("give exactly one of generation_id and production")
    report = service.clearance(session, generation_id, production, use,
                               on or datetime.now(UTC).date(), territory, request.app.state.index.caught_up(session))
    name = f"clearance-{generation_id or 'production'}"
    return document_response(session, settings, report, format.value, name, {
        "csv": lambda: render_csv.clearance_csv(report), "pdf": lambda: render_pdf.clearance_pdf(report)})


@router.get("/compensation", response_model=CompensationStatement, responses=_FORMATS)
def compensation(
    session: SessionDep,
    settings: SettingsDep,
    actor: AnyActor,
    model_id: Annotated[str, Query(max_length=40)],
    period_start: date,
    period_end: date,
    pool: Annotated[Decimal, Query(gt=0, max_digits=18, description="Royalty pool, e.g. 10000.00")],
    currency: Annotated[str, Query(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")] = "EUR",
    training_share: Annotated[Decimal, Query(ge=0, le=1, max_digits=7, decimal_places=6,
                                             description="Share of the pool for training "
                                                         "contribution; the rest for matches")]
    = DEFAULT_TRAINING_SHARE,
    match_basis: Annotated[MatchBasis, Query(description="Count matched works or matched spans")]
    = MatchBasis.works,
    format: Format = ReportFormat.json,
) -> Any:
    """A royalty pool divided among the rights holders of a model's training data and of the
    works its generations matched in the period, by the documented formula (see
    ``formula.description`` in the statement). Lines add up to the pool exactly; the same
    records and parameters give byte-identical output in every format. A rights holder sees
    the totals and only its own line."""
    report = statement.compensation(session, actor, model_id, period_start, period_end, pool,
                                    currency, training_share, match_basis)
    name = f"compensation-{model_id}-{period_start}-{period_end}"
    return document_response(session, settings, report, format.value, name, {
        "csv": lambda: render_csv.compensation_csv(report), "pdf": lambda: render_pdf.compensation_pdf(report)})
