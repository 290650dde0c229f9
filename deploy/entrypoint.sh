#!/bin/sh
# Entry point of the image that runs every one of our Python services.
#
#   docker-entrypoint init-secrets      create the stack's secrets once (the `init` service)
#   docker-entrypoint COMMAND [ARG...]  load the secrets into the environment, then exec COMMAND
#
# Secrets are generated on the first `docker compose up` into the `secrets`
# volume, so no well-known token or password exists, and none is in the
# repository. A value already in the environment (FAULT_TOKEN=...) wins over
# the file. `docker compose exec SERVICE docker-entrypoint CMD` runs a one-off
# command with the secrets loaded (exec does not go through the entry point).
set -eu

SECRETS_DIR=${SECRETS_DIR:-/secrets}

generate() {
    # 32 random bytes, URL-safe: usable in a header and a login form alike.
    python -c 'import secrets; print(secrets.token_urlsafe(32))'
}

init_secrets() {
    umask 022
    for name in fault_token grafana_admin_password; do
        file="$SECRETS_DIR/$name"
        if [ -s "$file" ]; then
            echo "init-secrets: $file exists, kept."
            continue
        fi
        # Write then rename: a reader never sees a half-written secret.
        generate > "$file.tmp"
        chmod 0444 "$file.tmp"
        mv "$file.tmp" "$file"
        echo "init-secrets: generated $file."
    done
}

if [ "${1:-}" = init-secrets ]; then
    init_secrets
    exit 0
fi

if [ -z "${FAULT_TOKEN:-}" ] && [ -n "${FAULT_TOKEN_FILE:-}" ]; then
    if [ ! -r "$FAULT_TOKEN_FILE" ]; then
        echo "The fault token file $FAULT_TOKEN_FILE is missing; the init service creates it on first start." >&2
        exit 1
    fi
    FAULT_TOKEN=$(cat "$FAULT_TOKEN_FILE")
    export FAULT_TOKEN
fi
exec "$@"
