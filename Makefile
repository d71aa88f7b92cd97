# Two commands for a fresh machine:
#   make book   -- set up .venv, then build the HTML book into _build/html
#   make test   -- set up .venv, then run every test (smoke-mode notebooks and book included)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup book test student-notebooks clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	# d2l's own pins would downgrade numpy: install it without its dependencies.
	$(PY) -m pip install -q --no-deps d2l==1.0.3
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

book: setup
	$(PY) -m dnet_tools.book build

test: setup
	bash scripts/ensure_chromium.sh
	$(PY) -m pytest -q -ra

clean:
	rm -rf _build
