# The two commands a developer needs: `make dev` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test lint install lock clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

dev: $(STAMP)
	$(BIN)/nightshift dev --demo

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The Modal image's pins (hashed): re-run after editing pyproject.toml's dependencies; keeps
# the existing pins where they still fit (add --upgrade to move them all to the newest).
LOCK_CMD := uv pip compile pyproject.toml --generate-hashes --python-version 3.11 \
	--python-platform x86_64-manylinux_2_28 --output-file requirements.lock
lock: $(STAMP)
	$(BIN)/$(LOCK_CMD)

clean:
	rm -rf $(VENV) .nightshift .pytest_cache .mypy_cache .ruff_cache
