# Shared by scripts/demo.sh and scripts/test.sh (sourced, not run): make a venv with the system's
# own python3 and install netmon into it the way a user would, from a wheel, not editable.
#
# Debian 12 and Ubuntu 24.04 refuse `pip install` into the system Python (PEP 668), so netmon
# always lives in a venv; python3-venv is the only Debian package this needs.

NETMON_PYTHON=${NETMON_PYTHON:-/usr/bin/python3}

say() { printf '\n== %s\n' "$*"; }
show() { printf '+ %s\n' "$*" >&2; "$@"; }   # print each command before running it, as CI logs show it

is_root() { [ "$(id -u)" -eq 0 ]; }

# apt_install PACKAGE...: install the Debian packages that are missing (as root); otherwise name
# the command to run.
apt_install() {
    if ! command -v apt-get >/dev/null; then
        say "no apt-get here: install $* with this system's package manager if a step below fails"
        return 0
    fi
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        echo "Debian packages already installed: $*"
        return 0
    fi
    if ! is_root; then
        echo "netmon: these Debian packages are missing: ${missing[*]}" >&2
        echo "        run once as root: sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    show apt-get update -qq
    show apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# python_for_venv: Debian's python3 when present (the one users have), else whatever python3 is on PATH.
python_for_venv() {
    if [ -x "$NETMON_PYTHON" ]; then echo "$NETMON_PYTHON"; else command -v python3; fi
}

# fresh_venv DIR: a new, empty venv made with the system's python3 (an old one is removed first).
fresh_venv() {
    local py
    py=$(python_for_venv)
    rm -rf "$1"
    show "$py" -m venv "$1"
    "$1/bin/python" -c 'import sys; print("venv python", sys.version.split()[0], "from", sys.base_prefix)'
}

# build_wheel REPO OUTDIR: build netmon's wheel (stale build/ folders would leak deleted files into it).
build_wheel() {
    rm -rf "$1/build" "$1"/*.egg-info
    show "$VENV/bin/python" -m pip wheel -q --disable-pip-version-check --no-deps -w "$2" "$1"
    rm -rf "$1/build" "$1"/*.egg-info
    ls "$2"/netmon-*.whl
}
