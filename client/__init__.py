"""A typed Python client of the service (`client.api`) and the `testrun` command built on it
(`client.cli`). The response models are the API's own (`api.schemas`)."""
