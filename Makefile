# callpost: the two commands of the quick start, and a few more.
#   make        install what is missing, build build/callpost
#   make run    ... and serve on 127.0.0.1:8080 with SQLite under ./data
#   make test   ... and build and run every test
#   make bench  ... build in release mode (build-release/) and run bench/run.sh; writes BENCHMARKS.md
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
LISTEN ?= 127.0.0.1:8080
DATA_DIR ?= ./data
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps configure callpost run test format clean sip-edge bench

all: callpost

deps:
	@bash scripts/install-deps.sh

configure: deps
	@if [ ! -f $(BUILD_DIR)/build.ninja ]; then \
	  cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE); \
	fi

callpost: configure
	@ninja -C $(BUILD_DIR) -j $(JOBS) callpost

run: callpost
	@mkdir -p $(DATA_DIR)
	@echo "callpost: serving on http://$(LISTEN) with SQLite under $(DATA_DIR)"
	@echo "callpost: to get an API key, run in another terminal:"
	@echo "  $(BUILD_DIR)/callpost accounts create --name \"My network\" --data-dir $(DATA_DIR)"
	@echo "callpost: then: curl -H 'Authorization: Bearer <api_key>' http://$(LISTEN)/api/v1/account"
	@exec $(BUILD_DIR)/callpost serve --listen $(LISTEN) --data-dir $(DATA_DIR)

# The SIP edge (docs/sip.md): Kamailio in the foreground in front of a running callpost.
#   CALLPOST_TOKEN=<api key> make sip-edge   [SIP_LISTEN=127.0.0.1:5060] [CALLPOST_URL=...]
SIP_LISTEN ?= 127.0.0.1:5060
CALLPOST_URL ?= http://$(LISTEN)

sip-edge: deps
	@CALLPOST_TOKEN="$${CALLPOST_TOKEN:-$(TOKEN)}" exec bash scripts/sip-edge.sh \
	  --callpost "$(CALLPOST_URL)" --listen "$(SIP_LISTEN)"

test: configure
	@ninja -C $(BUILD_DIR) -j $(JOBS)
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 300

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR)

# Benchmarks against this machine's limits (bench/run.sh; BENCH_ARGS e.g. --pg postgresql://…).
RELEASE_DIR ?= build-release
bench: deps
	@if [ ! -f $(RELEASE_DIR)/build.ninja ]; then \
	  cmake -S . -B $(RELEASE_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release \
	    -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG"; \
	fi
	@ninja -C $(RELEASE_DIR) -j $(JOBS) callpost bench_sqlite_limit bench_lifecycle
	@bash bench/run.sh --bin-dir $(RELEASE_DIR) --out BENCHMARKS.md $(BENCH_ARGS)
