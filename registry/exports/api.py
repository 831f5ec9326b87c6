from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import AwareDatetime

from registry.auth.deps import Overseer
from registry.core.deps import SessionDep, SettingsDep
from registry.exports import service
from registry.exports.schemas import CSV_COLUMNS, MEDIA_TYPES, AuditExport, ExportFormat

router = APIRouter(prefix="/v1/exports", tags=["Exports"])

_LINE = {"description": "One ExportEntry / ExportRecord per line, then one ExportTrailer"}
_STREAMED = {200: {
    "model": AuditExport,
    "description": "The export, streamed; see the `format` parameter. A stream without its "
                   "trailer was cut short.",
    "content": {"application/x-ndjson": {"schema": {"type": "string", **_LINE}},
                "text/csv": {"schema": {"type": "string", "description": "Header row "
                                        + ",".join(CSV_COLUMNS) + "; data is JSON text (an "
                                        "entry's payload, a record's state, the trailer)"}}},
}}


@router.get("/audit", response_class=JSONResponse, responses=_STREAMED)
def audit_export(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    actor: Overseer,
    since: Annotated[AwareDatetime, Query(description="Start of the period (ISO 8601 with a "
                                                      "time zone), inclusive")],
    until: Annotated[AwareDatetime, Query(description="End of the period, exclusive")],
    fmt: Annotated[ExportFormat, Query(alias="format")] = ExportFormat.jsonl,
) -> StreamingResponse:
    """Every audit-log entry recorded in `[since, until)` with its payload and leaf hash,
    then the current state of every record those entries touched, then a trailer with the
    counts and the signed checkpoint covering the entries. Streamed in bounded memory."""
    plan = service.plan_export(session, settings, since, until)  # errors here are problem+json
    stamp = f"{plan.since:%Y%m%dT%H%M%SZ}-{plan.until:%Y%m%dT%H%M%SZ}"
    return StreamingResponse(
        service.stream_export(request.app.state.engine, plan, fmt), media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.{fmt.value}"'})
