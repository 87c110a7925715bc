"""The payload codec as a remote codec endpoint (Temporal's protocol), for
`temporal workflow show --codec-endpoint ... --codec-auth "Bearer $ADMIN_TOKEN"` and the Web
UI's codec setting: POST /codec/decode and /codec/encode with `{"payloads": [...]}`.

A browser cannot add the admin token to the Web UI's calls; instead, /codec/session (a form)
takes the token once and sets a cookie that the codec routes accept, which the UI sends with
"Include cross-origin credentials" on."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Depends, Form, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from api.deps import Credentials, ServicesDep, same_secret
from api.errors import ApiError
from core.codec import PayloadKeyError

router = APIRouter(prefix="/codec", tags=["operations"])
COOKIE = "codec_session"
SESSION_S = 8 * 3600
SESSION_FORM = """<!doctype html><title>Codec session</title>
<form method="post" action="/codec/session">
<p>Admin token, so that this browser's Temporal Web UI can decode payloads:</p>
<input type="password" name="token" autofocus> <button>Start session</button>
<p>Open this page under the host name the Web UI uses (localhost or 127.0.0.1): browsers send
the session only to the site that started it.</p></form>"""


def _session_value(admin_token: str) -> str:
    return hashlib.sha256(f"codec-session:{admin_token}".encode()).hexdigest()


def _admin_token(services: ServicesDep) -> str:
    expected = services.settings.admin_token
    if not expected:
        raise ApiError(401, "unauthorized", "the service has no admin token")
    return expected


async def codec_access(
    credentials: Credentials,
    services: ServicesDep,
    codec_session: Annotated[str | None, Cookie()] = None,
) -> None:
    """The admin token as a bearer token, or the cookie of a codec session."""
    expected = _admin_token(services)
    if credentials is not None and same_secret(credentials.credentials, expected):
        return
    if codec_session and same_secret(codec_session, _session_value(expected)):
        return
    raise ApiError(401, "unauthorized", "the codec needs the admin token or a codec session")


CodecAccess = Annotated[None, Depends(codec_access)]


@router.get("/session", response_class=HTMLResponse)
async def session_form() -> HTMLResponse:
    """A form that starts a codec session in this browser."""
    return HTMLResponse(SESSION_FORM)


@router.post("/session", response_class=PlainTextResponse)
async def start_session(
    token: Annotated[str, Form(max_length=500)], request: Request, services: ServicesDep
) -> PlainTextResponse:
    """Check the admin token and set the codec session cookie (8 hours).

    SameSite=Lax: the cookie goes only to calls from the site that started the session, so the
    Web UI must use the same host name as the endpoint (a UI at http://localhost:8233 calling
    http://127.0.0.1:8000 is cross-site, and browsers drop cross-site cookies)."""
    expected = _admin_token(services)
    if not same_secret(token, expected):
        raise ApiError(401, "unauthorized", "this is not the admin token")
    codec = f"{request.url.scheme}://{request.url.netloc}/codec"
    response = PlainTextResponse(
        "Codec session started: the Web UI of this browser can decode. In the Web UI opened "
        f"under the host name {request.url.hostname}, set the codec endpoint to {codec} with "
        '"Include cross-origin credentials" on.'
    )
    response.set_cookie(
        COOKIE,
        _session_value(expected),
        max_age=SESSION_S,
        path="/codec",
        httponly=True,
        samesite="lax",
    )
    return response


BODY = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"payloads": {"type": "array", "items": {"type": "object"}}},
                "required": ["payloads"],
            }
        }
    },
    "required": True,
}


async def _payloads(request: Request) -> Payloads:
    try:
        return json_format.Parse(await request.body(), Payloads())
    except (json_format.ParseError, UnicodeDecodeError, ValueError) as error:
        raise ApiError(422, "invalid_payloads", f"not a Payloads JSON object: {error}") from None


@router.post("/decode", openapi_extra={"requestBody": BODY})
async def decode(request: Request, _: CodecAccess, services: ServicesDep) -> dict[str, Any]:
    """Decrypt payloads (those not encrypted pass through)."""
    payloads = await _payloads(request)
    try:
        decoded = await services.codec.decode(payloads.payloads)
    except PayloadKeyError as error:
        raise ApiError(422, "payload_key_unknown", str(error)) from None
    return json_format.MessageToDict(Payloads(payloads=decoded))


@router.post("/encode", openapi_extra={"requestBody": BODY})
async def encode(request: Request, _: CodecAccess, services: ServicesDep) -> dict[str, Any]:
    """Encrypt payloads with the current key."""
    payloads = await _payloads(request)
    encoded = await services.codec.encode(payloads.payloads)
    return json_format.MessageToDict(Payloads(payloads=encoded))
