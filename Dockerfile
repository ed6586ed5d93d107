# cursor-bridge in a container: a wheel built in one stage, installed with only its runtime
# dependencies (from uv.lock) into a slim Python image, run as an unprivileged user with the
# bridge home (logins, conversation state) in the volume /data.
#   docker build -t cursor-bridge .   |   docker compose up -d   (see compose.yaml)

FROM python:3.12-slim AS build
RUN pip install --no-cache-dir "uv>=0.5"
WORKDIR /src
COPY pyproject.toml uv.lock README.md LICENSE ./
COPY src ./src
# The exact runtime versions pinned in uv.lock, then the wheel itself without dependencies.
RUN uv export --frozen --no-dev --no-emit-project --format requirements-txt > requirements.txt \
 && uv build --wheel --out-dir /dist \
 && uv venv --python /usr/local/bin/python3 /venv \
 && uv pip install --python /venv/bin/python --no-cache -r requirements.txt \
 && uv pip install --python /venv/bin/python --no-cache --no-deps /dist/*.whl

FROM python:3.12-slim
RUN useradd --create-home --uid 10001 bridge \
 && mkdir /data && chown bridge:bridge /data
COPY --from=build /venv /venv
ENV PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    CURSOR_BRIDGE_HOME=/data \
    CURSOR_BRIDGE_CONFIG=/data/config.toml \
    CURSOR_BRIDGE_HOST=0.0.0.0 \
    CURSOR_BRIDGE_PORT=8787
USER bridge
VOLUME ["/data"]
EXPOSE 8787
HEALTHCHECK --interval=30s --timeout=5s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8787/health', timeout=4)"]
ENTRYPOINT []
CMD ["cursor-bridge", "serve"]
