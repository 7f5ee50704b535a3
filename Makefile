# The two promises: `make run` and `make test` install what is missing, build, and go.
.PHONY: run test build site server setup setup-test unit e2e release clean

run: setup site server
	target/debug/beckon serve

test: setup-test site server unit e2e

setup:
	@scripts/setup.sh build

setup-test:
	@scripts/setup.sh test

site:
	scripts/build-site.sh

server:
	cargo build -p server --bin beckon

build: setup site server

# Unit and integration tests of every crate on real SQLite files, then the integration
# tests again on a throwaway PostgreSQL server.
unit:
	cargo test --workspace
	scripts/with-postgres.sh cargo test -p server --tests

# The Playwright suite in Debian's Chromium on SQLite (each worker starts its own server),
# then its PostgreSQL smoke test beside a throwaway PostgreSQL server.
e2e:
	cd end2end && npx playwright test
	scripts/with-postgres.sh sh -c 'cd end2end && npx playwright test tests/postgres.spec.ts'

# An optimised build for deployment: target/release/beckon plus target/site (size-optimised
# wasm). Run it with BECKON_SITE_ROOT pointing at target/site.
release: setup
	PROFILE=release scripts/build-site.sh
	cargo build --release -p server --bin beckon

clean:
	rm -rf target/site data
