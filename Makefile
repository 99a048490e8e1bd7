# The two commands a newcomer needs, plus a few for day-to-day work.
# `make run`: bring up the stack, migrate, and run every role with the GraphQL endpoint.
# `make test`: bring up the stack if needed and run the whole test suite with the lint gates.
# Debug builds always select the whole workspace (as the tests' own build of the binaries does), so
# dependencies resolve their features one way and `run`, `test` and `cargo test` share one build.

CARGO ?= cargo
GAVEL := target/debug/gavel

.PHONY: run test bench bench-quick stack-up stack-down stack-status lint

run: stack-up
	$(CARGO) build --workspace --bins
	$(GAVEL) migrate
	$(GAVEL) all

test: stack-up
	$(CARGO) fmt --all -- --check
	$(CARGO) build --workspace --bins
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) test --workspace

# Benchmarks (never part of `make test`): release builds against the local stack.
bench: stack-up
	$(CARGO) build --release -p gavel -p gavel-bench
	target/release/gavel-bench --suite full --report docs/benchmarks.md

bench-quick: stack-up
	$(CARGO) build --release -p gavel -p gavel-bench
	target/release/gavel-bench --suite quick

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

stack-up:
	infra/stack.sh up

stack-down:
	infra/stack.sh down

stack-status:
	infra/stack.sh status
