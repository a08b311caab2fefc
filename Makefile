# Cairn: `make run` and `make test` each do the whole set-up themselves.
.PHONY: all deps build build-asan test test-unit test-asan test-integration test-fault test-fuzz run format tidy clean

BUILD      ?= build
BUILD_ASAN ?= build-asan
JOBS       ?= $(shell nproc)
PYTHON     := /usr/bin/python3
DATA       ?= $(CURDIR)/data
META_ADDR  ?= 127.0.0.1:9400
META_HTTP  ?= 127.0.0.1:9401
CHUNK_SERVERS ?= 3
# Seconds each fuzz target runs in `make test`.
FUZZ_SECONDS ?= 20

# ccache: key on paths relative to the checkout, so a fresh clone of the
# same tree reuses what an earlier build compiled.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

all: build

deps:
	@scripts/deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD) -j $(JOBS)

$(BUILD_ASAN)/build.ninja:
	cmake -S . -B $(BUILD_ASAN) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCAIRN_SANITIZE=ON

build-asan: deps $(BUILD_ASAN)/build.ninja
	ninja -C $(BUILD_ASAN) -j $(JOBS)

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

test-asan: build-asan
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) --timeout 900
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  CAIRN_BIG_BYTES=134217728 CAIRN_BIN=$(CURDIR)/$(BUILD_ASAN)/bin/cairn $(PYTHON) -m pytest tests/integration -q -p no:cacheprovider --durations=8 -m "not slow"

test-integration: build
	CAIRN_BIN=$(CURDIR)/$(BUILD)/bin/cairn $(PYTHON) -m pytest tests/integration -q -p no:cacheprovider --durations=8

# Fault tests (tests/fault, docs/testing.md): each server on a host of its
# own (network namespaces), killed, paused and partitioned. Needs root.
test-fault: build
	@[ "$$(id -u)" -eq 0 ] || { echo "test-fault: needs root (network namespaces)"; exit 1; }
	@command -v ip >/dev/null && command -v nft >/dev/null || { echo "test-fault: needs ip and nft (make deps)"; exit 1; }
	CAIRN_BIN=$(CURDIR)/$(BUILD)/bin/cairn $(PYTHON) -m pytest tests/fault -q -p no:cacheprovider --durations=8

test-fuzz: deps
	fuzz/run.sh $(FUZZ_SECONDS)

# The fault suite runs last, after the integration tests.
test: test-unit test-integration test-asan test-fuzz
	$(MAKE) test-fault
	@echo "make test: all suites passed"

run: build
	@mkdir -p $(DATA)
	@echo "starting cairn server: meta on $(META_ADDR) (http $(META_HTTP)) and $(CHUNK_SERVERS) chunk servers, data in $(DATA); Ctrl-C stops it"
	exec $(BUILD)/bin/cairn server --dir $(DATA) --chunk-servers $(CHUNK_SERVERS) --listen $(META_ADDR) --http $(META_HTTP)

format:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

tidy: build
	git ls-files 'src/*.cc' | xargs clang-tidy -p $(BUILD) --quiet

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) build-fuzz
