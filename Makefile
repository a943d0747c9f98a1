# The two commands a newcomer needs: `make run` (set up and distil) and `make test`.
VENV ?= .venv
PY = $(VENV)/bin/python
export HF_HUB_OFFLINE = 1
export LANGGRAPH_CLI_NO_ANALYTICS = 1
export LANGGRAPH_NO_VERSION_CHECK = true
export LANGSMITH_TRACING = false

.PHONY: setup run test test-fast dev

setup:            ## venv, CPU torch, evokd, llama-cpp-python, teacher model, datasets
	bash scripts/setup.sh

run: setup        ## a real distillation on rotten_tomatoes, 1 shot per label, local teacher
	$(VENV)/bin/evokd run --data rotten_tomatoes --shots 1 --rounds 3 --per-round 6 --out runs/demo-$$(date +%Y%m%d-%H%M%S)

test:             ## the whole suite, including the real-teacher smoke test (needs `make setup`)
	$(PY) -m pytest -m "" -q

test-fast:        ## the offline suite without the real teacher and real student
	$(PY) -m pytest -q

dev:              ## LangGraph Studio's local server (offline) on 127.0.0.1:2024
	$(VENV)/bin/langgraph dev --host 127.0.0.1 --no-browser
