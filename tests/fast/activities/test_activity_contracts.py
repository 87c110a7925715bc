"""Each activity that workflows call by reference has one implementation of the same name,
taking and returning the same types; no implementation is left without a contract."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any

from temporalio import activity

from activities.browser import BrowserActivities
from activities.schedules import ScheduleActivities
from activities.store import StoreActivities
from activities.webhooks import WebhookActivities
from workflows.activity_contracts import CONTRACTS

IMPLEMENTERS = (BrowserActivities, StoreActivities, ScheduleActivities, WebhookActivities)


def activity_name(function: Callable[..., Any]) -> str | None:
    definition = activity._Definition.from_callable(function)
    return None if definition is None else definition.name


def implementations() -> dict[str, Callable[..., Any]]:
    found: dict[str, Callable[..., Any]] = {}
    for implementer in IMPLEMENTERS:
        for _attribute, method in inspect.getmembers(implementer, inspect.isfunction):
            if (name := activity_name(method)) is not None:
                assert name not in found, f"{name} is implemented twice"
                found[name] = method
    return found


def signature(function: Callable[..., Any]) -> dict[str, Any]:
    """Parameter and return types by position ("return" last), without `self`."""
    hints = typing.get_type_hints(function)
    parameters = [p for p in inspect.signature(function).parameters if p != "self"]
    return {"arguments": [hints[p] for p in parameters], "return": hints["return"]}


def test_every_contract_has_one_implementation_and_every_implementation_a_contract() -> None:
    contracted = {activity_name(contract) for contract in CONTRACTS}
    assert None not in contracted
    assert set(implementations()) == contracted


def test_each_implementation_takes_and_returns_what_its_contract_says() -> None:
    implemented = implementations()
    for contract in CONTRACTS:
        name = activity_name(contract)
        assert name is not None
        assert signature(implemented[name]) == signature(contract), name
