#!/usr/bin/env bash
# Create or refresh the project's virtual environment in .venv/.
#
#   bash .ci/venv.sh        (or: make venv)
#
# - finds a Python 3.10 interpreter (lava-nc 0.10.0 needs exactly 3.10):
#   $MCDL_PYTHON if set, then python3.10 on PATH, then
#   $(pyenv root)/versions/3.10.*/bin/python, ~/.pyenv/..., /root/.pyenv/...;
# - creates .venv/ if it is missing or broken, and re-uses it otherwise;
# - runs `pip install -e '.[test]'` when the venv is new or pyproject.toml (or
#   the interpreter) changed since the last successful install.
#
# pip's output goes to .venv/pip.log and is shown only when pip fails.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
VENV="$ROOT/.venv"
STAMP="$VENV/.mcdl-install-stamp"
LOG="$VENV/pip.log"

say() { printf 'venv: %s\n' "$*"; }

is_py310() {
    # True if "$1" runs and is CPython 3.10 with a working venv module.
    "$1" -c 'import sys, venv; sys.exit(sys.version_info[:2] != (3, 10))' \
        >/dev/null 2>&1
}

find_python() {
    local candidates=() c root
    if [[ -n "${MCDL_PYTHON:-}" ]]; then
        candidates+=("$MCDL_PYTHON")
    fi
    if c=$(command -v python3.10 2>/dev/null); then
        # May be a pyenv shim that fails when 3.10 is not the active version;
        # is_py310 weeds that out.
        candidates+=("$c")
    fi
    local roots=()
    if command -v pyenv >/dev/null 2>&1 && root=$(pyenv root 2>/dev/null); then
        roots+=("$root")
    fi
    roots+=("$HOME/.pyenv" "/root/.pyenv")
    for root in "${roots[@]}"; do
        # Newest 3.10.x first.
        while IFS= read -r c; do
            [[ -n "$c" ]] && candidates+=("$c")
        done < <(ls -d "$root"/versions/3.10.*/bin/python 2>/dev/null | sort -rV)
    done
    for c in "${candidates[@]}"; do
        if is_py310 "$c"; then
            printf '%s\n' "$c"
            return 0
        fi
    done
    return 1
}

venv_ok() {
    [[ -x "$VENV/bin/python" ]] && is_py310 "$VENV/bin/python" \
        && "$VENV/bin/python" -m pip --version >/dev/null 2>&1
}

pip_quiet() {
    # Run pip in the venv, logging to $LOG; on failure show the log and stop.
    if ! "$VENV/bin/python" -m pip "$@" >>"$LOG" 2>&1; then
        echo "venv: 'pip $*' failed; its output follows ($LOG):" >&2
        grep -v "is ignored: it is neither a file nor a directory" "$LOG" \
            | tail -n 200 >&2
        exit 1
    fi
}

# Graphviz's `dot` draws networks for `mcdlc graph` (its tests skip without it).
# Installed only when `dot` is missing and apt-get exists; needs root, as CI is.
if ! command -v dot >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    if [[ $(id -u) -eq 0 ]]; then
        say "installing graphviz (for mcdlc graph) with apt-get"
        if ! { apt-get update -qq && apt-get install -y -qq graphviz; } \
            >"${TMPDIR:-/tmp}/mcdl-apt.log" 2>&1; then
            say "apt-get install graphviz failed; mcdlc graph tests will skip"
        fi
    else
        say "graphviz ('dot') is missing: 'sudo apt-get install graphviz' for mcdlc graph"
    fi
fi

if venv_ok; then
    say "re-using $VENV ($("$VENV/bin/python" -V 2>&1))"
else
    if ! PY=$(find_python); then
        cat >&2 <<'EOF'
venv: no Python 3.10 interpreter found (lava-nc 0.10.0 needs Python 3.10).
venv: looked at $MCDL_PYTHON, python3.10 on PATH, and
venv: $(pyenv root)/versions/3.10.*, ~/.pyenv/versions/3.10.*,
venv: /root/.pyenv/versions/3.10.*.
venv: Get one with `pyenv install 3.10` (https://github.com/pyenv/pyenv),
venv: or set MCDL_PYTHON to the path of a Python 3.10 interpreter.
EOF
        exit 1
    fi
    if [[ -e "$VENV" ]]; then
        say "removing $VENV: not a working Python 3.10 venv"
        rm -rf "$VENV"
    fi
    say "creating $VENV with $PY ($("$PY" -V 2>&1))"
    "$PY" -m venv "$VENV"
fi

# What the install depends on: pyproject.toml and the venv's interpreter.
want=$( { cat "$ROOT/pyproject.toml"; "$VENV/bin/python" -VV; } | sha256sum | cut -d' ' -f1)
have=$(cat "$STAMP" 2>/dev/null || true)

if [[ "$want" == "$have" ]] \
    && "$VENV/bin/python" -c 'import importlib.metadata as m; m.version("mcdl")' \
        >/dev/null 2>&1; then
    say "mcdl and its dependencies are up to date"
    exit 0
fi

rm -f "$STAMP"
: >"$LOG"
say "upgrading pip"
pip_quiet install --upgrade pip
say "installing mcdl (editable) with the test extra: pip install -e '.[test]'"
start=$SECONDS
pip_quiet install -e "$ROOT[test]"
say "installed in $((SECONDS - start)) s"
printf '%s\n' "$want" >"$STAMP"
