# Fresh-machine entry points. `make demo` and `make test` are the README's two commands.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install demo test lint bench-ingest bench-export bench-pdf bench-load clean

$(BIN)/orgpulse: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/orgpulse

install: $(BIN)/orgpulse

demo: install
	$(BIN)/orgpulse demo

# pytest exits 5 when it collected no test: that is a failure here, as any other non-zero code.
test: install
	scripts/test-system-deps
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

bench-ingest: install
	$(BIN)/python bench/ingest.py

bench-export: install
	$(BIN)/python bench/export.py

bench-pdf: install
	$(BIN)/python bench/pdf.py

bench-load: install
	$(BIN)/python bench/load.py

clean:
	rm -rf $(VENV) .orgpulse
