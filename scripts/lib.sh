# shellcheck shell=bash
# Shared bootstrap for ./scripts/up and ./scripts/test. Source it; do not run it.
#
#   ecsbox_bootstrap   cd to the repository, make .venv current, make a Docker engine answer
#
# Idempotent and quiet when there is nothing to do. Portable to the bash 3.2 that macOS ships.
# Settings (environment):
#   PYTHON              interpreter for a new .venv (default: python3; needs 3.11 or newer)
#   ECSBOX_SKIP_DOCKER  1 = do not look for or start a Docker engine

ECSBOX_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ECSBOX_VENV="$ECSBOX_ROOT/.venv"
ECSBOX_STAMP="$ECSBOX_VENV/.ecsbox-installed"
ECSBOX_DOCKERD_LOG=/var/log/ecsbox-dockerd.log
ECSBOX_DOCKER_WAIT_SECONDS=60

note() { printf 'ecsbox: %s\n' "$*" >&2; }
warn() { printf 'ecsbox: warning: %s\n' "$*" >&2; }
die() {
    printf 'ecsbox: error: %s\n' "$*" >&2
    exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }
have() { command -v "$1" >/dev/null 2>&1; }

apt_install() {
    note "installing Debian packages: $*"
    local log
    log="$(mktemp "${TMPDIR:-/tmp}/ecsbox-apt.XXXXXX")"
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; } >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        rm -f "$log"
        die "apt-get install $* failed"
    fi
    rm -f "$log"
}

# --- what the tests use from Debian ------------------------------------------------------------

# busybox-static: the static busybox copied into FROM scratch test images; debootstrap: the Debian
# root file system of the image that runs an SDK inside a task; iproute2: ecsbox routes
# 169.254.170.2 (task credentials) with it; awscli (v2, for `aws logs tail`); skopeo and docker-registry (the Go reference registry,
# which benchmarks/registry.py starts itself: the package's own service on :5000 is turned off).
# Installed as root on Debian when missing; elsewhere the tests that need them skip and say why.
ensure_test_tools() {
    local missing=()
    if ! busybox_is_static; then missing+=(busybox-static); fi
    if ! have debootstrap && [ ! -x /usr/sbin/debootstrap ]; then missing+=(debootstrap); fi
    if ! have ip && [ ! -x /usr/sbin/ip ] && [ ! -x /sbin/ip ]; then missing+=(iproute2); fi
    if ! have skopeo; then missing+=(skopeo); fi
    if ! have docker-registry; then missing+=(docker-registry); fi
    # AWS CLI v2 (Debian's awscli): `aws logs tail` exists only in v2; .venv's aws is v1.
    if [ ! -x /usr/bin/aws ]; then missing+=(awscli); fi
    [ "${#missing[@]}" -gt 0 ] || return 0
    if is_root && have apt-get; then
        apt_install "${missing[@]}"
        if [[ " ${missing[*]} " == *" docker-registry "* ]] && [ -d /run/systemd/system ] && have systemctl; then
            systemctl disable --now docker-registry >/dev/null 2>&1 || true
        fi
    else
        warn "not installed: ${missing[*]} (tests that need them will skip)"
    fi
}

busybox_is_static() {
    local path
    path="$(command -v busybox 2>/dev/null || true)"
    [ -n "$path" ] || return 1
    # A dynamically linked busybox cannot run in a FROM scratch image.
    if have file; then file -L "$path" | grep -q 'statically linked'; else dpkg -s busybox-static >/dev/null 2>&1; fi
}

# --- Python ----------------------------------------------------------------------------------

python_is_usable() { # $1: interpreter; true when it is Python >= 3.11 with a working venv module
    "$1" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1
}

pyproject_hash() {
    "$ECSBOX_VENV/bin/python" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' \
        "$ECSBOX_ROOT/pyproject.toml"
}

ensure_venv() {
    # A venv whose interpreter has gone (Python upgraded, venv copied from elsewhere) is rebuilt.
    if [ -d "$ECSBOX_VENV" ] && ! "$ECSBOX_VENV/bin/python" -c '' >/dev/null 2>&1; then
        warn "$ECSBOX_VENV is broken (its Python no longer runs); recreating it"
        rm -rf "$ECSBOX_VENV"
    fi
    if [ ! -x "$ECSBOX_VENV/bin/python" ]; then
        local python="${PYTHON:-python3}"
        if ! python_is_usable "$python" && [ -z "${PYTHON:-}" ] && is_root && have apt-get; then
            apt_install python3 python3-venv # Debian splits venv and ensurepip out of python3
        fi
        python_is_usable "$python" \
            || die "need Python >= 3.11 with the venv module as '$python' (set PYTHON=/path/to/python3.11+;" \
                "on Debian/Ubuntu: apt-get install python3-venv)"
        note "creating $ECSBOX_VENV"
        "$python" -m venv "$ECSBOX_VENV" || die "could not create $ECSBOX_VENV"
        rm -f "$ECSBOX_STAMP"
    fi
    local wanted
    wanted="$(pyproject_hash)"
    if [ ! -f "$ECSBOX_STAMP" ] || [ "$(cat "$ECSBOX_STAMP")" != "$wanted" ]; then
        note "installing ecsbox and its test dependencies into .venv (pyproject.toml changed)"
        "$ECSBOX_VENV/bin/python" -m pip install -q --disable-pip-version-check -e "${ECSBOX_ROOT}[test]" \
            || die "pip install failed (the stamp was not updated; the next run retries)"
        printf '%s\n' "$wanted" >"$ECSBOX_STAMP"
    fi
}

# --- Docker ----------------------------------------------------------------------------------

docker_answers() { have docker && docker info >/dev/null 2>&1; }

wait_for_docker() { # $1: seconds; gives up early when the dockerd we started has exited
    local waited=0
    while [ "$waited" -lt "$1" ]; do
        docker_answers && return 0
        # Gone: neither the process we started nor the pid in dockerd's pid file (written early in
        # its start-up; should setsid have forked, $! was setsid's own pid).
        if [ "$waited" -ge 2 ] && [ -n "${ECSBOX_DOCKERD_PID:-}" ] &&
            ! kill -0 "$ECSBOX_DOCKERD_PID" 2>/dev/null && ! dockerd_already_started; then
            return 1
        fi
        sleep 1
        waited=$((waited + 1))
    done
    docker_answers
}

dockerd_already_started() {
    local pid
    [ -f /var/run/docker.pid ] || return 1
    pid="$(cat /var/run/docker.pid 2>/dev/null)" || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

start_dockerd() {
    if [ -d /run/systemd/system ] && have systemctl; then
        systemctl start docker >/dev/null 2>&1 && return 0
    fi
    if dockerd_already_started; then
        return 0 # still starting up: wait for it below rather than start a second one
    fi
    note "starting dockerd in the background (log: $ECSBOX_DOCKERD_LOG)"
    # setsid: dockerd must outlive this script and not get the terminal's Ctrl-C.
    if have setsid; then
        setsid dockerd >>"$ECSBOX_DOCKERD_LOG" 2>&1 </dev/null &
    else
        nohup dockerd >>"$ECSBOX_DOCKERD_LOG" 2>&1 </dev/null &
    fi
    ECSBOX_DOCKERD_PID=$!
}

ensure_docker() {
    if [ "${ECSBOX_SKIP_DOCKER:-0}" = 1 ] || docker_answers; then
        return 0
    fi
    if ! is_root || { ! have dockerd && ! have apt-get; }; then
        local why="no docker CLI"
        if have docker; then
            why="$(docker info 2>&1 >/dev/null | grep -v '^ *$' | tail -n 1)" || true
        fi
        warn "no Docker engine answers (${why}); the control plane runs without one," \
            "but tasks will not start containers. Start Docker Desktop or dockerd and run this again."
        return 0
    fi
    if ! have dockerd; then
        apt_install docker.io
        docker_answers && return 0 # systemd already started it
    fi
    start_dockerd
    if ! wait_for_docker "$ECSBOX_DOCKER_WAIT_SECONDS"; then
        warn "dockerd did not come up (waited up to ${ECSBOX_DOCKER_WAIT_SECONDS} s); the end of $ECSBOX_DOCKERD_LOG:"
        tail -n 15 "$ECSBOX_DOCKERD_LOG" >&2 2>/dev/null || true
        warn "continuing without Docker: tasks will not start containers"
    fi
}

ecsbox_bootstrap() {
    cd "$ECSBOX_ROOT" || die "cannot cd to $ECSBOX_ROOT"
    ensure_venv
    ensure_docker
}
