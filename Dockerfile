# Faultline: `faultline run` (ingest, detectors, alerts, tickets and the API in
# one process). Built by docker-compose.yml; any `faultline ...` command runs
# in it too (e.g. `docker-compose exec faultline faultline apikey create ...`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# openssl: `faultline devices certs` makes the broker's CA and certificate (compose's init step).
RUN apt-get update && apt-get install -y --no-install-recommends openssl && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 faultline \
 && useradd --system --uid 10001 --gid faultline --home-dir /var/lib/faultline --shell /usr/sbin/nologin faultline \
 && install -d -m 700 -o faultline -g faultline /var/lib/faultline \
 && groupadd --system --gid 1883 broker && usermod -aG broker faultline \
 && install -d -m 2750 -o faultline -g broker /var/lib/faultline/broker-auth /var/lib/faultline/broker-tls
# (gid 1883 is the broker image's mosquitto group: compose's broker reads the generated
# password and ACL files and its certificate through it; fresh volumes mounted on the
# two setgid folders start with this owner, group and mode)

# Install the distribution (not the source tree): what pip builds is what runs, at the
# versions the test suite passed with (deploy/constraints.txt).
COPY . /src
RUN pip install -c /src/deploy/constraints.txt "/src[postgres]" && rm -rf /src

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
