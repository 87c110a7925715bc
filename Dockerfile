# One image for the API and the worker; the command picks the role.
FROM python:3.11-slim-bookworm

RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium fonts-liberation libjemalloc2 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml ./
COPY core ./core
COPY workflows ./workflows
COPY activities ./activities
COPY browser ./browser
COPY runner ./runner
COPY api ./api
COPY dispatch ./dispatch
COPY live ./live
COPY store ./store
COPY devstack ./devstack
COPY examples ./examples
COPY worker.py dispatcher.py ./
RUN pip install --no-cache-dir .

# The service and the browsers it runs for tenants never run as root.
RUN useradd --create-home --uid 10001 testrun \
    && mkdir -p /data && chown testrun:testrun /data && chmod 0700 /data
USER testrun

ENV CHROMIUM_PATH=/usr/bin/chromium
CMD ["python", "worker.py"]
