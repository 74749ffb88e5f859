#!/usr/bin/env bash
# The project's two commands (see README, Quickstart):
#   ./dev.sh demo   run the bundled sample events through the pipeline into the local sandbox
#   ./dev.sh test   run the whole test suite (starts the Pub/Sub emulator and sandboxes itself)
#   ./dev.sh quick  the unit tests alone: no Beam pipeline, emulator, child process or long property test (markers in pyproject.toml)
# Both create (or reuse) the virtualenv .venv and install the project into it.
set -euo pipefail
cd "$(dirname "$0")"

VENV="${VENV:-.venv}"
PYTHON_BIN="${PYTHON:-python3}"

ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    echo "creating virtualenv $VENV" >&2
    "$PYTHON_BIN" -m venv "$VENV"
  fi
  # Reinstall only when pyproject.toml changed.
  local stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    echo "installing customerio-beam and its test tools into $VENV (first run takes a minute or two)" >&2
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e '.[test]'
    rm -f "$VENV"/.installed-*
    touch "$stamp"
  fi
}

command="${1:-}"
[ $# -gt 0 ] && shift
case "$command" in
  demo)
    ensure_venv
    exec "$VENV/bin/python" -m examples.demo "$@"
    ;;
  test)
    ensure_venv
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  quick)
    ensure_venv
    exec "$VENV/bin/python" -m pytest -m "not pipeline and not emulator and not subprocess and not thorough" "$@"
    ;;
  bench)
    ensure_venv
    exec "$VENV/bin/python" -m bench.bench_mapping "$@"
    ;;
  *)
    echo "usage: ./dev.sh demo | test [pytest args] | quick [pytest args] | bench" >&2
    exit 2
    ;;
esac
