"""Payload encryption: Temporal's history holds ciphertext only; the codec endpoint (admin
token) decodes it for the CLI; rotated keys still decode old payloads."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import pytest
from playwright.async_api import async_playwright, expect
from temporalio.api.common.v1 import Payload

from core.chromium import LAUNCH_ARGS, chromium_executable
from core.codec import EncryptionCodec, PayloadKeyError, new_key_entry, parse_keys
from core.config import Settings
from core.run_ids import session_workflow_id
from tests.api.jobs import create_test, wait_for_stored_state
from tests.api.live_server import served
from tests.support.api_fixtures import ADMIN_TOKEN, new_project
from tests.support.definitions import LOGIN_STEPS
from tests.support.history import decoded_history

PASSWORD = "pw-Zebra-7731"  # what the demo login page accepts
ENCRYPTED = base64.b64encode(b"binary/encrypted").decode()


async def test_history_without_the_codec_holds_no_credentials_and_with_it_no_password(
    live: httpx.AsyncClient, settings: Settings, pages_url: str
) -> None:
    project = await new_project(live)
    flow = await live.post(
        "/api/auth-flows",
        json={
            "name": "login",
            "login_url": pages_url + "login.html",
            "steps": LOGIN_STEPS,
            "credentials": {"username": "alice", "password": PASSWORD},
        },
        headers=project.headers,
    )
    test = {
        "name": "account",
        "start_url": pages_url + "account.html",
        "auth_flow_id": flow.json()["id"],
        "steps": [{"action": "assert", "selector": "#welcome", "value": "Welcome alice"}],
    }
    test_id = await create_test(live, project, test)
    queued = await live.post(f"/api/execution/test/{test_id}/run", headers=project.headers)
    job_id = queued.json()["jobId"]
    await wait_for_stored_state(live, project, job_id, "completed")

    for workflow_id in (job_id, session_workflow_id(job_id, 1)):  # the run, and its steps
        raw = await asyncio.to_thread(decoded_history, workflow_id, settings.temporal_address)
        assert PASSWORD not in raw and "alice" not in raw and "login.html" not in raw
        payload_encodings = _encodings(_history_json(raw))
        assert payload_encodings and payload_encodings <= {ENCRYPTED}, payload_encodings

    codec = ["--codec-endpoint", f"{live.base_url}/codec", "--codec-auth", f"Bearer {ADMIN_TOKEN}"]
    decoded = await asyncio.to_thread(decoded_history, job_id, settings.temporal_address, *codec)
    assert "login.html" in decoded and "sealed_credentials" in decoded, "the codec decoded it"
    assert PASSWORD not in decoded, "credentials stay sealed inside the decoded input"


SDK_MARKER_DATA = ("data", "patch-data")


def _history_json(shown: str) -> dict:
    """The JSON document at the start of decoded_history's output."""
    return json.JSONDecoder().raw_decode(shown)[0]


def _encodings(node: object) -> set[str]:
    """The `encoding` metadata of every payload in a history document (search attributes are
    indexed, so Temporal keeps them plain: IDs and states only; so are the SDK's own marker
    records of a patch or a local activity: its ID, type, attempt and times)."""
    found: set[str] = set()
    if isinstance(node, dict) and "markerName" in node:
        details = node.get("details", {})
        node = {**node, "details": {k: v for k, v in details.items() if k not in SDK_MARKER_DATA}}
    if isinstance(node, dict):
        metadata = node.get("metadata")
        if isinstance(metadata, dict) and "data" in node and "encoding" in metadata:
            found.add(metadata["encoding"])
        for key, value in node.items():
            if key != "searchAttributes":
                found |= _encodings(value)
    elif isinstance(node, list):
        for item in node:
            found |= _encodings(item)
    return found


async def test_codec_endpoint_round_trips_behind_the_admin_token(
    live: httpx.AsyncClient,
) -> None:
    project = await new_project(live)
    plain = {
        "payloads": [
            {
                "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
                "data": base64.b64encode(b'{"hello": "world"}').decode(),
            }
        ]
    }
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    assert (
        await live.post("/codec/encode", json=plain, headers=project.headers)
    ).status_code == 401
    assert (await live.post("/codec/decode", json=plain)).status_code == 401
    encoded = await live.post("/codec/encode", json=plain, headers=admin)
    assert encoded.status_code == 200
    [sealed] = encoded.json()["payloads"]
    assert base64.b64decode(sealed["metadata"]["encoding"]) == b"binary/encrypted"
    assert b"world" not in base64.b64decode(sealed["data"])
    decoded = await live.post("/codec/decode", json=encoded.json(), headers=admin)
    assert decoded.json() == plain
    garbage = await live.post("/codec/decode", content=b"{not json", headers=admin)
    assert garbage.status_code == 422 and garbage.json()["code"] == "invalid_payloads"


async def test_rotated_keys_decode_old_payloads_and_encrypt_with_the_new_one() -> None:
    old, new = new_key_entry("k1"), new_key_entry("k2")
    payload = Payload(metadata={"encoding": b"json/plain"}, data=b'"secret"')
    [under_old] = await EncryptionCodec(parse_keys(old)).encode([payload])
    rotated = EncryptionCodec(parse_keys(f"{new},{old}"))

    assert await rotated.decode([under_old]) == [payload]
    [under_new] = await rotated.encode([payload])
    assert under_new.metadata["encryption-key-id"] == b"k2"
    with pytest.raises(PayloadKeyError, match="unknown key 'k1'"):
        await EncryptionCodec(parse_keys(new)).decode([under_old])
    with pytest.raises(PayloadKeyError):
        parse_keys("k3:c2hvcnQ=")  # 5 bytes is no AES key


async def test_a_codec_session_cookie_lets_a_browser_decode_without_the_token(
    live: httpx.AsyncClient,
) -> None:
    plain = {"payloads": [{"metadata": {}, "data": base64.b64encode(b"1").decode()}]}
    form = await live.get("/codec/session")
    assert form.status_code == 200 and "password" in form.text
    non_ascii = await live.post("/codec/session", data={"token": "ðó\u9fa7µÚ"})
    assert non_ascii.status_code == 401, "any token is compared, none crashes the check"
    refused = await live.post("/codec/session", data={"token": "not-it"})
    assert refused.status_code == 401 and "codec_session" not in refused.headers.get(
        "set-cookie", ""
    )

    started = await live.post("/codec/session", data={"token": ADMIN_TOKEN})
    assert started.status_code == 200
    cookie = started.cookies["codec_session"]
    assert ADMIN_TOKEN not in cookie
    set_cookie = started.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "path=/codec" in set_cookie
    browser = {"Cookie": f"codec_session={cookie}", "Origin": "http://localhost:8233"}
    decoded = await live.post("/codec/decode", json=plain, headers=browser)
    assert decoded.status_code == 200
    assert decoded.headers["access-control-allow-credentials"] == "true"
    forged = await live.post(
        "/codec/decode", json=plain, headers={"Cookie": "codec_session=" + "0" * 64}
    )
    assert forged.status_code == 401
    live.cookies.clear()  # the shared client must not carry the session into other tests


@pytest.mark.parametrize("ui_host", ["127.0.0.1", "localhost"])
async def test_the_web_ui_decodes_with_a_codec_session_from_either_of_its_origins(
    settings: Settings, pages_url: str, ui_host: str
) -> None:
    """In Chromium: the session started on the API's own page under the UI's host name, then a
    page of the Web UI's origin (the test pages' server stands in for the UI, as 127.0.0.1 and
    as localhost) calls /codec/decode with credentials, as the UI does, at the endpoint the
    session page names."""
    ui_port = int(pages_url.rstrip("/").rsplit(":", 1)[1])
    ui_origins = f"http://127.0.0.1:{ui_port},http://localhost:{ui_port}"
    api_settings = settings.model_copy(
        update={"admin_token": ADMIN_TOKEN, "codec_cors_origins": ui_origins}
    )
    plain = {"payloads": [{"metadata": {}, "data": base64.b64encode(b"1").decode()}]}
    async with served(api_settings) as api_url, async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_executable(None), args=LAUNCH_ARGS
        )
        page = await (await browser.new_context()).new_page()
        api_url = api_url.replace("127.0.0.1", ui_host)
        await page.goto(f"{api_url}/codec/session")
        await page.fill("input[name=token]", ADMIN_TOKEN)
        await page.click("button")
        await expect(page.locator("body")).to_contain_text(
            f"set the codec endpoint to {api_url}/codec"
        )
        await page.goto(f"http://{ui_host}:{ui_port}/shop.html")
        status = await page.evaluate(
            """async ([url, body]) => (await fetch(url, {
                method: "POST", credentials: "include", body: JSON.stringify(body),
                headers: {"Content-Type": "application/json"}})).status""",
            [f"{api_url}/codec/decode", plain],
        )
        await browser.close()
    assert status == 200, f"the Web UI at {ui_host} could not decode ({status})"
