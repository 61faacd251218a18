# Two commands for a fresh machine (see README):
#   make demo   create .venv, install deploybridge + default plugins, convert and verify the default model
#   make test   the whole test suite (what .ci/run calls)
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.deploybridge-installed
# The one torch build served here; never let a plugin pull another.
TORCH  := torch==2.14.1 torchvision==0.29.1
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
DEMO_MODEL ?= shapes_maskrcnn
DEMO_OUT   ?= artifacts/demo
# make test: one pytest-xdist worker per core (at most 4), each file on one worker (module fixtures convert once),
# every worker computing on one thread (conftest.py): on 2 cores 1.5x faster than one process with two threads,
# whose single-threaded stretches (export, graph passes, start-up) leave a core idle. TEST_WORKERS=0: no workers.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 4 ] && n=4; echo $$n)

.PHONY: install demo test clean

PLUGINS := rewrites plugins/torchvision plugins/mmdet plugins/solo plugins/detectron2 plugins/fastreid plugins/detr

$(STAMP): pyproject.toml $(addsuffix /pyproject.toml,$(PLUGINS)) Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing $(TORCH) and deploybridge into $(VENV) ..."
	@$(PIP) install $(TORCH) 2>&1 | grep -v "^WARNING: Location" || true
	@$(PIP) install -e . $(addprefix -e ,$(PLUGINS)) pytest pytest-xdist $(TORCH) 2>&1 | grep -v "^WARNING: Location" || true
	@# OpenVINO (--backend openvino): a CPU wheel with no torch dependency (2026.4.1 served here)
	@$(PIP) install openvino 2>&1 | grep -v "^WARNING: Location" || true
	@# deploy matrix --executor ray / dask (the extras deploybridge[ray] / [dask]; the local pool needs neither)
	@$(PIP) install ray dask distributed $(TORCH) 2>&1 | grep -v "^WARNING: Location" || true
	@# MMDetection without compiling mmcv (mmcv-lite + deploybridge's mmcv layer), then MMDeploy --no-deps (the peer
	@# exporter, --exporter mmdeploy); keeps the torch above
	@$(BIN)/deploy install mmdeploy
	@# Detectron2 0.7.2 (sal-detectron2 without its cp310 _C: pure Python, nothing to compile); keeps the torch above
	@$(BIN)/deploy install detectron2
	@# fastreid 1.4.0 --no-deps (it pins torch 1.13.1) plus yacs, tabulate, termcolor, pyyaml
	@$(BIN)/deploy install fastreid
	@$(BIN)/python -c "import torch, torchvision, deploybridge, deploybridge_rewrites, deploybridge_torchvision, deploybridge_mmdet, deploybridge_solo, deploybridge_detectron2, deploybridge_fastreid, deploybridge_detr, mmdet, detectron2, fastreid.modeling, openvino, ray, distributed; assert torch.__version__.startswith('2.14.1'), torch.__version__"
	@touch $@

install: $(STAMP)

demo: install
	$(BIN)/deploy convert --plugin torchvision --model $(DEMO_MODEL) --eval shapes --out $(DEMO_OUT) --force
	$(BIN)/deploy verify $(DEMO_OUT)
	@echo "artifact: $(abspath $(DEMO_OUT))"

test: install
	@$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=30; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$rc

clean:
	rm -rf artifacts .pytest_cache
