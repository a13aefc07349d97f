# callpost: the two commands of the quick start, and a few more.
#   make        install what is missing, build build/callpost
#   make run    ... and serve on 127.0.0.1:8080 with SQLite under ./data
#   make test   ... and build and run every test
#   make crash-test CYCLES=1000   ... and SIGKILL the server under load that many times
#   make bench  ... build in release mode (build-release/) and run bench/run.sh; writes BENCHMARKS.md
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
LISTEN ?= 127.0.0.1:8080
DATA_DIR ?= ./data
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps configure callpost run test format clean sip-edge crash-test bench

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
	@$(MAKE) --no-print-directory fuzz-smoke

# Fuzzing and sanitizers (docs/fuzzing.md).
#   make fuzz-smoke                 the fuzzers of fuzz/ built with clang in build-fuzz/, each
#                                   replaying its corpus and fuzzing FUZZ_SMOKE_SECONDS (ctest;
#                                   part of make test; the seconds are fixed when first configured)
#   make fuzz FUZZ_SECONDS=600      every fuzzer for FUZZ_SECONDS (FUZZ_TARGETS="a b" for some)
#   make test-asan                  the whole test suite built with g++ and ASan + UBSan in
#                                   build-asan/
FUZZ_DIR ?= build-fuzz
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_TARGETS ?= query_form json_config postback tag_filter token_template payout_modifier sip_params \
  retry_after
ASAN_DIR ?= build-asan
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

.PHONY: fuzz-configure fuzz-smoke fuzz test-asan
fuzz-configure: deps
	@if [ ! -f $(FUZZ_DIR)/build.ninja ]; then \
	  cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DCMAKE_CXX_COMPILER=clang++ -DCALLPOST_FUZZ=ON -DFUZZ_SMOKE_SECONDS=$(FUZZ_SMOKE_SECONDS); \
	fi

fuzz-smoke: fuzz-configure
	@ninja -C $(FUZZ_DIR) -j $(JOBS)
	@cd $(FUZZ_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 300

fuzz: fuzz-configure
	@ninja -C $(FUZZ_DIR) -j $(JOBS)
	@for t in $(FUZZ_TARGETS); do \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	  fuzz/run.sh $(FUZZ_DIR)/fuzz/$${t}_fuzz $$t $(FUZZ_SECONDS) $(FUZZ_DIR)/work || exit 1; \
	done

test-asan: deps
	@if [ ! -f $(ASAN_DIR)/build.ninja ]; then \
	  cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DCMAKE_CXX_FLAGS="$(SANITIZE)" -DCMAKE_EXE_LINKER_FLAGS="$(SANITIZE)"; \
	fi
	@ninja -C $(ASAN_DIR) -j $(JOBS)
	@cd $(ASAN_DIR) && ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) --timeout 600

# The crash loop (docs/reliability.md): SIGKILL the server under load CYCLES times, checking
# every acknowledged write, deadline and webhook after each restart.
CYCLES ?= 1000
crash-test: configure
	@ninja -C $(BUILD_DIR) -j $(JOBS) callpost crash_loop
	@$(BUILD_DIR)/tests/crash_loop --binary $(BUILD_DIR)/callpost --cycles $(CYCLES) \
	  --log-dir $(BUILD_DIR)/test-logs

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
