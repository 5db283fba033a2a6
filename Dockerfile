# A safemeet node: `docker build -t safemeet .`, then
#   docker run -p 127.0.0.1:8765:8765 -v safemeet-data:/data safemeet
# Arguments replace the default command, e.g. `docker run ... safemeet serve --host 0.0.0.0
# --port 8765 --redis redis://redis:6379/0`. compose.yaml runs two nodes with Redis and coturn.

# The browser app's third-party modules (package-lock.json), served by the node at /vendor/.
FROM node:20-slim AS vendor
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error

# The Python package in a venv of its own, so it can be copied whole into the final stage.
FROM python:3.11-slim AS build
RUN python3 -m venv /opt/safemeet
COPY pyproject.toml README.md /build/
COPY src /build/src
RUN /opt/safemeet/bin/pip install --no-cache-dir --disable-pip-version-check /build \
 && /opt/safemeet/bin/pip uninstall --yes --quiet --disable-pip-version-check pip setuptools

FROM python:3.11-slim
ENV PATH=/opt/safemeet/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=build /opt/safemeet /opt/safemeet
# The node looks for node_modules two levels above its web/ directory (safemeet.node.config,
# VENDOR_DIR); in this venv that is lib/python3.11/. The check fails the build if that ever moves.
COPY --from=vendor /build/node_modules /opt/safemeet/lib/python3.11/node_modules
RUN python -c "from safemeet.node.config import VENDOR_DIR; from safemeet.node.static import VENDOR; \
assert VENDOR_DIR and all((VENDOR_DIR / rel).is_file() for rel in VENDOR.values()), 'vendor files not found'" \
 && useradd --uid 10001 --user-group --home-dir /data --no-create-home --shell /usr/sbin/nologin safemeet \
 && mkdir /data && chown safemeet:safemeet /data
USER safemeet
WORKDIR /data
# SQLite registry of a node without --redis (a node with --redis keeps nothing on disk).
VOLUME /data
EXPOSE 8765
# Readiness: 503 while the node's Redis is out of reach (restarting the node would not help).
# With --tls-cert, set SAFEMEET_HEALTHZ=https://127.0.0.1:8765/healthz (the probe does not check
# the certificate: it names the public host, not 127.0.0.1).
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import os, ssl, urllib.request; urllib.request.urlopen(os.environ.get('SAFEMEET_HEALTHZ', 'http://127.0.0.1:8765/healthz'), timeout=4, context=ssl._create_unverified_context())"]
ENTRYPOINT ["safemeet"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8765", "--data", "/data"]
