"""The write API (only when the server was started with writes on and a token): move or
remove an alias, edit a version's description, metadata and tags under ``If-Match``.

Example:
    >>> from artiflow.ui._routes_writes import if_match_revision
    >>> if_match_revision(None, None) is None
    True
"""

# No `from __future__ import annotations`: FastAPI must see the Annotated aliases.
import hmac
import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Path
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from artiflow._ops.policy import acting_as

from . import _serialize as ser
from ._deps import NAME, WRITE, Name, Project, Reg, Selector, State, get_version, version_detail
from ._models import AliasMove, VersionDetail, VersionOut, VersionPatch
from ._routes_versions import ETAG_HEADER

bearer = HTTPBearer(auto_error=False, description="The write token given to `artiflow ui`.")


def require_token(
    state: State,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    x_artiflow_token: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> None:
    """401 unless the request carries the write token.

    The gate (RequestGuard) checked it before the body was read; this documents the scheme in
    the OpenAPI document and guards the route if the app is used without it. X-Artiflow-Token
    serves hosts (Airflow) whose own auth owns the Authorization header.
    """
    token = (state.write_token or "").encode()
    given = x_artiflow_token or (creds.credentials if creds is not None else None)
    if not token or not given or not hmac.compare_digest(given.encode(), token):
        raise HTTPException(
            401,
            "writes need the write token: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


router = APIRouter(tags=["writes"], dependencies=[Depends(require_token)])
AliasName = Annotated[str, Path(pattern=NAME)]

#: who a write names in the audit when the request does not say (``X-Artiflow-User``)
ANONYMOUS = "write-token"
_USER = r"^[A-Za-z0-9][A-Za-z0-9 ._@+-]{0,127}$"


def web_user(
    x_artiflow_user: Annotated[
        str | None,
        Header(
            pattern=_USER,
            description="Who makes the change, for the alias audit (e.g. the signed-in user "
            "of the page that sends it); without it the audit names 'write-token'.",
        ),
    ] = None,
) -> str:
    """The user an alias move from the web API is audited as (``acting_as("web", by=...)``).

    Example:
        >>> web_user("ana"), web_user(None)
        ('ana', 'write-token')
    """
    return x_artiflow_user or ANONYMOUS


WebUser = Annotated[str, Depends(web_user)]


def if_match_revision(header: str | None, v: Any) -> int | None:
    """The revision an ``If-Match`` header expects of ``v`` (None: no header or ``*``).
    An entity tag of another version, or an unreadable one, is a conflict."""
    from artiflow.exceptions import ConflictError

    if header is None or header.strip() == "*":
        return None
    for tag in header.split(","):
        m = re.fullmatch(r'\s*(?:W/)?"(v[0-9]+)\.r([0-9]{1,12})"\s*', tag)
        if m and m.group(1) == v.version:
            return int(m.group(2))
    raise ConflictError(
        f"If-Match {header[:100]!r} does not match {ser.pinned_ref(v)} (its ETag is "
        f"{ser.etag(v)}): it changed since you loaded it; reload and apply your change again"
    )


def reserved(alias: str) -> None:
    """409 when ``alias`` is a name artiflow reserves (``latest`` in any case, ``vN``, a semantic
    version): the name is well-formed, but it conflicts with what artiflow manages itself."""
    from artiflow.exceptions import InvalidRefError
    from artiflow.refs import validate_alias

    try:
        validate_alias(alias)
    except InvalidRefError as exc:
        raise HTTPException(409, str(exc)) from exc


@router.put(
    "/api/collections/{project}/{name}/aliases/{alias}",
    response_model=VersionOut,
    responses=WRITE,
)
def move_alias(
    reg: Reg, project: Project, name: Name, alias: AliasName, body: AliasMove, user: WebUser
) -> dict[str, Any]:
    """Put ``alias`` on a version (moving it from the version that held it).

    With ``expected`` the move is a compare-and-set: 409 if the alias is elsewhere. The move
    is audited as ``via="web"``, ``moved_by`` the ``X-Artiflow-User`` header.
    """
    reserved(alias)
    target = get_version(reg, project, name, body.version)
    with acting_as("web", by=user):
        moved = reg.alias(ser.pinned_ref(target), alias, expected=body.expected)
    return ser.version_summary(moved)


@router.delete(
    "/api/collections/{project}/{name}/aliases/{alias}",
    response_model=VersionOut,
    responses=WRITE,
)
def remove_alias(
    reg: Reg, project: Project, name: Name, alias: AliasName, user: WebUser
) -> dict[str, Any]:
    """Take ``alias`` off the version holding it (``latest`` is managed: not removable)."""
    reserved(alias)
    v = get_version(reg, project, name, alias)
    v.aliases = [a for a in v.aliases if a != alias]
    with acting_as("web", by=user):
        v.save()
    return ser.version_summary(v)


@router.patch(
    "/api/versions/{project}/{name}/{selector}",
    response_model=VersionDetail,
    responses={**WRITE, 200: {"description": "The version.", "headers": ETAG_HEADER}},
)
def patch_version(
    reg: Reg,
    state: State,
    project: Project,
    name: Name,
    selector: Selector,
    body: Annotated[VersionPatch, Body()],
    response: Response,
    user: WebUser,
    if_match: Annotated[
        str | None,
        Header(
            max_length=1000,
            description="The ETag of the version as you loaded it (GET gives it): the "
            "edit is refused with 409 if the version was edited since. Without it, "
            "only the fields you send are compared-and-set.",
        ),
    ] = None,
) -> dict[str, Any]:
    """Edit description, metadata (JSON merge patch) or tags; the content never changes.

    Only the fields sent are changed; another client's edits of other fields, keys and
    tags are kept. 409 (nothing written) when the version changed since ``If-Match``.
    """
    v = get_version(reg, project, name, selector)
    expected = if_match_revision(if_match, v)
    given = body.model_fields_set
    if "description" in given:
        v.description = body.description
    if "metadata" in given and body.metadata is not None:
        for key, value in body.metadata.items():
            if value is None:
                v.metadata.pop(key, None)
            else:
                v.metadata[key] = value
    if "tags" in given and body.tags is not None:
        v.tags = list(dict.fromkeys(body.tags))
    with acting_as("web", by=user):
        v.save(expected_revision=expected)
    response.headers["ETag"] = ser.etag(v)
    return version_detail(state, v)
