# Faultline: `faultline run` (ingest, detectors, alerts, tickets and the API in
# one process). Built by docker-compose.yml; any `faultline ...` command runs
# in it too (e.g. `docker-compose exec faultline faultline apikey create ...`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 faultline \
 && useradd --system --uid 10001 --gid faultline --home-dir /var/lib/faultline --shell /usr/sbin/nologin faultline \
 && install -d -o faultline -g faultline /var/lib/faultline

# Install the distribution (not the source tree): what pip builds is what runs.
COPY . /src
RUN pip install "/src[postgres]" && rm -rf /src

USER faultline
WORKDIR /var/lib/faultline
ENV FAULTLINE_DATA_DIR=/var/lib/faultline \
    FAULTLINE_API_HOST=0.0.0.0 \
    FAULTLINE_API_PORT=8000
VOLUME ["/var/lib/faultline"]
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=5 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]

# SIGTERM stops gracefully: the batch in hand is flushed, the MQTT session kept.
STOPSIGNAL SIGTERM
CMD ["faultline", "run"]
