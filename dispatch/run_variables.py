"""A run's variables: the project's own, overridden by its chosen environment's, filled into
the definition when the run is queued. Secrets stay references until the worker fills them in
front of the page; the run carries them as sealed as they are stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from core.variables import VariableMissing, references, substitute, uses_variables
from store.models import VariableSet
from store.variables import variable_set


class EnvironmentMissing(LookupError):
    """The run asked for an environment the project does not have."""

    def __init__(self, name: str) -> None:
        super().__init__(f"environment '{name}' not found")
        self.name = name


@dataclass(frozen=True, slots=True)
class RunVariables:
    """What a run may fill in: plain values, and the names of secrets and their sealed sets."""

    environment: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    secret_names: frozenset[str] = frozenset()
    sealed: tuple[str, ...] = ()

    @property
    def scope(self) -> str:
        """Where a missing variable was looked for, for the run's error."""
        if self.environment:
            return f"environment '{self.environment}' or the project"
        return "the project (the run chose no environment)"


async def variables_for_run(
    session: AsyncSession, project_id: int, environment: str | None
) -> RunVariables:
    """The project's variables with `environment`'s over them; EnvironmentMissing if the
    project has no such environment."""
    own = await variable_set(session, project_id)
    chosen = await variable_set(session, project_id, environment) if environment else None
    if environment and chosen is None:
        raise EnvironmentMissing(environment)
    values: dict[str, str] = {}
    secret_names: set[str] = set()
    for row in (own, chosen):
        if row is not None:
            _overlay(row, values, secret_names)
    sealed = tuple(row.sealed_secrets for row in (own, chosen) if row and row.sealed_secrets)
    return RunVariables(environment, values, frozenset(secret_names), sealed)


def _overlay(row: VariableSet, values: dict[str, str], secret_names: set[str]) -> None:
    """Lay a set over the ones before it: a name it defines, as a value or a secret, wins."""
    for name, value in row.variables.items():
        values[name] = value
        secret_names.discard(name)
    for name in row.secret_names:
        secret_names.add(name)
        values.pop(name, None)


def filled_input(definition: dict[str, Any], variables: RunVariables) -> dict[str, Any]:
    """The run input's fields for `definition` with `variables` filled in: `test`, the
    variables it used and its sealed secrets, or `variables_error` (then `test` as it is)."""
    if not uses_variables(definition):
        return {"test": definition, "environment": variables.environment}
    try:
        filled = substitute(definition, variables.values, variables.secret_names, variables.scope)
    except VariableMissing as missing:
        return {
            "test": definition,
            "environment": variables.environment,
            "variables_error": str(missing),
        }
    used = {name for _, name in references(definition)}
    secrets = sorted(used & variables.secret_names)
    return {
        "test": filled,
        "environment": variables.environment,
        "variables": {name: value for name, value in variables.values.items() if name in used},
        "secret_names": secrets,
        "sealed_secrets": list(variables.sealed) if secrets else [],
    }


SECRET_SHOWN = "***"


def variables_shown(run_input: dict[str, Any] | None) -> dict[str, str]:
    """The variables a run used, as its page shows them: secrets masked."""
    if not run_input:
        return {}
    shown = dict(run_input.get("variables") or {})
    shown.update(dict.fromkeys(run_input.get("secret_names") or [], SECRET_SHOWN))
    return dict(sorted(shown.items()))
