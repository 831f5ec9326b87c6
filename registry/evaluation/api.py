from fastapi import APIRouter, Request

from registry.auth.deps import AnyActor
from registry.core.deps import SessionDep
from registry.evaluation import service
from registry.evaluation.schemas import EvaluationRequest, EvaluationResult

router = APIRouter(prefix="/v1/evaluations", tags=["Licence evaluation"])


@router.post("", response_model=EvaluationResult)
def evaluate(request: EvaluationRequest, session: SessionDep, actor: AnyActor,
             http: Request) -> EvaluationResult:
    """May these sources be used for this use? Any denial wins; obligations accumulate."""
    return service.evaluate(session, actor, request, http.app.state.index.caught_up(session))
