# Entry points of bimhub. CMake does the real build; this file installs what is missing,
# picks the build directory and runs things.
#
#   make              build build/bimhub (Debug, ASan+UBSan: BH_SANITIZE: address,undefined,float-cast-overflow)
#   make run          build, then serve on http://127.0.0.1:8082 with data in ./bimhub-data
#                     (extra flags: make run ARGS="--admin-user a@b.c --admin-password pw")
#   make test         format check, build, unit + integration tests (ctest)
#   make format       rewrite src/ with clang-format;  make format-check: fail on a diff
#   make bench        release build in build-release/, then bench/run.sh
#   make fuzz         libFuzzer targets with clang in build-fuzz/
#                     (make fuzz FUZZ_SECONDS=60 also runs each target that long)
#   make install      release build of the C SDK (libbimhub.so/.a, include/bimhub, bimhub.pc)
#                     and the bimhub command into $(DESTDIR)$(PREFIX) (PREFIX=/usr/local)
#   make clean        remove the build directories (never ./bimhub-data)

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := all

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
HOST ?= 127.0.0.1
PORT ?= 8082
DATA_DIR ?= ./bimhub-data
ARGS ?=
CTEST_ARGS ?=
FUZZ_SECONDS ?=
CMAKE_ARGS ?=
PREFIX ?= /usr/local
DESTDIR ?=

C_SOURCES = $(shell find src libbimhub include examples bench fuzz -name '*.[ch]' 2>/dev/null | sort)

.PHONY: all build run test deps deps-bench npm-deps format format-check bench fuzz install clean

all: build

deps:
	@scripts/install-deps.sh

deps-bench:
	@scripts/install-deps.sh --bench

# npm ci only when the lock file is newer than the installed tree (npm writes
# node_modules/.package-lock.json on every install).
npm-deps: deps tests/js/node_modules/.package-lock.json

tests/js/node_modules/.package-lock.json: tests/js/package-lock.json tests/js/package.json
	cd tests/js && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

build: deps
	cmake -S . -B $(BUILD) $(CMAKE_ARGS)
	cmake --build $(BUILD) -j $(JOBS)

run: build
	mkdir -p $(DATA_DIR)
	exec $(BUILD)/bimhub serve --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR) $(ARGS)

# The JS tests are registered by tests/CMakeLists.txt only when node_modules exists, so
# npm-deps must come before the configure step of `build`.
test: deps npm-deps format-check
	$(MAKE) --no-print-directory build
	ctest --test-dir $(BUILD) --output-on-failure $(CTEST_ARGS)

format-check: deps
	@if [ -n "$(C_SOURCES)" ]; then clang-format --dry-run --Werror $(C_SOURCES); fi
	@echo "format-check: $(words $(C_SOURCES)) files ok"

format: deps
	@if [ -n "$(C_SOURCES)" ]; then clang-format -i $(C_SOURCES); fi

bench: deps-bench
	cmake -S . -B build-release -DBH_SANITIZE= -DCMAKE_BUILD_TYPE=Release -DBH_TESTS=OFF
	cmake --build build-release -j $(JOBS)
	bench/run.sh

fuzz: deps
	cmake -S . -B build-fuzz -DBH_FUZZ=ON -DBH_TESTS=OFF -DCMAKE_C_COMPILER=clang
	cmake --build build-fuzz -j $(JOBS)
	@if [ -n "$(FUZZ_SECONDS)" ]; then \
	  for t in $$(find build-fuzz -maxdepth 3 -type f -name 'fuzz_*' -perm -u+x | sort); do \
	    name=$$(basename $$t); mkdir -p fuzz/out/$$name; \
	    corpus=fuzz/corpus/$${name#fuzz_}; [ -d $$corpus ] || corpus=; \
	    dict=; [ -f fuzz/json.dict ] && dict=-dict=fuzz/json.dict; \
	    echo "== $$name ($(FUZZ_SECONDS) s)"; \
	    $$t -max_total_time=$(FUZZ_SECONDS) $$dict -artifact_prefix=fuzz/out/$$name/ fuzz/out/$$name $$corpus; \
	  done; \
	fi

install: deps
	cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DBH_SANITIZE= -DBH_TESTS=OFF
	cmake --build build-release -j $(JOBS)
	DESTDIR=$(DESTDIR) cmake --install build-release --prefix $(PREFIX)

clean:
	rm -rf build build-release build-fuzz
