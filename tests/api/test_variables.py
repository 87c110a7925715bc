"""Variables, secrets and environments: stored, chosen per run, filled in, and kept secret."""

from __future__ import annotations

import io
import json
import zipfile

import httpx

from tests.api.jobs import create_test, job, wait_for_job, wait_for_stored_state
from tests.api.live_server import read_events
from tests.support.api_fixtures import ProjectAccess, new_project
from tests.support.runs import poll
from tests.support.secrets import spellings

SECRET = "Tr0ub4dor*3~env"


async def put(api: httpx.AsyncClient, project: ProjectAccess, path: str, body: dict) -> dict:
    response = await api.put(f"/api/projects/me/{path}", json=body, headers=project.headers)
    assert response.status_code == 200, response.text
    return response.json()


def two_page_test() -> dict:
    """Opens {{PAGE}} under the environment's BASE_URL and checks {{TITLE}}, then a page by a
    path relative to BASE_URL."""
    return {
        "name": "per environment",
        "start_url": "/{{PAGE}}",
        "retry": {"max_attempts": 1},
        "steps": [
            {"action": "assert", "expect": "title", "value": "{{TITLE}}"},
            {"action": "navigate", "value": "second.html"},
            {"action": "assert", "expect": "title", "value": "Second"},
        ],
    }


async def with_staging(api: httpx.AsyncClient, project: ProjectAccess, pages_url: str) -> None:
    """BASE_URL for the project, and a `staging` environment that opens the shop."""
    await put(api, project, "variables", {"variables": {"BASE_URL": pages_url}})
    staging = {"variables": {"PAGE": "shop.html", "TITLE": "Test shop"}}
    await put(api, project, "environments/staging", staging)


async def run_in(
    api: httpx.AsyncClient, project: ProjectAccess, test_id: int, environment: str | None
) -> httpx.Response:
    params = {"environment": environment} if environment else None
    return await api.post(
        f"/api/execution/test/{test_id}/run", params=params, headers=project.headers
    )


async def test_variables_and_environments_are_stored_and_secrets_never_returned(
    api: httpx.AsyncClient, project: ProjectAccess, other_project: ProjectAccess, pages_url: str
) -> None:
    empty = (await api.get("/api/projects/me/variables", headers=project.headers)).json()
    assert empty == {"environment": None, "variables": {}, "secrets": [], "updated_at": None}

    body = {"variables": {"BASE_URL": pages_url}, "secrets": {"API_KEY": SECRET}}
    stored = await put(api, project, "variables", body)
    assert stored["variables"] == {"BASE_URL": pages_url}
    assert stored["secrets"] == ["API_KEY"]
    assert SECRET not in json.dumps(stored)

    staging = await put(
        api, project, "environments/staging", {"variables": {"TITLE": "x"}, "secrets": {}}
    )
    assert staging["environment"] == "staging" and staging["variables"] == {"TITLE": "x"}
    listed = (await api.get("/api/projects/me/environments", headers=project.headers)).json()
    assert [(e["name"], e["variables"], e["secrets"]) for e in listed] == [
        ("staging", ["TITLE"], [])
    ]

    # a secret sent back as null keeps its value; one never stored cannot be kept
    kept = await put(api, project, "variables", {"variables": {}, "secrets": {"API_KEY": None}})
    assert kept["secrets"] == ["API_KEY"] and kept["variables"] == {}
    unknown = await api.put(
        "/api/projects/me/variables", json={"secrets": {"NEW": None}}, headers=project.headers
    )
    assert unknown.status_code == 422 and "secrets.NEW" in unknown.json()["detail"]

    # another project sees none of it
    theirs = await api.get("/api/projects/me/environments/staging", headers=other_project.headers)
    assert theirs.status_code == 404
    assert (await api.get("/api/projects/me/variables", headers=other_project.headers)).json()[
        "secrets"
    ] == []

    deleted = await api.delete("/api/projects/me/environments/staging", headers=project.headers)
    assert deleted.status_code == 204
    gone = await api.get("/api/projects/me/environments/staging", headers=project.headers)
    assert gone.status_code == 404 and gone.json()["code"] == "environment_not_found"


async def test_bad_variables_get_a_422_naming_the_field_and_nothing_is_stored(
    api: httpx.AsyncClient, project: ProjectAccess
) -> None:
    await put(api, project, "variables", {"variables": {"KEEP": "me"}})
    bad = [
        ({"variables": {"1BAD": "x"}}, "variables.1BAD"),
        ({"variables": {"BASE_URL": "staging.example"}}, "variables.BASE_URL"),
        ({"variables": {"BASE_URL": "http://10.0.0.1/"}}, "variables.BASE_URL"),
        ({"secrets": {"BASE_URL": "http://127.0.0.1/"}}, "secrets.BASE_URL"),
        ({"secrets": {"PIN": "123"}}, "secrets.PIN: must be at least 4 characters"),
        ({"variables": {"A": "1"}, "secrets": {"A": "long enough"}}, "secrets.A"),
        ({"variables": {"A": "1"}, "other": 1}, "other"),
    ]
    for body, named in bad:
        response = await api.put("/api/projects/me/variables", json=body, headers=project.headers)
        assert response.status_code == 422, (body, response.text)
        assert named in response.json()["detail"], (body, response.json())
    bad_name = await api.put(
        "/api/projects/me/environments/no%20spaces", json={}, headers=project.headers
    )
    assert bad_name.status_code == 422
    still = (await api.get("/api/projects/me/variables", headers=project.headers)).json()
    assert still["variables"] == {"KEEP": "me"}


async def test_a_reference_that_no_environment_defines_is_refused_at_definition(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str
) -> None:
    await put(api, project, "environments/staging", {"variables": {"PAGE": "shop.html"}})
    refused = await api.post("/api/tests", json=two_page_test(), headers=project.headers)
    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "start_url: variable 'BASE_URL' is not defined by the project or any of its environments;"
        " steps[0].value: variable 'TITLE' is not defined by the project or any of its"
        " environments"
    ), "every missing variable at once"
    await put(api, project, "variables", {"variables": {"BASE_URL": pages_url}})
    refused = await api.post("/api/tests", json=two_page_test(), headers=project.headers)
    assert refused.json()["detail"] == (
        "steps[0].value: variable 'TITLE' is not defined by the project or any of its environments"
    )
    assert (await api.get("/api/tests", headers=project.headers)).json() == []


async def test_one_test_runs_against_two_environments(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str
) -> None:
    await with_staging(api, project, pages_url)
    await put(
        api,
        project,
        "environments/production",
        {"variables": {"PAGE": "todos.html", "TITLE": "Todos: demo"}},
    )
    test_id = await create_test(api, project, two_page_test())
    stored_definition = (await api.get(f"/api/tests/{test_id}", headers=project.headers)).json()
    assert stored_definition["definition"]["start_url"] == "/{{PAGE}}", "stored as written"

    jobs = {}
    for environment in ("staging", "production"):
        queued = await run_in(api, project, test_id, environment)
        assert queued.status_code == 200, queued.text
        jobs[environment] = queued.json()["jobId"]
    for environment, job_id in jobs.items():
        done = await wait_for_job(api, project, job_id, ("completed", "failed"))
        assert done["state"] == "completed", (environment, done["result"]["error"])
        assert done["environment"] == environment
    staging = await job(api, project, jobs["staging"])
    assert staging["variables"] == {
        "BASE_URL": pages_url,
        "PAGE": "shop.html",
        "TITLE": "Test shop",
    }
    production = await job(api, project, jobs["production"])
    assert production["variables"]["TITLE"] == "Todos: demo"

    # no environment: the project's own variables lack PAGE, so the run fails at once
    unchosen = await run_in(api, project, test_id, None)
    failed = await wait_for_stored_state(api, project, unchosen.json()["jobId"], "failed")
    assert failed["error"] == (
        "start_url: variable 'PAGE' is not defined by the project (the run chose no environment)"
    )
    assert failed["result"]["error_type"] == "VariableMissing"
    assert failed["result"]["session_attempts"] == [], "no browser was opened, nothing retried"

    unknown = await run_in(api, project, test_id, "nowhere")
    assert unknown.status_code == 422
    assert unknown.json()["detail"] == "environment: environment 'nowhere' not found"

    # a retry runs in the environment of the run it retries
    retried = await api.post(f"/api/execution/job/{jobs['staging']}/retry", headers=project.headers)
    assert retried.status_code == 409  # completed: not retryable; a failed one keeps its choice
    again = await api.post(
        f"/api/execution/job/{unchosen.json()['jobId']}/retry", headers=project.headers
    )
    assert (await job(api, project, again.json()["jobId"]))["environment"] is None


async def test_a_secret_the_page_sees_stays_out_of_the_error_events_and_trace(
    live: httpx.AsyncClient, pages_url: str
) -> None:
    project = await new_project(live)
    await put(live, project, "variables", {"variables": {"BASE_URL": pages_url}})
    await put(live, project, "environments/staging", {"secrets": {"EMAIL": SECRET}})
    definition = {
        "name": "secret shown by the page",
        "start_url": "shop.html",
        "trace": "on-failure-with-snapshots",
        "retry": {"max_attempts": 1},
        "steps": [
            {"action": "type", "selector": "#email", "value": "{{EMAIL}}"},
            {"action": "assert", "selector": "#echo", "expect": "text", "value": "not it"},
        ],
    }
    test_id = await create_test(live, project, definition)
    queued = await run_in(live, project, test_id, "staging")
    job_id = queued.json()["jobId"]
    events = await read_events(live, f"/api/execution/job/{job_id}/events", project)
    stored = await wait_for_stored_state(live, project, job_id, "failed")

    assert stored["error"].endswith("expected '#echo' to have text 'not it', found '***'")
    shown = await job(live, project, job_id)
    assert shown["variables"] == {"BASE_URL": pages_url, "EMAIL": "***"}
    trace_link = next(link for link in stored["artifacts"] if link.endswith(".zip"))
    trace = (await live.get(trace_link, headers=project.headers)).content
    with zipfile.ZipFile(io.BytesIO(trace)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    everything = b"".join(files.values())
    assert b"#echo" in everything, "a real trace was read"
    reports = {
        "error": json.dumps(stored),
        "events": json.dumps(events),
        "job": json.dumps(shown),
    }
    for form, spelled in spellings(SECRET).items():
        if len(spelled) < 4:
            continue
        for where, text in reports.items():
            assert spelled not in text, f"{form!r} of the secret is in the {where}"
        assert spelled.encode() not in everything, f"{form!r} of the secret is in the trace"


async def test_a_schedule_runs_in_its_environment_which_cannot_be_deleted_under_it(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str
) -> None:
    await with_staging(api, project, pages_url)
    test_id = await create_test(api, project, two_page_test())
    schedule = {"name": "nightly", "test_id": test_id, "cron": "0 2 * * *"}
    unknown = await api.post(
        "/api/schedules", json={**schedule, "environment": "nowhere"}, headers=project.headers
    )
    assert unknown.status_code == 422
    assert unknown.json()["detail"] == "environment: environment 'nowhere' not found"

    made = await api.post(
        "/api/schedules", json={**schedule, "environment": "staging"}, headers=project.headers
    )
    assert made.status_code == 201, made.text
    assert made.json()["environment"] == "staging"
    schedule_id = made.json()["id"]
    in_use = await api.delete("/api/projects/me/environments/staging", headers=project.headers)
    assert in_use.status_code == 409 and schedule_id in in_use.json()["detail"]

    fired = await api.post(f"/api/schedules/{schedule_id}/trigger", headers=project.headers)
    assert fired.status_code == 200, fired.text

    async def scheduled_run() -> list[dict]:
        runs = await api.get(f"/api/runs?test_id={test_id}", headers=project.headers)
        return runs.json()

    [run] = await poll(scheduled_run, bool, lambda _: "the schedule queued no run", 30)
    done = await wait_for_job(api, project, run["jobId"], ("completed", "failed"))
    assert done["state"] == "completed", done["result"]["error"]
    assert done["environment"] == "staging" and done["variables"]["TITLE"] == "Test shop"
    await api.delete(f"/api/schedules/{schedule_id}", headers=project.headers)
