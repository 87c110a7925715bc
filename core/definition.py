"""The test definition format: a start URL and a list of steps, validated before anything runs."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from core.egress import EgressPolicy, refused_scheme, resolve_like_browser
from core.redaction import MIN_SECRET_LENGTH
from core.variables import is_relative

Action = Literal[
    "navigate",
    "click",
    "doubleclick",
    "rightclick",
    "hover",
    "type",
    "change",
    "clear",
    "select",
    "check",
    "uncheck",
    "press",
    "scroll",
    "wait",
    "assert",
    "screenshot",
    "upload",
    "back",
    "forward",
    "reload",
]
ACTIONS: tuple[str, ...] = Action.__args__  # type: ignore[attr-defined]

Expectation = Literal[
    "visible",
    "hidden",
    "attached",
    "detached",
    "text",
    "contains",
    "matches",
    "value",
    "attribute",
    "class",
    "count",
    "checked",
    "enabled",
    "disabled",
    "focused",
    "empty",
    "url",
    "title",
]
EXPECTATIONS: tuple[str, ...] = Expectation.__args__  # type: ignore[attr-defined]
PAGE_EXPECTATIONS = ("url", "title")
Match = Literal["exact", "contains", "regex"]
MATCHED = {"text", "value", "attribute", "url", "title"}
"""Expectations that take `match`."""
NEEDS_EXPECTED_VALUE = {"text", "contains", "matches", "value", "class", "count", "url", "title"}
WaitFor = Literal["url", "load_state", "response"]
LOAD_STATES = ("load", "domcontentloaded", "networkidle")
MAX_PATTERN = 500
"""The longest regular expression a step may carry."""

TraceMode = Literal["on-failure", "on-failure-with-snapshots", "off"]
"""on-failure: actions, console and network, kept when the run does not pass;
with-snapshots adds DOM snapshots for the trace viewer (slower); off records nothing."""

NEEDS_SELECTOR = {
    "click",
    "doubleclick",
    "rightclick",
    "hover",
    "type",
    "change",
    "clear",
    "select",
    "check",
    "uncheck",
    "upload",
}
NEEDS_VALUE = {"navigate", "type", "change", "select", "press", "upload"}
CREDENTIAL_PLACEHOLDER = re.compile(r"\{\{\s*(username|password)\s*\}\}")
ABSOLUTE_HTTP_URL = re.compile(r"^https?://[^/\s]+", re.IGNORECASE)
URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
UPLOAD_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,199}$")


def _as_text(value: object) -> object:
    """Accept numbers where text is expected (`"wait": 500`), keep everything else as is."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return str(value)
    return value


Text = Annotated[str, BeforeValidator(_as_text)]


START_PAGE_TIMEOUT_MS = 10_000
"""The least time a run's start page gets to load, whatever the first step's timeout."""


class RetrySettings(BaseModel):
    """How a failing step is retried: attempts in all, and exponential backoff between them."""

    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(default=3, ge=1, le=10)
    initial_interval_s: float = Field(default=2.0, ge=0, le=300)
    backoff_coefficient: float = Field(default=2.0, ge=1, le=10)
    max_interval_s: float = Field(default=60.0, ge=0, le=3600)

    def wait_before(self, attempt: int) -> float:
        """Seconds to wait before `attempt` (2 is the first retry)."""
        wait = self.initial_interval_s * self.backoff_coefficient ** (attempt - 2)
        return min(wait, self.max_interval_s)


class Viewport(BaseModel):
    """The page's size in CSS pixels for a whole run."""

    model_config = ConfigDict(extra="forbid")

    width: int = Field(ge=200, le=3840)
    height: int = Field(ge=200, le=2160)


class Step(BaseModel):
    """One browser action; which fields it needs depends on the action."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    action: Action
    selector: str | None = Field(default=None, min_length=1, max_length=2000)
    fallback_selectors: list[Annotated[str, Field(min_length=1, max_length=2000)]] = Field(
        default_factory=list, max_length=20
    )
    value: Text | None = Field(default=None, max_length=10_000)
    description: str | None = Field(default=None, max_length=500)
    timeout_ms: int | None = Field(default=None, ge=100, le=600_000)
    expect: Expectation | None = None
    """What an `assert` checks (default: the element is visible, and contains `value`)."""
    negate: bool = Field(default=False, alias="not")
    """`"not": true` inverts an `assert`'s expectation."""
    match: Match | None = None
    """How `text`, `value`, `attribute`, `url` and `title` compare (default exact)."""
    name: str | None = Field(default=None, min_length=1, max_length=200)
    """The attribute an `attribute` expectation reads."""
    wait_for: WaitFor | None = Field(default=None, alias="for")
    """What a `wait` waits for besides time or an element: a URL, a load state, a response."""
    status: int | None = Field(default=None, ge=100, le=599)
    """The status a `wait` for a response expects."""
    retry: RetrySettings | None = None
    """This step's own retries, instead of the test's."""

    @model_validator(mode="after")
    def _fields_fit_action(self) -> Step:
        check_expectation(self)
        check_wait(self)
        if self.action in NEEDS_SELECTOR and not self.selector:
            raise ValueError(f"selector: action '{self.action}' needs a selector")
        if self.action in NEEDS_VALUE and self.value in (None, ""):
            raise ValueError(f"value: action '{self.action}' needs a value")
        if self.fallback_selectors and not self.selector:
            raise ValueError("fallback_selectors: given without a primary selector")
        if self.action == "wait" and not self.selector and self.wait_for is None:
            if self.value is None or not _is_non_negative_number(self.value):
                raise ValueError("value: 'wait' needs milliseconds (a number) or a selector")
            if float(self.value) > 600_000:
                raise ValueError("value: 'wait' is limited to 600000 ms")
        scroll_by = self.action == "scroll" and not self.selector and self.value is not None
        if scroll_by and not _is_number(self.value or ""):
            raise ValueError("value: 'scroll' takes pixels (a number) or a selector")
        scheme = URL_SCHEME.match(self.value or "") if self.action == "navigate" else None
        if scheme and (refusal := refused_scheme(scheme[1])):
            raise ValueError(f"value: {refusal}")
        if self.action == "upload" and self.value and not UPLOAD_NAME.fullmatch(self.value):
            raise ValueError(
                "value: 'upload' takes a plain file name from the project's upload folder"
            )
        return self

    @property
    def selectors(self) -> list[str]:
        """The primary selector followed by its fallbacks, in the order they are tried."""
        return [self.selector, *self.fallback_selectors] if self.selector else []


def check_expectation(step: Step) -> None:
    """An `assert`'s expectation fits its fields; ValueError naming the field if not."""
    expect = step.expect
    if step.action != "assert":
        for field, given in (("expect", expect), ("not", step.negate)):
            if given:
                raise ValueError(f"{field}: only an 'assert' step takes '{field}'")
        if step.match is not None and (step.wait_for not in ("url", "response")):
            raise ValueError("match: only an 'assert' or a 'wait' for a url or response takes it")
        if step.match not in (None, "regex"):
            raise ValueError("match: a wait takes a glob, or 'regex'")
        if step.name is not None:
            raise ValueError("name: only an 'assert' of an 'attribute' takes a name")
        return
    if expect in PAGE_EXPECTATIONS:
        if step.selector:
            raise ValueError(f"selector: '{expect}' is checked on the page, without a selector")
    elif not step.selector and expect is not None:  # a bare assert checked nothing before
        raise ValueError(f"selector: expectation '{expect}' needs a selector")
    if step.match is not None and expect not in MATCHED:
        raise ValueError(f"match: expectation '{expect or 'visible'}' takes no 'match'")
    if expect in NEEDS_EXPECTED_VALUE and step.value in (None, ""):
        raise ValueError(f"value: expectation '{expect}' needs a value")
    if expect == "attribute" and not step.name:
        raise ValueError("name: expectation 'attribute' needs the attribute's name")
    if expect != "attribute" and step.name is not None:
        raise ValueError("name: only an 'attribute' expectation takes a name")
    if expect == "count" and not (step.value or "").isdigit():
        raise ValueError("value: expectation 'count' needs a whole number of elements")
    if expect == "matches" or step.match == "regex":
        check_pattern(step.value or "")


def check_wait(step: Step) -> None:
    """A `wait` for a URL, a load state or a response fits its fields."""
    if step.wait_for is None:
        if step.status is not None:
            raise ValueError("status: only a 'wait' for a response takes a status")
        return
    if step.action != "wait":
        raise ValueError("for: only a 'wait' step takes 'for'")
    if step.selector:
        raise ValueError(f"selector: a wait for {step.wait_for} takes no selector")
    if not step.value:
        raise ValueError(f"value: a wait for {step.wait_for} needs a value")
    if step.wait_for == "load_state" and step.value not in LOAD_STATES:
        raise ValueError(f"value: a load state is one of {', '.join(LOAD_STATES)}")
    if step.status is not None and step.wait_for != "response":
        raise ValueError("status: only a 'wait' for a response takes a status")
    if step.match == "regex":
        check_pattern(step.value)


def check_pattern(pattern: str) -> None:
    """A regular expression a step may carry: short, and one that compiles."""
    if len(pattern) > MAX_PATTERN:
        raise ValueError(f"value: a regular expression is limited to {MAX_PATTERN} characters")
    try:
        re.compile(pattern)
    except re.error as error:
        raise ValueError(f"value: the regular expression does not compile: {error}") from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_non_negative_number(text: str) -> bool:
    return _is_number(text) and float(text) >= 0


class TestDefinition(BaseModel):
    """A recorded browser test."""

    __test__ = False  # not a pytest class
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    start_url: str = Field(min_length=1, max_length=2000)
    auth_flow_id: int | str | None = None
    timeout_s: int = Field(default=300, ge=1, le=86_400)
    step_timeout_ms: int = Field(default=10_000, ge=100, le=600_000)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    trace: TraceMode = "on-failure"
    viewport: Viewport | None = None
    """The page's size for the run (default: the browser context's, 1280 x 720)."""
    steps: list[Step] = Field(min_length=1, max_length=500)

    def retry_of(self, index: int) -> RetrySettings:
        """The retries of step `index`: its own, or the test's."""
        return self.steps[index].retry or self.retry

    @model_validator(mode="after")
    def _start_url_is_http(self) -> TestDefinition:
        url = self.start_url
        if not (ABSOLUTE_HTTP_URL.match(url) or is_relative(url) or url.startswith("{{")):
            raise ValueError(
                "start_url: must be an absolute http(s) URL, a variable, or a path"
                " relative to the BASE_URL variable"
            )
        return self


class Credentials(BaseModel):
    """The login of an auth flow; never logged, never returned."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=500)
    password: str = Field(min_length=1, max_length=500)


class AuthFlowDefinition(BaseModel):
    """A login flow: its steps reference the credentials as {{username}} and {{password}}."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    login_url: str = Field(min_length=1, max_length=2000)
    steps: list[Step] = Field(min_length=1, max_length=100)
    credentials: Credentials

    @model_validator(mode="after")
    def _login_url_is_http(self) -> AuthFlowDefinition:
        if not ABSOLUTE_HTTP_URL.match(self.login_url):
            raise ValueError("login_url: must be an absolute http(s) URL")
        for name in ("username", "password"):
            if len(getattr(self.credentials, name)) < MIN_SECRET_LENGTH:
                raise ValueError(
                    f"credentials.{name}: must be at least {MIN_SECRET_LENGTH} characters"
                    " (a shorter secret cannot be told from ordinary text to be redacted)"
                )
        return self


def refused_urls(
    definition: TestDefinition | AuthFlowDefinition, policy: EgressPolicy
) -> list[dict[str, Any]]:
    """Problems (`loc`, `msg`) for every URL of a definition that the egress policy can never
    pass (a denied scheme, a literal denied address), known before anything runs (a URL made
    of variables is checked when a run fills them in)."""
    if isinstance(definition, TestDefinition):
        base, field = definition.start_url, "start_url"
    else:
        base, field = definition.login_url, "login_url"
    urls: list[tuple[tuple[str | int, ...], str]] = [((field,), resolve_like_browser(None, base))]
    for index, step in enumerate(definition.steps):
        if step.action == "navigate" and step.value:
            urls.append((("steps", index, "value"), resolve_like_browser(base, step.value)))
    problems = []
    for where, url in urls:
        if "{{" in url or is_relative(url):  # known only once the run's variables are
            continue
        reason = policy.refuse_url(url)
        if reason is not None:
            problems.append({"loc": where, "msg": f"blocked by the egress policy: {reason}"})
    return problems


def describe_validation_error(error: ValidationError) -> str:
    """One line per problem, naming the step index and the field: `steps[2]: selector: ...`."""
    return describe_locations(error.errors())


def describe_locations(problems: Sequence[Mapping[str, Any]]) -> str:
    """Join pydantic-style problems (`loc`, `msg`) as `steps[2].value: message; ...`."""
    lines = []
    for problem in problems:
        where = ""
        for part in problem["loc"]:
            where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
        message = str(problem["msg"]).removeprefix("Value error, ")
        lines.append(f"{where}: {message}" if where else message)
    return "; ".join(lines)


def parse_test(data: object) -> TestDefinition:
    """Validate raw data as a test definition; raise InvalidDefinition with a readable message."""
    try:
        return TestDefinition.model_validate(data)
    except ValidationError as error:
        raise InvalidDefinition(describe_validation_error(error)) from None


class InvalidDefinition(ValueError):
    """A test or auth flow definition that cannot run, with the step index and field named."""
