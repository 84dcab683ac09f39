#!/usr/bin/env bash
# Makes a Docker engine answer on this machine, for the docker backend and its tests: installs
# Debian's docker.io (and debootstrap, which builds the local base image) with apt-get when they are
# missing, and starts dockerd in the background when no engine answers. Needs root for both.
#
# When it starts dockerd it writes the pid to $DOCKERD_PID_FILE (if set), so that the caller can
# stop it again; dockerd's log goes to ${DOCKERD_LOG:-/tmp/sagemaker-emulator-dockerd.log}.
# Exits non-zero, with the reason, when no engine can be had.
set -euo pipefail

engine_answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi; }

missing=()
if ! engine_answers && ! command -v dockerd >/dev/null 2>&1; then missing+=(docker.io); fi
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} (apt-get)"
    as_root apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if engine_answers; then
    echo "docker engine: $(docker version --format '{{.Server.Version}}') answers"
    exit 0
fi

LOG="${DOCKERD_LOG:-/tmp/sagemaker-emulator-dockerd.log}"
echo "starting dockerd in the background (log: $LOG)"
# Detached, with no standard stream left open, so that nothing waits on it.
if [ "$(id -u)" = 0 ]; then
    setsid dockerd </dev/null >"$LOG" 2>&1 &
else
    sudo -n setsid dockerd </dev/null >"$LOG" 2>&1 &  # sudo passes a TERM on to dockerd
fi
pid=$!
if [ -n "${DOCKERD_PID_FILE:-}" ]; then echo "$pid" > "$DOCKERD_PID_FILE"; fi
for _ in $(seq 1 60); do
    if engine_answers; then
        echo "docker engine: $(docker version --format '{{.Server.Version}}') answers"
        exit 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 1
done
echo "no Docker engine could be started; the end of $LOG:" >&2
tail -n 20 "$LOG" >&2 || true
exit 1
