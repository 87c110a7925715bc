"""Tests, suites, auth flows and uploads: stored per project, validated, never leaking secrets."""

from __future__ import annotations

import gc
import warnings

import httpx
from sqlalchemy import text

from store.db import create_engine
from tests.support.api_fixtures import ProjectAccess

CLICK_BUY = {"action": "click", "selector": "#buy"}


def a_test(name: str = "checkout", **fields: object) -> dict:
    return {
        "name": name,
        "start_url": "https://shop.example.test/shop.html",
        "steps": [CLICK_BUY],
        **fields,
    }


async def test_test_crud(api: httpx.AsyncClient, project: ProjectAccess) -> None:
    created = await api.post("/api/tests", json=a_test(), headers=project.headers)
    assert created.status_code == 201, created.text
    test = created.json()
    assert test["definition"]["retry"]["max_attempts"] == 3, "defaults are filled in"

    listed = await api.get("/api/tests", headers=project.headers)
    assert [t["id"] for t in listed.json()] == [test["id"]]

    changed = await api.put(
        f"/api/tests/{test['id']}", json=a_test("renamed", timeout_s=60), headers=project.headers
    )
    assert changed.status_code == 200
    assert changed.json()["name"] == "renamed" and changed.json()["definition"]["timeout_s"] == 60
    assert (await api.get(f"/api/tests/{test['id']}", headers=project.headers)).json()[
        "name"
    ] == "renamed"

    assert (
        await api.delete(f"/api/tests/{test['id']}", headers=project.headers)
    ).status_code == 204
    gone = await api.get(f"/api/tests/{test['id']}", headers=project.headers)
    assert gone.status_code == 404
    assert gone.json() == {"detail": f"test {test['id']} not found", "code": "test_not_found"}


async def test_invalid_tests_get_the_engines_messages(api: httpx.AsyncClient, project) -> None:
    bad = a_test(steps=[CLICK_BUY, {"action": "click"}])
    response = await api.post("/api/tests", json=bad, headers=project.headers)
    assert response.status_code == 422
    assert response.json() == {
        "detail": "steps[1]: selector: action 'click' needs a selector",
        "code": "invalid_request",
    }
    unknown = await api.post(
        "/api/tests", json=a_test(steps=[{"action": "fly"}]), headers=project.headers
    )
    assert unknown.status_code == 422 and "steps[0].action" in unknown.json()["detail"]
    not_json = await api.post(
        "/api/tests",
        content=b"{nope",
        headers={**project.headers, "Content-Type": "application/json"},
    )
    assert not_json.status_code == 422
    missing_flow = await api.post(
        "/api/tests", json=a_test(auth_flow_id=999999), headers=project.headers
    )
    assert missing_flow.status_code == 422
    assert missing_flow.json()["detail"] == "auth_flow_id: auth flow 999999 not found"
    for step, detail in (
        ({"action": "assert", "selector": "#a", "expect": "glow"}, "steps[1].expect: Input"),
        (
            {"action": "assert", "selector": "#a", "expect": "matches", "value": "(x"},
            "steps[1]: value: the regular expression does not compile",
        ),
        (
            {"action": "assert", "selector": "#a", "expect": "count"},
            "steps[1]: value: expectation 'count' needs a value",
        ),
        ({"action": "reload", "not": True}, "steps[1]: not: only an 'assert' step takes 'not'"),
    ):
        answer = await api.post(
            "/api/tests", json=a_test(steps=[CLICK_BUY, step]), headers=project.headers
        )
        assert answer.status_code == 422 and answer.json()["detail"].startswith(detail), answer.text
    assert (await api.get("/api/tests", headers=project.headers)).json() == [], "nothing stored"


async def test_a_test_with_expectations_reads_back_as_written(
    api: httpx.AsyncClient, project: ProjectAccess
) -> None:
    steps = [
        {"action": "assert", "selector": "#menu", "expect": "visible", "not": True},
        {"action": "wait", "for": "load_state", "value": "load", "retry": {"max_attempts": 1}},
    ]
    created = await api.post("/api/tests", json=a_test(steps=steps), headers=project.headers)
    assert created.status_code == 201, created.text
    read = await api.get(f"/api/tests/{created.json()['id']}", headers=project.headers)
    [negated, wait] = read.json()["definition"]["steps"]
    assert negated["not"] is True and negated["expect"] == "visible"
    assert wait["for"] == "load_state" and wait["retry"]["max_attempts"] == 1


async def test_suites_accept_only_the_projects_tests(
    api: httpx.AsyncClient, project: ProjectAccess, other_project: ProjectAccess
) -> None:
    mine = (await api.post("/api/tests", json=a_test(), headers=project.headers)).json()["id"]
    theirs = (await api.post("/api/tests", json=a_test(), headers=other_project.headers)).json()[
        "id"
    ]
    ok = await api.post(
        "/api/suites", json={"name": "s", "test_ids": [mine]}, headers=project.headers
    )
    assert ok.status_code == 201 and ok.json()["test_ids"] == [mine]
    foreign = await api.post(
        "/api/suites", json={"name": "s", "test_ids": [mine, theirs]}, headers=project.headers
    )
    assert foreign.status_code == 422
    assert foreign.json()["detail"] == f"test_ids: tests [{theirs}] not found"


async def test_auth_flow_credentials_are_never_returned_and_stored_sealed(
    api: httpx.AsyncClient, project: ProjectAccess, api_settings
) -> None:
    password = "Sup3r-secret-Pw-991"
    body = {
        "name": "login",
        "login_url": "https://shop.example.test/login.html",
        "steps": [{"action": "type", "selector": "#password", "value": "{{password}}"}],
        "credentials": {"username": "alice", "password": password},
    }
    created = await api.post("/api/auth-flows", json=body, headers=project.headers)
    assert created.status_code == 201, created.text
    flow_id = created.json()["id"]
    for response in (
        created,
        await api.get(f"/api/auth-flows/{flow_id}", headers=project.headers),
        await api.get("/api/auth-flows", headers=project.headers),
    ):
        assert password not in response.text and "alice" not in response.text
    engine = create_engine(api_settings.database_url)
    async with engine.connect() as connection:
        rows = (await connection.execute(text("select * from auth_flow"))).all()
    await engine.dispose()
    assert rows and all(password not in str(row) for row in rows)


async def test_uploads_are_sanitised_limited_and_confined(
    api: httpx.AsyncClient, project: ProjectAccess, api_settings
) -> None:
    files = {"file": ("../../etc/evil name!.txt", b"hello", "text/plain")}
    stored = await api.post("/api/uploads", files=files, headers=project.headers)
    assert stored.status_code == 201, stored.text
    assert stored.json() == {"name": "evil name_.txt", "size": 5}
    folder = api_settings.uploads_dir / str(project.id)
    assert (folder / "evil name_.txt").read_bytes() == b"hello"

    big = {
        "file": ("big.bin", b"x" * (api_settings.max_upload_bytes + 1), "application/octet-stream")
    }
    too_big = await api.post("/api/uploads", files=big, headers=project.headers)
    assert too_big.status_code == 413 and too_big.json()["code"] == "too_large"
    assert not (folder / "big.bin").exists()

    not_multipart = await api.post("/api/uploads", json={"file": "x"}, headers=project.headers)
    assert not_multipart.status_code == 415
    listed = await api.get("/api/uploads", headers=project.headers)
    assert listed.json() == [{"name": "evil name_.txt", "size": 5}]


async def test_uploads_close_the_request_s_temporary_file(
    api: httpx.AsyncClient, project: ProjectAccess, api_settings
) -> None:
    limit = api_settings.max_upload_bytes
    bodies = [
        {"file": ("kept.txt", b"hello", "text/plain")},
        {"file": ("big.bin", b"x" * (limit + 1), "application/octet-stream")},
        {"other": ("other.txt", b"hello", "text/plain")},
    ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        answers = [
            (await api.post("/api/uploads", files=files, headers=project.headers)).status_code
            for files in bodies
        ]
        gc.collect()
    assert answers == [201, 413, 422]
    unclosed = [str(w.message) for w in caught if "SpooledTemporaryFile" in str(w.message)]
    assert not unclosed, unclosed


async def test_oversized_json_body_is_413(api: httpx.AsyncClient, project, api_settings) -> None:
    huge = a_test(description="x" * (api_settings.max_body_bytes + 10))
    response = await api.post("/api/tests", json=huge, headers=project.headers)
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
