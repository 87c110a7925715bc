"""`testrun`: queue tests and suites from a terminal or a CI job, follow them, and leave a JUnit
report. Settings come from TESTRUN_URL and TESTRUN_TOKEN, or --url and --token.

Exit codes: 0 every run completed; 1 a run failed or timed out; 2 a run was cancelled (and
none failed), or the command could not be used or could not reach the service.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn

from api.schemas import Job, WaitingRuns
from client.api import FINAL, AsyncClient, Event, Priority, ServiceError
from core.definition import InvalidDefinition, parse_test

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
OK, FAILED, CANCELLED_OR_UNUSABLE = 0, 1, 2
T = TypeVar("T")

Url = Annotated[str, typer.Option(envvar="TESTRUN_URL", help="The service's base URL")]
Token = Annotated[str, typer.Option(envvar="TESTRUN_TOKEN", help="A project token")]
Wait = Annotated[bool, typer.Option("--wait", help="Follow the runs to their end")]
PriorityOption = Annotated[str, typer.Option(help="regular, or live (before regular runs)")]
EnvOption = Annotated[
    str | None,
    typer.Option("--env", help="The environment whose variables the runs use (e.g. staging)"),
]
JunitOption = Annotated[
    Path | None, typer.Option("--junit", help="Write a JUnit XML report here (with --wait)")
]


def exit_code(states: list[str]) -> int:
    if any(state in ("failed", "timed_out") for state in states):
        return FAILED
    if any(state == "cancelled" for state in states):
        return CANCELLED_OR_UNUSABLE
    return OK


def call(url: str, token: str, work: Callable[[AsyncClient], Awaitable[T]]) -> T:
    """Run `work` with a client; a refusal or an unreachable service exits with 2."""

    async def once() -> T:
        async with AsyncClient(url, token) as client:
            return await work(client)

    try:
        return asyncio.run(once())
    except ServiceError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(CANCELLED_OR_UNUSABLE) from None


def priority_of(value: str) -> Priority:
    if value not in ("regular", "live"):
        raise typer.BadParameter("priority is regular or live")
    return "live" if value == "live" else "regular"


class Follower:
    """Each run's events to its end: one progress bar per run on a terminal (or, for a suite
    run, `together`: one bar of its runs that ended), plain lines (one per event, no control
    characters) otherwise."""

    def __init__(self, client: AsyncClient, console: Console, together: str | None = None) -> None:
        self.client = client
        self.console = console
        self.plain = not console.is_terminal
        self.together = together
        self.suite_task: TaskID | None = None
        self.failed = 0
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%  {task.fields[step]}"),
            console=console,
            disable=self.plain,
        )

    async def follow_all(self, job_ids: list[str]) -> list[str]:
        with self.progress:
            if self.together is not None:
                self.suite_task = self.progress.add_task(
                    self.together, total=len(job_ids), step=f"0 of {len(job_ids)} ended"
                )
            return list(await asyncio.gather(*(self.follow(job_id) for job_id in job_ids)))

    def _one_ended(self, state: str) -> None:
        """A suite run's aggregate bar moves on by one run (its failures counted)."""
        if self.suite_task is None:
            return
        self.failed += state in ("failed", "timed_out")
        task = self.progress.tasks[self.suite_task]
        ended = int(task.completed) + 1
        failed = f", {self.failed} failed" if self.failed else ""
        step = f"{ended} of {int(task.total or 0)} ended{failed}"
        self.progress.update(self.suite_task, completed=ended, step=step)

    async def follow(self, job_id: str) -> str:
        first = (await self.client.job(job_id)).job
        label = f"{first.testName} ({job_id})" if first.testName else job_id
        visible = self.together is None
        task = self.progress.add_task(label, total=100, step="queued", visible=visible)
        state = "waiting"
        async for event in self.client.events(job_id):
            state = self.show(job_id, task, event) or state
        final = (await self.client.job(job_id)).job
        self.progress.update(task, completed=100 if final.state == "completed" else final.progress)
        if state not in FINAL:
            state = final.state
        self._one_ended(state)
        return state

    def show(self, job_id: str, task: TaskID, event: Event) -> str | None:
        data = event.data
        step = data.get("index")
        where = f"step {step + 1}" if isinstance(step, int) and step >= 0 else "login"
        text = {
            "queued": f"queued (position {data.get('position')})",
            "position": f"position {data.get('position')}",
            "started": "started",
            "step_started": f"{where} {data.get('action', '')} (attempt {data.get('attempt')})",
            "step_passed": f"{where} passed",
            "step_failed": f"{where} failed: {data.get('error', '')}",
            "retrying": f"{where}: retrying in {data.get('inS')} s",
        }.get(event.type, event.type)
        if self.plain:
            print(f"{job_id} {event.type}: {text}".replace("\r", " ").replace("\x1b", ""))
        else:
            progress = data.get("progress")
            fields: dict[str, Any] = {"step": text}
            if isinstance(progress, int):
                fields["completed"] = progress
            self.progress.update(task, **fields)
        return event.type if event.type in FINAL else data.get("state")


def load(path: Path) -> dict[str, Any]:
    try:
        definition = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise typer.BadParameter(f"{path}: {error}") from None
    if not isinstance(definition, dict):
        raise typer.BadParameter(f"{path}: a test definition is a JSON object")
    return definition


def checked(path: Path) -> dict[str, Any]:
    """A test definition file, validated as the service validates it (naming the file)."""
    definition = load(path)
    try:
        parse_test(definition)
    except InvalidDefinition as invalid:
        typer.echo(f"error: {path}: {invalid}", err=True)
        raise typer.Exit(CANCELLED_OR_UNUSABLE) from None
    return definition


async def finish(
    client: AsyncClient,
    job_ids: list[str],
    wait: bool,
    junit: Path | None,
    together: str | None = None,
) -> int:
    """Follow the runs if asked, write the JUnit report, and say how each ended (a failed one
    with its failed step and why). Ctrl-C while following cancels the runs and still writes
    the report of those that ended; a second Ctrl-C leaves them running."""
    if not wait:
        return OK
    try:
        await Follower(client, Console(), together).follow_all(job_ids)
    except asyncio.CancelledError:  # the first Ctrl-C (asyncio.run cancels its main task)
        return await interrupted(client, job_ids, junit)
    jobs = [(await client.job(job_id)).job for job_id in job_ids]
    if junit is not None:
        junit.write_bytes(await client.junit(job_ids))
    for job in jobs:
        print(ending(job))
    return exit_code([job.state for job in jobs])


async def interrupted(client: AsyncClient, job_ids: list[str], junit: Path | None) -> int:
    """Cancel the runs this command started, and report those that have ended."""
    print("interrupted: cancelling the runs (Ctrl-C again leaves them running)", file=sys.stderr)
    await asyncio.gather(*(client.cancel(job_id) for job_id in job_ids), return_exceptions=True)
    jobs = await ended_soon(client, job_ids)
    ended = [job.jobId for job in jobs if job.state in FINAL]
    if junit is not None and ended:
        junit.write_bytes(await client.junit(ended))
    for job in jobs:
        print(ending(job))
    return CANCELLED_OR_UNUSABLE


CANCEL_WAIT_S = 20


async def ended_soon(client: AsyncClient, job_ids: list[str]) -> list[Job]:
    """The runs as they stand once each has ended, or after CANCEL_WAIT_S."""
    deadline = asyncio.get_running_loop().time() + CANCEL_WAIT_S
    while True:
        jobs = [(await client.job(job_id)).job for job_id in job_ids]
        if all(job.state in FINAL for job in jobs) or asyncio.get_running_loop().time() > deadline:
            return jobs
        await asyncio.sleep(0.5)


def ending(job: Job) -> str:
    """How a run ended, in a line, and for one that failed a second line: the step and why."""
    name = f"  {job.testName}" if job.testName else ""
    line = f"{job.jobId}: {job.state}{name}"
    if job.state in ("failed", "timed_out") and job.result is not None:
        reason = (job.result.error or "").strip().splitlines() or ["no reason recorded"]
        line += f"\n  {job.result.where_failed()}: {reason[0]}"
    return line


@app.command()
def run(
    files: Annotated[list[Path], typer.Argument(help="Test definitions (JSON)")],
    url: Url = "http://127.0.0.1:8000",
    token: Token = "",
    wait: Wait = False,
    priority: PriorityOption = "regular",
    junit: JunitOption = None,
    env: EnvOption = None,
) -> None:
    """Create or update each test by name, queue a run of each, and (with --wait) follow them.
    Every file is checked, and every test stored, before any run is queued."""
    definitions = [checked(path) for path in files]
    chosen = priority_of(priority)

    async def work(client: AsyncClient) -> int:
        tests = []
        for path, definition in zip(files, definitions, strict=True):
            try:
                tests.append(await client.save_test(definition))
            except ServiceError as refused:
                raise ServiceError(f"{path}: {refused}", refused.status) from None
        job_ids = []
        for test in tests:
            queued = await client.run_test(test.id, chosen, env)
            print(f"{test.name}: {queued.jobId} Queued (Pos {queued.position})")
            job_ids.append(queued.jobId)
        return await finish(client, job_ids, wait, junit)

    raise typer.Exit(call(url, token, work))


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="A Chrome DevTools Recorder recording (JSON)")],
    url: Url = "http://127.0.0.1:8000",
    token: Token = "",
    name: Annotated[str | None, typer.Option(help="The test's name (default: its title)")] = None,
    run_it: Annotated[bool, typer.Option("--run", help="Queue a run of it")] = False,
    wait: Wait = False,
    env: EnvOption = None,
) -> None:
    """Store a test made of a recording; list each recording step it could not map."""
    recording = load(file)

    async def work(client: AsyncClient) -> int:
        imported = await client.import_recording(recording, name)
        test = imported.test
        print(f"{test.name}: test {test.id}, {len(test.definition.steps)} steps")
        for step in imported.unmapped:
            print(f"not imported: step {step.index} ({step.type}): {step.reason}")
        if not run_it:
            return OK
        queued = await client.run_test(test.id, "regular", env)
        print(f"{test.name}: {queued.jobId} Queued (Pos {queued.position})")
        return await finish(client, [queued.jobId], wait, None)

    raise typer.Exit(call(url, token, work))


@app.command()
def suite(
    suite_id: Annotated[int, typer.Argument(help="The suite's ID")],
    url: Url = "http://127.0.0.1:8000",
    token: Token = "",
    wait: Wait = False,
    priority: PriorityOption = "regular",
    junit: JunitOption = None,
    env: EnvOption = None,
) -> None:
    """Queue a run of every test of the suite, and (with --wait) follow them."""
    chosen = priority_of(priority)

    async def work(client: AsyncClient) -> int:
        queued = await client.run_suite(suite_id, chosen, env)
        print(f"suite run {queued.suiteRunId}: {len(queued.jobs)} runs, the longest first")
        for job in queued.jobs:
            print(f"test {job.testId}: {job.jobId} Queued (Pos {job.position})")
        job_ids = [job.jobId for job in queued.jobs]
        return await finish(client, job_ids, wait, junit, together=f"suite {suite_id}")

    raise typer.Exit(call(url, token, work))


@app.command()
def status(job_id: str, url: Url = "http://127.0.0.1:8000", token: Token = "") -> None:
    """Where a run stands."""
    job = call(url, token, lambda client: client.job(job_id)).job
    where = f", position {job.position}" if job.position is not None else ""
    name = f" ({job.testName})" if job.testName else ""
    print(f"{job.jobId}{name}: {job.state}{where}, {job.progress} %")
    if job.state in ("failed", "timed_out"):
        print(ending(job).split("\n", 1)[-1])


@app.command()
def cancel(job_id: str, url: Url = "http://127.0.0.1:8000", token: Token = "") -> None:
    """Cancel a waiting or running run."""
    print(call(url, token, lambda client: client.cancel(job_id)).message)


@app.command()
def retry(job_id: str, url: Url = "http://127.0.0.1:8000", token: Token = "") -> None:
    """Run a failed, timed-out or cancelled run's test again."""
    queued = call(url, token, lambda client: client.retry(job_id))
    print(f"{queued.jobId} Queued (Pos {queued.position})")


@app.command()
def queue(url: Url = "http://127.0.0.1:8000", token: Token = "") -> None:
    """The project's counts and its first waiting runs with their positions."""

    async def work(client: AsyncClient) -> tuple[Any, WaitingRuns]:
        return (await client.queue()).queue, await client.waiting()

    counts, first = call(url, token, work)
    print(" ".join(f"{name}={value}" for name, value in counts.model_dump().items()))
    for run in first.runs:
        print(f"{run.position:>6}  {run.jobId}  {run.priority}  {run.testName or ''}".rstrip())


@app.command()
def events(job_id: str, url: Url = "http://127.0.0.1:8000", token: Token = "") -> None:
    """Follow a run's events to its end, a line each."""

    async def work(client: AsyncClient) -> None:
        async for event in client.events(job_id):
            print(f"{event.id or '-'} {event.type} {json.dumps(event.data, sort_keys=True)}")
            sys.stdout.flush()

    call(url, token, work)


GLOBAL_OPTIONS = ("--url", "--token")


def options_after_command(args: list[str]) -> list[str]:
    """`testrun --url X queue` as `testrun queue --url X`: the options every command takes
    may come before the command too."""
    leading: list[str] = []
    rest = list(args)
    while rest and rest[0].split("=", 1)[0] in GLOBAL_OPTIONS:
        option = rest.pop(0)
        leading.append(option)
        if "=" not in option and rest:
            leading.append(rest.pop(0))
    if not rest:
        return args
    return [rest[0], *leading, *rest[1:]]


def main() -> None:
    app(args=options_after_command(sys.argv[1:]))


if __name__ == "__main__":
    main()
