"""Connecting to Temporal with the data converter that every client and worker must share."""

from __future__ import annotations

import dataclasses

from temporalio.api.failure.v1 import Failure
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadConverter,
)
from temporalio.exceptions import ApplicationError

from core.codec import load_codec
from core.config import Settings
from core.temporal_logs import forward_core_logs


class PlainFailureConverter(DefaultFailureConverterWithEncodedAttributes):
    """Failures the service raises on purpose (an ApplicationError: a step's error, a lost
    session, a refused test) travel with their message and no Python stack trace, so the
    run's history shows what went wrong in the test; any other exception (a fault in the
    code) keeps its trace. Message and trace travel as an encoded payload."""

    def to_failure(
        self, exception: BaseException, payload_converter: PayloadConverter, failure: Failure
    ) -> None:
        if isinstance(exception, ApplicationError):
            exception.__traceback__ = None
        super().to_failure(exception, payload_converter, failure)


CLEAR_CONVERTER = dataclasses.replace(
    pydantic_data_converter, failure_converter_class=PlainFailureConverter
)
"""Pydantic models as JSON; failures as PlainFailureConverter makes them. Payloads are in
clear: what the codec encrypts, and what replaying a cleartext history needs."""


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
