"""The portal's compensation statements: a model's royalty pool for a period, divided by the
documented formula; a rights holder sees the totals and its own line (as through
``/v1/reports/compensation``), and downloads it as CSV, PDF or signed JSON."""

from datetime import date
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from registry.core.deps import SessionDep, SettingsDep
from registry.core.errors import InvalidInput, NotFound, RegistryError
from registry.lineage.service import list_models
from registry.portal.pages import Me, PortalRoute, download, page
from registry.portal.service import SignedIn
from registry.reports import render_csv, render_pdf, statement
from registry.reports.compensation import DEFAULT_TRAINING_SHARE
from registry.reports.schemas import CompensationStatement, MatchBasis
from registry.reports.signing import ENVELOPE_MEDIA_TYPE, envelope_bytes

router = APIRouter(include_in_schema=False, route_class=PortalRoute)
MODELS_LISTED = 200
FORMATS = {"csv": ("text/csv", "csv"), "pdf": ("application/pdf", "pdf"),
           "dsse": (ENVELOPE_MEDIA_TYPE, "dsse.json")}


def _statement(session: SessionDep, me: SignedIn, params: dict[str, str]) -> CompensationStatement:
    """The statement the form's fields ask for (InvalidInput names the field at fault)."""
    try:
        start, end = date.fromisoformat(params["period_start"]), date.fromisoformat(params["period_end"])
    except (KeyError, ValueError):
        raise InvalidInput("give the period as two calendar dates") from None
    try:
        pool = Decimal(params.get("pool", ""))
    except InvalidOperation:
        raise InvalidInput("give the pool as an amount, such as 10000.00") from None
    if not pool.is_finite() or pool <= 0 or len(pool.as_tuple().digits) > 18:
        raise InvalidInput("the pool must be a positive amount of at most 18 digits")
    currency = params.get("currency", "EUR").upper()
    return statement.compensation(session, me.actor, params.get("model_id", "")[:40], start, end, pool,
                                  currency, DEFAULT_TRAINING_SHARE, MatchBasis.works)


@router.get("/statements")
def statements(request: Request, session: SessionDep, me: Me) -> Response:
    params = dict(request.query_params)
    models, _ = list_models(session, me.actor, name=None, owner=None, source_id=None, retired=False,
                            cursor=None, limit=MODELS_LISTED)
    report, error = None, None
    if params.get("model_id"):
        try:
            report = _statement(session, me, params)
        except RegistryError as exc:
            error = exc.detail
    query = urlencode({k: v for k, v in params.items() if k != "format"})
    return page(request, "statements.html", me, status=422 if error else 200, models=models,
                params=params, report=report, error=error, query=query)


@router.get("/statements/download")
def download_statement(request: Request, session: SessionDep, settings: SettingsDep, me: Me) -> Response:
    params = dict(request.query_params)
    fmt = params.get("format", "")
    if fmt not in FORMATS:
        raise NotFound("there is no statement download in that format")
    report = _statement(session, me, params)
    body = (render_csv.compensation_csv(report) if fmt == "csv" else
            render_pdf.compensation_pdf(report) if fmt == "pdf" else envelope_bytes(session, settings, report))
    media_type, suffix = FORMATS[fmt]
    return download(body, media_type, f"compensation-{report.model.id}-{report.period_start}-"
                                      f"{report.period_end}.{suffix}")


@router.get("/verify")
def verify_yourself(request: Request, me: Me) -> Response:
    return page(request, "verify.html", me)
