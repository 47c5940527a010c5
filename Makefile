# uhoma: one-word entry points over CMake. See README.md.
#   make            release build in build/
#   make test       debug build with the lock validator and yield points; all tests
#   make test-asan  same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make test-tsan  same under ThreadSanitizer
#   make bench      release build; the micro-benchmarks, as ratios
#   make demo       what a newcomer runs first
#   make install    PREFIX=/usr/local by default

PREFIX ?= /usr/local
JOBS   ?= $(shell nproc)
CMAKE  ?= cmake
CTEST_ARGS ?= --output-on-failure

.PHONY: all deps test test-asan test-tsan bench demo install clean

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

bench: all
	./build/bench_sync

demo: all
	@echo "uhoma demo: concurrency-core micro-benchmarks (a later issue makes this the transport demo)"
	./build/bench_sync --quick

install: all
	$(CMAKE) --install build --prefix $(PREFIX)

clean:
	rm -rf build build-test build-asan build-tsan
