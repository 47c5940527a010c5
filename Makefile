# uhoma: one-word entry points over CMake. See README.md.
#   make            release build in build/
#   make test       debug build with the lock validator and yield points; all tests
#   make test-asan  same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make test-tsan  same under ThreadSanitizer
#   make soak       the guarantees over minutes, SOAK_SECONDS=300
#   make fuzz       libFuzzer: the stack and the decoder (clang), FUZZ_SECONDS=60
#   make bench      release build; the micro-benchmarks, as ratios
#   make demo       what a newcomer runs first
#   make install    PREFIX=/usr/local by default

PREFIX ?= /usr/local
JOBS   ?= $(shell nproc)
CMAKE  ?= cmake
CTEST_ARGS ?= --output-on-failure

FUZZ_SECONDS ?= 60
SOAK_SECONDS ?= 300

.PHONY: all deps test test-asan test-tsan soak fuzz bench demo install clean

all: deps
	$(CMAKE) -S . -B build -DCMAKE_BUILD_TYPE=Release -DUHOMA_BUILD_TESTS=OFF \
	  -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	$(CMAKE) --build build -j $(JOBS)

deps:
	@./scripts/deps.sh

define test_in
	$(CMAKE) -S . -B $(1) -DCMAKE_BUILD_TYPE=Debug -DUHOMA_LOCKDEP=ON \
	  -DUHOMA_YIELD_INJECT=ON $(2) >/dev/null
	$(CMAKE) --build $(1) -j $(JOBS)
	cd $(1) && ctest $(CTEST_ARGS) -j $(JOBS)
endef

test: deps
	$(call test_in,build-test,)

test-asan: deps
	$(call test_in,build-asan,-DUHOMA_SANITIZE=address -DUHOMA_CACHE_PASSTHROUGH=ON)

test-tsan: deps
	$(call test_in,build-tsan,-DUHOMA_SANITIZE=thread)

# At most once, timeouts and bounded state for SOAK_SECONDS of wall time,
# with the validator on; then the long run of the many-in-flight test.
soak: deps
	$(CMAKE) -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DUHOMA_LOCKDEP=ON \
	  -DUHOMA_YIELD_INJECT=ON >/dev/null
	$(CMAKE) --build build-test -j $(JOBS) --target soak_guarantees test_timeouts
	./build-test/soak_guarantees $(SOAK_SECONDS) 2000
	# 100,000 in flight from one client: more than the default
	# at-most-once window (65,536 ids, uhoma(7)) may span, so widen it.
	UHOMA_CONFIG=dedup_window=262144 UHOMA_SOAK_RPCS=1000000 \
	  UHOMA_SOAK_WINDOW=100000 ./build-test/test_timeouts

# libFuzzer on the packet input path, with ASan and the validator.
fuzz:
	@UHOMA_DEPS_EXTRA="clang libclang-rt-14-dev" ./scripts/deps.sh
	CC=clang $(CMAKE) -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug \
	  -DUHOMA_FUZZ=ON -DUHOMA_BUILD_TESTS=OFF -DUHOMA_WERROR=OFF \
	  -DUHOMA_LOCKDEP=ON -DUHOMA_SANITIZE=address \
	  -DUHOMA_CACHE_PASSTHROUGH=ON >/dev/null
	$(CMAKE) --build build-fuzz -j $(JOBS) --target fuzz_input fuzz_wire
	mkdir -p build-fuzz/corpus build-fuzz/corpus_wire
	# The stateful target gets two thirds of the time, the decoder one.
	ASAN_OPTIONS=detect_leaks=0 ./build-fuzz/fuzz_input \
	  -max_total_time=$$(( $(FUZZ_SECONDS) * 2 / 3 )) -max_len=8192 \
	  -timeout=20 -print_final_stats=1 build-fuzz/corpus fuzz/corpus
	ASAN_OPTIONS=detect_leaks=0 ./build-fuzz/fuzz_wire \
	  -max_total_time=$$(( $(FUZZ_SECONDS) / 3 )) -max_len=2048 \
	  -timeout=20 -print_final_stats=1 build-fuzz/corpus_wire fuzz/corpus_wire

# Every figure is a ratio against a baseline measured in the same run.
bench: all
	./build/bench_sync
	./build/bench_floor
	./build/bench_scale
	./build/uhoma-bench compare --repeat 5 --seconds 2 --warmup 0.5
	mkdir -p build/bench
	./build/uhoma-bench client --local --protocol homa,tcp --workload w4 --conns 8 \
	  --outstanding 8 --seconds 20 --warmup 1 --quiet \
	  --csv build/bench/w4.csv --svg build/bench/w4.svg

demo: all
	@echo "=== uhoma demo: echo server and client over UDP on loopback ==="
	./examples/run-echo.sh build/echo_server build/echo_client
	@echo "=== UDP floor vs TCP vs uhoma on loopback (uhoma-bench compare) ==="
	./build/uhoma-bench compare --seconds 1.5 --warmup 0.3
	@echo "=== workload W4, closed loop, 8 in flight: uhoma and TCP ==="
	mkdir -p build/demo
	./build/uhoma-bench client --local --protocol homa,tcp --workload w4 --conns 8 \
	  --outstanding 8 --seconds 6 --warmup 1 --quiet \
	  --csv build/demo/w4.csv --svg build/demo/w4.svg

install: all
	$(CMAKE) --install build --prefix $(PREFIX)

clean:
	rm -rf build build-test build-asan build-tsan build-fuzz
