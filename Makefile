# One command to start, one to test. Everything lands in .venv; nothing system-wide.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LAB_STAMP := $(VENV)/.lab-installed
TEST_STAMP := $(VENV)/.test-installed
# JupyterLab refuses to run as root (containers, CI) unless told it may.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: lab lab-vi vi test lint bench clean assignments grade

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(LAB_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

NBGRADER_SERVER := $(addprefix nbgrader.server_extensions.,formgrader assignment_list course_list validate_assignment)
$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	@# nbgrader (for tests/test_nbgrader.py) adds itself to JupyterLab: keep the learners' lab as it was.
	$(BIN)/jupyter server extension disable --sys-prefix $(NBGRADER_SERVER) >/dev/null 2>&1
	$(BIN)/jupyter labextension disable --level=sys_prefix @jupyter/nbgrader >/dev/null 2>&1
	touch $@ $(LAB_STAMP)

lab: $(LAB_STAMP)
	$(BIN)/python -m helpers.redis_server
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir=notebooks $(ROOT_FLAG)

# The Vietnamese edition: the course, with JupyterLab's menus in Vietnamese too.
# Its own settings folder, so the English `make lab` keeps English menus.
VI_SETTINGS := $(VENV)/lab-vi-settings
lab-vi: $(LAB_STAMP)
	mkdir -p $(VI_SETTINGS)/@jupyterlab/translation-extension
	echo '{"locale": "vi_VN"}' > $(VI_SETTINGS)/@jupyterlab/translation-extension/plugin.jupyterlab-settings
	$(BIN)/python -m helpers.redis_server
	COURSE_LANG=vi JUPYTERLAB_SETTINGS_DIR=$(abspath $(VI_SETTINGS)) \
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir=notebooks/vi $(ROOT_FLAG)

# After editing English notebooks or helpers: refresh the catalogs (changed cells turn
# fuzzy), then regenerate notebooks/vi and assignments/release/vi from them.
vi: $(LAB_STAMP)
	$(BIN)/python -m helpers.translation update
	$(BIN)/python -m helpers.translation build

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m helpers.redis_server
	$(BIN)/pytest -n 3 --dist worksteal

# Not part of `make test` (tests/test_bench.py runs a tiny version). Installs its peers
# (redis-benchmark, jayson) where it can, then writes bench/results.md. Under 10 minutes.
bench: $(TEST_STAMP)
	bench/setup.sh
	$(BIN)/python bench/run.py

# Student copies of the assignments, and batch grading (README: "For instructors").
assignments: $(LAB_STAMP)
	$(BIN)/python -m helpers.grading generate

SUBMISSIONS ?= submissions
GRADES ?= grades
grade: $(LAB_STAMP)
	@test -d "$(SUBMISSIONS)" || { echo "make grade SUBMISSIONS=folder [GRADES=folder]: no folder $(SUBMISSIONS)"; exit 2; }
	$(BIN)/python -m helpers.grading grade "$(SUBMISSIONS)" --out "$(GRADES)"

clean:
	rm -rf $(VENV) test-output bench/out bench/node_modules
