# make demo  — set everything up and run the whole pipeline on the bundled example
# make test  — set everything up and run the full test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench lint docs screenshots system-deps venv template clean

demo: system-deps $(STAMP)
	$(VENV)/bin/qa-builder demo -o demo-out --force
	@echo "In the browser: $(VENV)/bin/qa-builder init my-workspace && $(VENV)/bin/qa-builder serve my-workspace"

test: system-deps $(STAMP)
	$(PY) -m pytest

bench: system-deps $(STAMP)
	# byte-compile first, as an installed package is: with PYTHONDONTWRITEBYTECODE set (this machine) every start
	# would otherwise compile each changed module again, and the start-up figures would measure that
	$(PY) -m compileall -q qa_builder
	$(PY) benchmarks/bench_build.py
	$(PY) benchmarks/bench_sign.py
	$(PY) benchmarks/bench_verify.py
	$(PY) benchmarks/bench_regenerate.py
	$(PY) benchmarks/bench_web.py

lint: $(STAMP)
	$(VENV)/bin/ruff check qa_builder tests benchmarks tools
	$(VENV)/bin/mypy

system-deps:
	@tools/install-system-deps.sh

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

docs: $(STAMP)
	$(PY) tools/command_reference.py

screenshots: system-deps $(STAMP)
	QA_BUILDER_SCREENSHOTS=1 $(PY) -m pytest tests/test_web.py

template: $(STAMP)
	$(PY) tools/make_template.py

clean:
	rm -rf demo-out bench-out dist build .pytest_cache .mypy_cache .ruff_cache
