"""The training-content summary of a model (AI Act Art. 53(1)(d)) and the provider statement
it is built with. One scheme picks the format, as for reports: ``format=json|dsse|pdf|md``."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from registry.auth.deps import AnyActor, CheckReader, Writer
from registry.core.deps import SessionDep, SettingsDep
from registry.core.preconditions import ETAG_RESPONSE, IfMatch, Precondition, set_etag
from registry.reports.responses import document_response
from registry.reports.signing import ENVELOPE_MEDIA_TYPE
from registry.trainingsummary import render_md, render_pdf, service
from registry.trainingsummary.schemas import StatementIn, StatementRead, SummaryFormat, TrainingContentSummary

router = APIRouter(prefix="/v1/models/{model_id}/training-summary", tags=["Training-content summary"])

Format = Annotated[SummaryFormat, Query(description="json (default), dsse (signed JSON: verify with "
                                                    "`registry verify-report`), pdf, md (Markdown)")]
_FORMATS: dict[int | str, dict[str, Any]] = {200: {"description": "The summary in the requested format",
                  "content": {ENVELOPE_MEDIA_TYPE: {}, "application/pdf": {}, "text/markdown": {}}}}


@router.get("", response_model=TrainingContentSummary, responses=_FORMATS | {409: {
    "description": "The model has no provider statement yet"}})
def training_summary(model_id: str, session: SessionDep, settings: SettingsDep, actor: CheckReader,
                     request: Request,
                     format: Format = SummaryFormat.json) -> Any:
    """The model's public summary of training content on the AI Office's template: the
    provider statement's fields, and everything else computed from the source versions the
    model was trained on (pinned manifests): sources by the template's categories, sizes per
    modality in the template's ranges, crawled domains, licences, and the evidence of
    text-and-data-mining reservations. Each format carries the summary version and last update."""
    summary = service.summary(session, model_id, request.app.state.index.caught_up(session))
    return document_response(session, settings, summary, format.value, f"training-summary-{model_id}", {
        "pdf": lambda: render_pdf.summary_pdf(summary), "md": lambda: render_md.summary_md(summary)})


@router.get("/statement", response_model=StatementRead, responses=ETAG_RESPONSE)
def get_statement(model_id: str, session: SessionDep, actor: AnyActor, response: Response) -> Any:
    statement = service.get_statement(session, model_id)
    set_etag(response, statement)
    return StatementRead.model_validate(statement, from_attributes=True)


@router.put("/statement", response_model=StatementRead, responses=ETAG_RESPONSE | {
    201: {"description": "The statement was created", "model": StatementRead}})
def put_statement(model_id: str, data: StatementIn, session: SessionDep, actor: Writer,
                  response: Response, if_match: IfMatch = None) -> Any:
    """Record (or replace) what only the provider knows for the summary. Each change is a new
    version (ETag) and an audit-log entry; ``If-Match`` applies it only to the version named."""
    statement, created = service.put_statement(session, actor, model_id, data, Precondition(if_match))
    set_etag(response, statement)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return StatementRead.model_validate(statement, from_attributes=True)
