"""Playwright's trace viewer, served on the dashboard's origin for the signed-in session's own
traces only.

The viewer's page takes its traces from `?trace=`, and its service worker fetches them and
serves their DOM snapshots under /ui/trace/snapshot/, on this origin. So:
- the page is served only when every `trace=` is an artifact of a run the session may see
  (`/ui/runs/{jobId}/artifacts/{name}.zip`);
- the service worker's script is sent with `connect-src 'self'`, so it can fetch nothing from
  another origin whatever it is asked;
- the snapshot pages it makes carry `form-action 'none'` and `base-uri 'none'` besides
  Playwright's own script nonce, so a snapshot cannot post a form anywhere. Snapshots never see
  the session's cookie: it is HttpOnly, and no script of a snapshot runs.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from api.deps import SessionDep
from api.errors import ApiError
from api.ui.pages import UiSessionDep, run_for

router = APIRouter(prefix="/ui/trace", include_in_schema=False)
OWN_TRACE = re.compile(r"^/ui/runs/(?P<job>[\w.-]{1,200})/artifacts/[\w.-]{1,200}\.zip$")
SNAPSHOT_POLICY = "object-src 'none'`"
SNAPSHOT_POLICY_HARDENED = "object-src 'none'; form-action 'none'; base-uri 'none'`"
WORKER_POLICY = "default-src 'self'; connect-src 'self'"


def trace_viewer_dir() -> Path:
    """Playwright's own trace viewer, as shipped inside the installed package."""
    import playwright

    return Path(playwright.__file__).parent / "driver/package/lib/vite/traceViewer"


@functools.cache
def hardened_service_worker() -> bytes:
    """The viewer's service worker with `form-action 'none'` in its snapshots' policy (an
    upgraded Playwright whose bundle no longer has the policy this expects fails loudly)."""
    script = (trace_viewer_dir() / "sw.bundle.js").read_text()
    if script.count(SNAPSHOT_POLICY) != 1:
        raise RuntimeError("the trace viewer's snapshot policy is not where it was expected")
    return script.replace(SNAPSHOT_POLICY, SNAPSHOT_POLICY_HARDENED).encode()


@router.get("/sw.bundle.js")
async def service_worker() -> Response:
    return Response(
        hardened_service_worker(),
        media_type="text/javascript",
        headers={"Content-Security-Policy": WORKER_POLICY, "Cache-Control": "no-cache"},
    )


@router.get("/")
@router.get("/index.html")
async def viewer(request: Request, ui: UiSessionDep, session: SessionDep) -> Response:
    """The viewer's page, for traces of the signed-in session's own runs (or none: a file
    the person drops in)."""
    for trace in request.query_params.getlist("trace"):
        match = OWN_TRACE.match(trace)
        if match is None:
            raise ApiError(
                400, "foreign_trace", "the trace viewer opens only this dashboard's own traces"
            )
        await run_for(ui, session, match["job"])  # 404 unless the session may see the run
    return FileResponse(trace_viewer_dir() / "index.html", media_type="text/html")
