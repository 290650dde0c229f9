# The image of every one of our Python services: shop, payments, inbox (each
# under gunicorn via `python -m app.serve`), the load generator, the reconcile
# batch schedule and the edge balancer. The command comes from docker-compose.yml.
#
# BASE_IMAGE defaults to the pinned upstream Python image; the compose test
# builds the same file on a locally built Debian Python (no registry needed).
ARG BASE_IMAGE=python:3.11.15-slim-bookworm
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LANG=C.UTF-8

# A fixed numeric id, so volume ownership and `runAsNonRoot` checks are stable.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin app

WORKDIR /srv/instrumented-shop

# Dependencies first: this layer is rebuilt only when the pins change.
# Behind a TLS-intercepting proxy, pass its CA bundle as the build secret
# `pip_ca` (compose: build.secrets); without it pip uses its own bundle.
COPY requirements.txt ./
RUN --mount=type=secret,id=pip_ca \
    if [ -s /run/secrets/pip_ca ]; then export PIP_CERT=/run/secrets/pip_ca; fi; \
    pip install --no-cache-dir --no-compile -r requirements.txt

COPY app ./app
COPY loadgen ./loadgen
COPY docs/runbooks.md ./docs/runbooks.md
COPY deploy/edge_balancer.py ./edge_balancer.py
COPY deploy/entrypoint.sh /usr/local/bin/docker-entrypoint
# `loadgen ...` inside the container, as on the host (`docker compose exec loadgen docker-entrypoint loadgen ...`).
RUN printf '#!/bin/sh\nexec python -m loadgen "$@"\n' > /usr/local/bin/loadgen && chmod 0755 /usr/local/bin/loadgen
ENV PYTHONPATH=/srv/instrumented-shop
# matplotlib (the drill's HTML plots) keeps its font cache here: the service user has no home, and /tmp is the
# one writable place of a read-only container; without it matplotlib warns and makes a new directory per run.
ENV MPLCONFIGDIR=/tmp/matplotlib

# Mount points owned by the service user: a new named volume takes the
# ownership of the directory it is mounted on.
RUN install -d -o app -g app -m 0755 /data/shop /data/payments /data/inbox /var/lib/textfile /secrets

USER 10001:10001
ENTRYPOINT ["docker-entrypoint"]
CMD ["python", "-m", "app.serve", "shop", "--host", "0.0.0.0"]
