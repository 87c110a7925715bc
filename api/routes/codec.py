"""The payload codec as a remote codec endpoint (Temporal's protocol), for
`temporal workflow show --codec-endpoint ... --codec-auth "Bearer $ADMIN_TOKEN"` and the Web
UI's codec setting: POST /codec/decode and /codec/encode with `{"payloads": [...]}`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from api.deps import AdminDep, ServicesDep
from api.errors import ApiError
from core.codec import PayloadKeyError

router = APIRouter(prefix="/codec", tags=["operations"])
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
async def decode(request: Request, _: AdminDep, services: ServicesDep) -> dict[str, Any]:
    """Decrypt payloads (those not encrypted pass through)."""
    payloads = await _payloads(request)
    try:
        decoded = await services.codec.decode(payloads.payloads)
    except PayloadKeyError as error:
        raise ApiError(422, "payload_key_unknown", str(error)) from None
    return json_format.MessageToDict(Payloads(payloads=decoded))


@router.post("/encode", openapi_extra={"requestBody": BODY})
async def encode(request: Request, _: AdminDep, services: ServicesDep) -> dict[str, Any]:
    """Encrypt payloads with the current key."""
    payloads = await _payloads(request)
    encoded = await services.codec.encode(payloads.payloads)
    return json_format.MessageToDict(Payloads(payloads=encoded))
