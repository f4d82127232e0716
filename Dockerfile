# The mllint admission webhook: `mllint serve`, as deploy/ runs it; deploy/audit runs
# `mllint audit` from the same image.
#
#   docker build -t ghcr.io/mllint/mllint:0.1.0 .
#
# Two stages: the first installs mllint with its webhook extra into a virtual environment, the
# second copies only that environment onto a clean Python image. The server runs as the numeric
# non-root user 65532 (deploy/base sets the same runAsUser and runAsGroup) and writes nothing to
# its filesystem, so it runs with a read-only root filesystem: the byte code is compiled at build
# time and Python is told not to write any.
ARG PYTHON_IMAGE=python:3.12-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY rules/ rules/
COPY linter/ linter/
COPY webhook/ webhook/
COPY audit/ audit/
COPY lsp/ lsp/
RUN python -m venv /opt/mllint
RUN /opt/mllint/bin/python -m pip install '.[webhook]'
RUN /opt/mllint/bin/python -m compileall -q /opt/mllint

FROM ${PYTHON_IMAGE}
COPY --from=build /opt/mllint /opt/mllint
ENV PATH=/opt/mllint/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["mllint", "serve"]
