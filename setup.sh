#!/usr/bin/env bash
# Idempotent set-up of everything fedsplit needs on Debian 12 (Python 3.11):
#   1. Debian packages: Ipopt (for cyipopt), BLAS/LAPACK, the AMPL solver library
#      (for PyNumero's ASL interface), cmake and pkg-config to build both.
#   2. A virtual environment in .venv with the pinned Python dependencies.
#   3. PyNumero's ASL library, built against Debian's libamplsolver and installed
#      inside the venv (PYOMO_CONFIG_DIR=.venv/pyomo), so nothing leaks into ~/.pyomo.
# When everything is already in place it only compares a stamp and returns.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$root/.venv"
pyomo_dir="$venv/pyomo"
stamp="$venv/.fedsplit-setup"
python_bin="${FEDSPLIT_PYTHON:-python3}"

debian_packages=(coinor-libipopt-dev liblapack-dev libblas-dev pkg-config libamplsolver-dev cmake)
asl_library=/usr/lib/x86_64-linux-gnu/libamplsolver.so
asl_include=/usr/include/ampl-netlib-solvers

say() { printf 'setup: %s\n' "$*" >&2; }

# What the stamp records: a change to any of these redoes the Python steps.
wanted_stamp="$(cat "$root/pyproject.toml" "$root/setup.sh" | sha256sum | cut -d' ' -f1)"

missing_debian_packages() {
    local pkg
    for pkg in "${debian_packages[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || printf '%s\n' "$pkg"
    done
}

install_debian_packages() {
    local missing
    missing="$(missing_debian_packages)"
    [ -z "$missing" ] && return 0
    say "installing Debian packages: $(echo $missing)"
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || { say "need root (or sudo) to install: $(echo $missing)"; exit 1; }
        sudo=sudo
    fi
    $sudo apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
}

install_python_packages() {
    if [ ! -x "$venv/bin/python" ]; then
        say "creating virtual environment in .venv"
        "$python_bin" -m venv "$venv"
    fi
    say "installing pinned Python dependencies (pyproject.toml)"
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q -e "$root[test]"
}

# Every python of the venv finds PyNumero's library without the caller exporting
# anything: a .pth line runs at interpreter start and sets the default.
install_pyomo_config_hook() {
    local site
    site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    printf '%s\n' "import os, sys; os.environ.setdefault('PYOMO_CONFIG_DIR', os.path.join(sys.prefix, 'pyomo'))" \
        > "$site/fedsplit_pyomo_config.pth"
}

build_pynumero_asl() {
    [ -f "$pyomo_dir/lib/libpynumero_ASL.so" ] && return 0
    say "building PyNumero's ASL library against Debian's libamplsolver"
    PYOMO_CONFIG_DIR="$pyomo_dir" "$venv/bin/python" -m pyomo.contrib.pynumero.build \
        -DASL_LIBRARY="$asl_library" -DASL_INCLUDE_DIR="$asl_include" >"$venv/pynumero-build.log" 2>&1 \
        || { say "PyNumero build failed; see $venv/pynumero-build.log"; exit 1; }
}

install_debian_packages
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted_stamp" ] || [ ! -x "$venv/bin/python" ]; then
    install_python_packages
    install_pyomo_config_hook
    build_pynumero_asl
    echo "$wanted_stamp" > "$stamp"
    say "done"
else
    build_pynumero_asl
fi
