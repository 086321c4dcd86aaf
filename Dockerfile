# syntax=docker/dockerfile:1
# Ayni API image. Multi-stage: dependencies are built in `build` and copied into a slim, non-root runtime.
#
#   docker build -t ayni:0.1.0 .                      # runtime: API, web app, CLI; ONNX Runtime, no PyTorch
#   docker build -t ayni-train:0.1.0 --target train . # + CPU-only PyTorch for `ayni retrain` / `ayni train`
#
# Serving runs the exported ONNX model with onnxruntime, so the default image carries no PyTorch at all.
# These files were never built here (no Docker engine on the development machines): they are checked
# by tests/unit/test_deploy_files.py for the properties below, not by a real build.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------- build: the package and its dependencies
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/ayni
WORKDIR /src
# Dependencies first (cached until pyproject.toml changes), then the source.
COPY pyproject.toml README.md ./
RUN mkdir -p src/ayni && touch src/ayni/__init__.py \
 && /opt/ayni/bin/pip install . \
 && /opt/ayni/bin/pip uninstall -y ayni
COPY src ./src
RUN /opt/ayni/bin/pip install --no-deps .

# ---------------------------------------------------------------- build-train: + CPU-only PyTorch
FROM build AS build-train
# The CPU wheel index: any other spec pulls gigabytes of CUDA libraries.
RUN /opt/ayni/bin/pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
 && /opt/ayni/bin/pip install ".[train]"

# ---------------------------------------------------------------- base: what every runtime image shares
FROM ${PYTHON_IMAGE} AS base
# postgresql-client: pg_dump / pg_restore for `ayni db backup|restore` on PostgreSQL 15.
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client-15 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 ayni \
 && useradd --system --uid 10001 --gid ayni --home-dir /var/lib/ayni --shell /usr/sbin/nologin ayni \
 && mkdir -p /var/lib/ayni/media /var/lib/ayni/models /data \
 && chown -R ayni:ayni /var/lib/ayni
ENV PATH=/opt/ayni/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    AYNI_VAR_DIR=/var/lib/ayni \
    AYNI_DATA_DIR=/data \
    AYNI_SERVER__HOST=0.0.0.0 \
    AYNI_SERVER__PORT=8000 \
    AYNI_LOG_JSON=true
WORKDIR /var/lib/ayni
EXPOSE 8000

# ---------------------------------------------------------------- train: batch image for retraining
FROM base AS train
COPY --from=build-train /opt/ayni /opt/ayni
USER 10001:10001
CMD ["ayni", "--help"]

# ---------------------------------------------------------------- runtime (default): the API
FROM base AS runtime
COPY --from=build /opt/ayni /opt/ayni
USER 10001:10001
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["ayni", "serve", "--host", "0.0.0.0", "--port", "8000"]
