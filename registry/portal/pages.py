"""What every portal page shares: templates, security headers, the signed-in actor, CSRF
checks and errors shown as pages with a sentence (never JSON)."""

from collections.abc import Callable, Coroutine
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlmodel import Session

from registry.auth.models import Role
from registry.core.deps import SessionDep
from registry.core.errors import RegistryError, sentence
from registry.portal import service
from registry.portal.service import SignedIn, same_token

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
STATIC_DIR = Path(__file__).parent / "static"

SESSION_COOKIE = "registry_session"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
FOREIGN_FORM = "This form did not come from this site. Open the page again and retry."


def secured(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def page(request: Request, name: str, me: SignedIn | None, status: int = 200, **context: Any) -> Response:
    return secured(templates.TemplateResponse(request, name, {"me": me, **context}, status_code=status))


def problem(request: Request, me: SignedIn | None, status: int, message: str) -> Response:
    return page(request, "problem.html", me, status=status, message=sentence(message))


def download(body: bytes, media_type: str, name: str) -> Response:
    return Response(body, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff"})


def signed_in(request: Request, session: Session) -> SignedIn | None:
    me = service.resolve(session, request.cookies.get(SESSION_COOKIE))
    request.state.me = me  # for the header of an error page
    return me


class SignInFirst(Exception):
    """The page needs a signed-in browser: it is sent to the sign-in page."""


class ForeignForm(Exception):
    """A form post without this session's CSRF token."""


def current(request: Request, session: SessionDep) -> SignedIn:
    me = signed_in(request, session)
    if me is None:
        raise SignInFirst
    return me


def current_with_form(request: Request, session: SessionDep,
                      csrf_token: Annotated[str, Form(max_length=100)] = "") -> SignedIn:
    me = current(request, session)
    if not same_token(me.csrf_token, csrf_token):
        raise ForeignForm
    return me


Me = Annotated[SignedIn, Depends(current)]
# For form posts: signed in, and the form carries the session's CSRF token.
FormMe = Annotated[SignedIn, Depends(current_with_form)]


class PortalRoute(APIRoute):
    """Every portal page answers as a page: a browser that is not signed in is sent to sign
    in, and a foreign form or a registry error becomes a page with a sentence."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInFirst:
                return to_sign_in(request)
            except ForeignForm:
                return problem(request, getattr(request.state, "me", None), 403, FOREIGN_FORM)
            except RegistryError as exc:
                return problem(request, getattr(request.state, "me", None), exc.status, exc.detail)
            except RequestValidationError as exc:  # a form field too long, or of the wrong kind
                field, message = first_error(exc)
                return problem(request, getattr(request.state, "me", None), 422,
                               f"The form's field '{field.replace('_', ' ') or 'the form'}' was not "
                               f"accepted: {message}")

        return answer


def first_error(exc: ValidationError | RequestValidationError) -> tuple[str, str]:
    """The field the first validation error is about ("" for the whole), and what it says."""
    first = exc.errors()[0]
    loc = first.get("loc") or ()
    return (str(loc[-1]) if loc else ""), str(first.get("msg", "invalid")).removeprefix("Value error, ")


def to_sign_in(request: Request) -> Response:
    return RedirectResponse(f"/sign-in?{urlencode({'next': request.url.path})}", status_code=303)


def local(path: str | None) -> str:
    """Only a path on this site: a sign-in link cannot send the browser elsewhere."""
    if path and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return "/works"


def role_label(role: Role) -> str:
    return {Role.rights_holder: "rights holder", Role.admin: "administrator",
            Role.curator: "curator", Role.auditor: "auditor"}[role]


def label(value: Any) -> str:
    """An enum member as words ("under_review" -> "under review")."""
    return str(getattr(value, "value", value)).replace("_", " ")


def number(value: Any) -> str:
    """A decimal without trailing zeros (a weight of 0.400000 is 0.4)."""
    return format(Decimal(value).normalize(), "f")


templates.env.globals["role_label"] = role_label
templates.env.filters["label"] = label
templates.env.filters["number"] = number
templates.env.filters["sentence"] = sentence
