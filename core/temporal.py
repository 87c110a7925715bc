"""Connecting to Temporal with the data converter that every client and worker must share."""

from __future__ import annotations

import dataclasses

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from core.codec import load_codec
from core.config import Settings


def data_converter(settings: Settings) -> DataConverter:
    """Pydantic models as JSON, every payload encrypted (core.codec), failures included: their
    message and stack trace travel as an encoded payload, so page text in a step's error is
    never stored in clear in history."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=load_codec(settings),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect(settings: Settings) -> Client:
    """A Temporal client for the configured address and namespace."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
    )
