# vidact — the two commands a fresh machine needs: `make demo` and `make test`.
# Both create .venv (Python 3.11, torch 2.14.1, torchvision 0.29.1, vidact editable with its dev extras)
# when it is missing and reuse it while it is current (the stamp is newer than pyproject.toml and this file).

PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.vidact-stamp
PIP    := $(BIN)/python -m pip
TORCH  := torch==2.14.1 torchvision==0.29.1
DEMO_OUT ?= demo_out
PYTEST_WORKERS ?= 2

.PHONY: demo test test-slow test-all venv bench lint smoke clean

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH)
	# vidact's one OpenCV is opencv-contrib-python-headless. A venv made before holds opencv-python-headless,
	# whose files are the same cv2 package: remove both, so that the install below puts a whole cv2 back.
	@if $(PIP) show opencv-python-headless >/dev/null 2>&1; then \
		$(PIP) uninstall -q -y opencv-python-headless opencv-contrib-python-headless; fi
	$(PIP) install -q -e '.[dev]' $(TORCH) 'numpy<2'
	# pytorchvideo is a test-only oracle; its declared dependencies pull an old torchvision, so it goes in alone.
	$(PIP) install -q --no-deps pytorchvideo==0.1.5
	# MediaPipe (vidact[pose]) without its declared dependencies: jax, jaxlib, sounddevice, sentencepiece and the
	# GUI opencv-contrib-python are not used by its pose and hand solutions; the extra carries the ones that are.
	$(PIP) install -q --no-deps mediapipe==0.10.21
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/vidact demo --out $(DEMO_OUT)

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" -n $(PYTEST_WORKERS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

test-all: test test-slow

bench: $(STAMP)
	$(BIN)/python benchmarks/decode.py
	$(BIN)/python benchmarks/models.py
	$(BIN)/python benchmarks/ablation.py
	$(BIN)/python benchmarks/extract.py
	$(BIN)/python benchmarks/train.py
	$(BIN)/python benchmarks/skeleton.py
	$(BIN)/python benchmarks/flow.py
	$(BIN)/python benchmarks/two_stream.py
	$(BIN)/python benchmarks/transformers.py
	$(BIN)/python benchmarks/transformer_memory.py
	$(BIN)/python benchmarks/transformer_patterns.py --baseline
	$(BIN)/python benchmarks/videomae_pretraining.py
	$(BIN)/python benchmarks/detection.py

# The built wheel in a clean venv without dev extras: every command once (what CI runs after the tests).
smoke:
	.ci/smoke_wheel.sh

# ruff, then the import-linter contracts of pyproject.toml (the layers of docs/architecture.md, no cycles)
lint: $(STAMP)
	$(BIN)/python -m ruff check vidact tests benchmarks
	$(BIN)/lint-imports --no-cache

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis *.egg-info
