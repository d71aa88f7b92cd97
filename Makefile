# Two commands for a fresh machine:
#   make book   -- set up .venv and the data, then build the HTML book into _build/html
#   make test   -- set up .venv and the data, then run every test (smoke-mode book build included),
#                  on TEST_WORKERS pytest-xdist workers (default 2; the book build's tests stay
#                  together on one), printing the 15 slowest
# The data set-up (make data) uses $DNET_DATA_DIR, else ../shared/data, else downloads into data/
# once (about 32 MB, md5-checked); see README.md.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TEST_WORKERS ?= 2

.PHONY: setup data book test assignments clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	# d2l's own pins would downgrade numpy: install it without its dependencies.
	$(PY) -m pip install -q --no-deps d2l==1.0.3
	$(PY) -m pip install -q --no-deps -e .
	# Colab's ipywidgets 7.7.1 in a folder of its own, for tests/test_widgets_compat.py
	$(PY) -m pip install -q --no-deps --upgrade --target $(VENV)/ipywidgets7 ipywidgets==7.7.1 \
	  ipython_genutils==0.2.0 widgetsnbextension==3.6.10 jupyterlab_widgets==1.1.11
	touch $(STAMP)

setup: $(STAMP)
	bash scripts/ensure_bubblewrap.sh

data: setup
	$(PY) -m dnet_lib.data

book: data
	$(PY) -m dnet_tools.book build

test: data
	bash scripts/ensure_chromium.sh
	$(PY) -m pytest -q -ra -n $(TEST_WORKERS) --dist loadgroup --durations=15

# Instructors: lay out an nbgrader course folder from chapters/exercises (COURSE=dir, SEED=n for variants)
assignments: data
	$(PY) -m dnet_tools.course build $(or $(COURSE),_build/course) $(if $(SEED),--variant-seed $(SEED))

clean:
	rm -rf _build
