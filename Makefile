# Annotary: `make run` opens the demo, `make test` runs the whole suite headless.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
RUNSTAMP := $(VENV)/.installed
PKGSTAMP := $(VENV)/.installed-package
APP := dist/annotary/annotary

.PHONY: run test lint bench schemas clean package test-package install-desktop uninstall-desktop \
	icons bench-package test-realwindow screenshots package-windows test-package-windows

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNSTAMP): pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP): pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(RUNSTAMP)

$(PKGSTAMP): pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev,package]"
	touch $@ $(STAMP) $(RUNSTAMP)

run: $(RUNSTAMP)
	$(BIN)/annotary demo

lint: $(STAMP)
	$(BIN)/ruff check desktop tests benchmarks

test: lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

# only the real-window layer: the app under Xvfb (Qt's xcb platform), keys pressed by xdotool
test-realwindow: $(STAMP)
	ANNOTARY_REALWINDOW=required QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest tests/realwindow

# the real-window walkthrough of every screen, then the README's pictures from its screenshots
SHOWN := pairwise rubric scoring workspace
screenshots: $(STAMP)
	rm -f tests/screenshots/realwindow/*.png
	ANNOTARY_REALWINDOW=required QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest \
		tests/realwindow/test_walkthrough.py
	mkdir -p docs/screenshots
	cp $(SHOWN:%=tests/screenshots/realwindow/%.png) docs/screenshots/

# labeling (import, latency per mode, memory, cold start), then the coordinator's merge and
# agreement, then dataset export, then every coordinator command at SCALE_SIZES labels (time,
# peak RSS, growth; `make bench SCALE_SIZES=10000,100000` for a quicker run): figures and
# ratios, never pass/fail
SCALE_SIZES ?= 10000,100000,1000000
bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python benchmarks/bench.py
	QT_QPA_PLATFORM=offscreen $(BIN)/python benchmarks/app_import_bench.py
	$(BIN)/python benchmarks/coordinator_bench.py
	$(BIN)/python benchmarks/export_bench.py
	$(BIN)/python benchmarks/crypto_bench.py
	$(BIN)/python benchmarks/scale_bench.py --sizes $(SCALE_SIZES)

schemas: $(RUNSTAMP)
	$(BIN)/python -c "from pathlib import Path; from annotary.core.schema import schema_texts; \
	[Path('resources/schema', n).write_text(t) for n, t in schema_texts().items()]"

# the frozen one-folder app in dist/annotary/ (PyInstaller, packaging/annotary.spec)
package: $(PKGSTAMP)
	$(BIN)/pyinstaller --noconfirm --clean --log-level WARN --distpath dist \
		--workpath build/pyinstaller packaging/annotary.spec
	@du -sm dist/annotary | awk '{printf "dist/annotary: %d MB (goal < 200 MB)\n", $$1}'

# build it, then check the real artifact: its own self-test and the frozen-app tests
test-package: package
	env -u QT_QPA_PLATFORM $(APP) self-test
	ANNOTARY_FROZEN=$(APP) QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest tests/packaging

# the Windows app, built under Wine with a Windows CPython (packaging/windows/wine_build.py):
# dist/annotary-windows/, its zip and SHA-256; set-up cached in build/windows/
package-windows: | $(BIN)/python
	$(BIN)/python packaging/windows/wine_build.py build

# build it, then run the frozen annotary.exe's --version and self-test under Wine
test-package-windows: package-windows
	$(BIN)/python packaging/windows/wine_build.py test

bench-package: package
	QT_QPA_PLATFORM=offscreen $(BIN)/python benchmarks/package_bench.py --app $(APP)

# menu entry, icons and the .annotary file type for the current user (frozen app if built)
install-desktop:
	$(PYTHON) packaging/linux/install_desktop.py

uninstall-desktop:
	$(PYTHON) packaging/linux/install_desktop.py --uninstall

icons: $(RUNSTAMP)
	$(BIN)/python packaging/make_icons.py

clean:
	rm -rf $(VENV) build dist *.egg-info desktop/*.egg-info .pytest_cache .ruff_cache
