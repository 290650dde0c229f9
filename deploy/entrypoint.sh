#!/bin/sh
# Entry point of the image that runs every one of our Python services.
#
#   docker-entrypoint init-secrets      create the stack's secrets once (the `init` service)
#   docker-entrypoint COMMAND [ARG...]  load the secrets into the environment, then exec COMMAND
#
# Secrets are generated on the first `docker compose up`, so no well-known
# token or password exists, and none is in the repository. INIT_SECRETS lists
# them, one copy per line: `name directory owner-uid`. Each directory is a
# volume mounted only into the containers that need that secret; each file is
# mode 0400 and belongs to the user of the container that reads it. Copies of
# one name hold one value (Alertmanager and the inbox share the webhook token).
#
# A service finds its secrets through *_FILE variables (FAULT_TOKEN_FILE,
# WEBHOOK_TOKEN_FILE); a value already in the environment (FAULT_TOKEN=...)
# wins over the file. `docker compose exec SERVICE docker-entrypoint CMD` runs
# a one-off command with the secrets loaded (exec does not go through the entry point).
set -eu

generate() {
    # 32 random bytes, URL-safe: usable in a header and a login form alike.
    python -c 'import secrets; print(secrets.token_urlsafe(32))'
}

copies_of() {
    # "directory:uid" of every copy of secret $1.
    printf '%s\n' "$INIT_SECRETS" | awk -v name="$1" '$1 == name { print $2 ":" $3 }'
}

init_secrets() {
    # Runs as root with CAP_CHOWN only: it may create files in the (root-owned) new volumes and give them
    # away, but cannot read them back afterwards, so a secret is regenerated unless every copy exists.
    umask 077
    for name in $(printf '%s\n' "${INIT_SECRETS:?INIT_SECRETS lists the secrets to create}" | awk 'NF { print $1 }' | sort -u); do
        complete=yes
        for copy in $(copies_of "$name"); do
            [ -s "${copy%%:*}/$name" ] || complete=no
        done
        if [ "$complete" = yes ]; then
            echo "init-secrets: $name exists, kept."
            continue
        fi
        value=$(generate)
        for copy in $(copies_of "$name"); do
            file="${copy%%:*}/$name"
            owner="${copy#*:}"
            # Write, restrict, give away, then rename: a reader never sees a half-written or open secret.
            rm -f "$file.tmp"
            printf '%s\n' "$value" > "$file.tmp"
            chmod 0400 "$file.tmp"
            chown "$owner:$owner" "$file.tmp"
            mv -f "$file.tmp" "$file"
            echo "init-secrets: generated $file (uid $owner, mode 0400)."
        done
    done
}

load_secret() {
    # load_secret VAR: export VAR from the file named by VAR_FILE, unless VAR is already set.
    eval "value=\${$1:-}; file=\${$1_FILE:-}"
    if [ -z "$value" ] && [ -n "$file" ]; then
        if [ ! -r "$file" ]; then
            echo "The secret file $file ($1_FILE) is missing or unreadable; the init service creates it on first start." >&2
            exit 1
        fi
        value=$(cat "$file")
        export "$1=$value"
    fi
}

if [ "${1:-}" = init-secrets ]; then
    init_secrets
    exit 0
fi

load_secret FAULT_TOKEN
load_secret WEBHOOK_TOKEN
exec "$@"
