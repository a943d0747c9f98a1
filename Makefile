# The two commands a newcomer needs: `make run` (set up and distil) and `make test`.
VENV ?= .venv
PY = $(VENV)/bin/python
# The demo's local teacher, budget and rounds; CI makes a short one with the fast teacher (TEACHER=qwen2.5-0.5b
# ROUNDS=1). The budget, not the rounds, ends the default demo.
TEACHER ?= qwen2.5-1.5b
BUDGET ?= 16000
ROUNDS ?= 10
export TEACHER
export HF_HUB_OFFLINE = 1
export LANGGRAPH_CLI_NO_ANALYTICS = 1
export LANGGRAPH_NO_VERSION_CHECK = true
export LANGSMITH_TRACING = false

# The product's folders and the names they install as (pyproject.toml's package-dir); mypy checks them as evokd.*.
TYPECHECK = build/typecheck
PACKAGE_DIRS = agents:agents graph:graph student:student prompts:prompts bench:benchmarks

.PHONY: setup run test test-fast test-slow lint fmt typecheck dev

setup:            ## venv, CPU torch, evokd and its test tools, Chromium, llama-cpp-python, teacher models, datasets
	bash scripts/setup.sh

run: setup        ## a real distillation on rotten_tomatoes: 1 shot per label, the teacher labels train texts
	$(VENV)/bin/evokd run --data rotten_tomatoes --shots 1 --pool train --budget-tokens $(BUDGET) --rounds $(ROUNDS) \
		--local-teacher $(TEACHER) --out runs/demo-$$(date +%Y%m%d-%H%M%S)

test: setup       ## the whole suite, including the real-teacher smoke test (sets up what it needs first)
	$(PY) -m pytest -m "" -q

test-fast:        ## the offline suite without the real teacher, the real student and `langgraph dev`
	$(PY) -m pytest -m "not slow and not server" -q

test-slow:        ## only the real teacher and real student (tests/slow)
	$(PY) -m pytest -m slow -q

lint:             ## ruff: lint and formatting, the whole repo
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

fmt:              ## ruff: fix what it can and format
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# mypy cannot follow setuptools' editable-install hook, so it checks a tree of links laid out as the wheel
# installs it (build/typecheck/evokd/...) and reports paths back in the checkout's folders.
typecheck:        ## mypy on the installed names evokd.* (agents/, graph/, student/, prompts/, benchmarks/, evokd/)
	rm -rf $(TYPECHECK) && mkdir -p $(TYPECHECK)/evokd
	for entry in evokd/*; do ln -s "$(CURDIR)/$$entry" $(TYPECHECK)/evokd/; done
	for pair in $(PACKAGE_DIRS); do ln -s "$(CURDIR)/$${pair#*:}" "$(TYPECHECK)/evokd/$${pair%%:*}"; done
	cd $(TYPECHECK) && $(abspath $(PY)) -m mypy --config-file $(CURDIR)/pyproject.toml \
		--python-executable $(abspath $(PY)) --cache-dir $(CURDIR)/build/mypy-cache -p evokd > mypy.log; status=$$?; \
		sed -E 's#^evokd/(agents|graph|student|prompts)/#\1/#; s#^evokd/bench/#benchmarks/#' mypy.log; exit $$status

dev:              ## LangGraph Studio's local server (offline) on 127.0.0.1:2024
	$(VENV)/bin/langgraph dev --host 127.0.0.1 --no-browser
