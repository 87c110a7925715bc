"""Request and response models of a project's variables and environments."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from core.definition import ABSOLUTE_HTTP_URL
from core.redaction import MIN_SECRET_LENGTH
from core.variables import BASE_URL, NAME

MAX_VARIABLES = 200
ENVIRONMENT_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
VariableName = Annotated[str, StringConstraints(pattern=f"^{NAME.pattern}$")]
VariableValue = Annotated[str, StringConstraints(max_length=10_000)]
EnvironmentName = Annotated[str, StringConstraints(pattern=ENVIRONMENT_NAME)]


class VariablesBody(BaseModel):
    """A whole set of variables and secrets, replacing the stored one. A secret given as null
    keeps its stored value (secrets are never shown, so a client cannot send them back)."""

    model_config = ConfigDict(extra="forbid")

    variables: dict[VariableName, VariableValue] = Field(
        default_factory=dict, max_length=MAX_VARIABLES
    )
    secrets: dict[VariableName, VariableValue | None] = Field(
        default_factory=dict, max_length=MAX_VARIABLES
    )

    @model_validator(mode="after")
    def _names_once_and_secrets_long(self) -> VariablesBody:
        for name in sorted(set(self.variables) & set(self.secrets)):
            raise ValueError(f"secrets.{name}: '{name}' is a variable and a secret at once")
        for name, value in self.secrets.items():
            if value is not None and len(value) < MIN_SECRET_LENGTH:
                raise ValueError(
                    f"secrets.{name}: must be at least {MIN_SECRET_LENGTH} characters"
                    " (a shorter secret cannot be told from ordinary text to be redacted)"
                )
        if BASE_URL in self.secrets:
            raise ValueError(f"secrets.{BASE_URL}: {BASE_URL} is a variable, not a secret")
        base = self.variables.get(BASE_URL)
        if base is not None and not ABSOLUTE_HTTP_URL.match(base):
            raise ValueError(f"variables.{BASE_URL}: must be an absolute http(s) URL")
        return self


class VariablesPublic(BaseModel):
    """A stored set: its variables, and only the names of its secrets."""

    environment: str | None = Field(description="None: the project's own variables")
    variables: dict[str, str]
    secrets: list[str]
    updated_at: datetime | None


class EnvironmentSummary(BaseModel):
    name: str
    variables: list[str]
    secrets: list[str]
    updated_at: datetime
