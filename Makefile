# The two promises: `make run` and `make test` install what is missing, build, and go.
.PHONY: run test build site site-test size-budget server setup setup-test lint unit e2e release clean

run: setup site server
	target/debug/beckon serve

# `cargo test` builds target/debug/beckon too (the integration tests run it), with the same
# features as the tests: a separate `cargo build -p server` would compile half the stack again.
test: setup-test lint site-test size-budget unit e2e

setup:
	@scripts/setup.sh build

setup-test:
	@scripts/setup.sh test

site:
	scripts/build-site.sh

# The formatting and the lints (Cargo.toml's [workspace.lints], clippy.toml), for the server
# build and for the browser's, whose code differs by feature.
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p frontend --lib --target wasm32-unknown-unknown --features hydrate -- -D warnings

# The debug binary's site with the size-optimised wasm that ships: the browser tests run
# it, and its size is held to the budget.
site-test:
	WASM=optimised scripts/build-site.sh

# The wasm a first visit downloads, held to its budget in bytes gzipped (scripts/check-size.sh),
# of the site as the sources build it now (never a stale one).
size-budget: site-test
	scripts/check-size.sh target/site/pkg

server:
	cargo build -p server --bin beckon

build: setup site server

# Unit and integration tests of every crate on real SQLite files, then the integration
# tests again on a throwaway PostgreSQL server, with those that need it (ignored on SQLite).
# The second run selects the same packages as the first, so nothing is compiled again.
unit:
	cargo test --workspace
	scripts/with-postgres.sh cargo test --workspace --test '*' -- --include-ignored

# The Playwright suite in Debian's Chromium on SQLite (each worker starts its own server),
# then its PostgreSQL smoke test beside a throwaway PostgreSQL server.
e2e:
	cd end2end && npx playwright test
	scripts/with-postgres.sh sh -c 'cd end2end && npx playwright test tests/postgres.spec.ts'

# An optimised build for deployment: target/release/beckon plus target/site-release
# (size-optimised wasm, gzip and Brotli copies), which that binary serves by default.
release: setup
	PROFILE=release scripts/build-site.sh
	cargo build --release -p server --bin beckon
	target/release/beckon precompress target/site-release/pkg

clean:
	rm -rf target/site target/site-release data
