# trailpulse in a container: the package installed into python:3.12-slim, the `trailpulse` command as
# the entrypoint (`docker run IMAGE replay /data/AWSLogs`). docker-compose.yml runs it beside Kafka.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only what the package is built from, so that tests, scripts and local files stay out of the image.
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY insights ./insights
COPY consumers ./consumers
RUN pip install '.[confluent]' \
    && rm -rf /src \
    && useradd --create-home --uid 10001 trailpulse \
    && mkdir /data \
    && chown trailpulse /data

# `run` serves /healthz and /readyz on 127.0.0.1 by default (private on a laptop); in a container the
# probes and the published port come from outside, so listen on every interface.
ENV TRAILPULSE_RUN_HEALTH_HOST=0.0.0.0

USER trailpulse
WORKDIR /data
VOLUME ["/data"]
ENTRYPOINT ["trailpulse"]
CMD ["--help"]
