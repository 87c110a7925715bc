"""Connecting to Temporal with the data converter that every client and worker must share."""

from __future__ import annotations

import dataclasses

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from core.codec import load_codec
from core.config import Settings
from core.temporal_logs import forward_core_logs

CLEAR_CONVERTER = dataclasses.replace(
    pydantic_data_converter, failure_converter_class=DefaultFailureConverterWithEncodedAttributes
)
"""Pydantic models as JSON; a failure's message and stack trace travel as an encoded payload.
Payloads are in clear: what the codec encrypts, and what replaying a cleartext history needs."""


def data_converter(settings: Settings) -> DataConverter:
    """CLEAR_CONVERTER with every payload encrypted (core.codec), failures included, so page
    text in a step's error is never stored in clear in history."""
    return dataclasses.replace(CLEAR_CONVERTER, payload_codec=load_codec(settings))


async def connect(settings: Settings) -> Client:
    """A Temporal client for the configured address and namespace (core's own log lines go
    through Python's logging: core.temporal_logs)."""
    forward_core_logs()
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
    )
