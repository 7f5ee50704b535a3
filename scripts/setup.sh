#!/usr/bin/env bash
# Installs what building and testing Beckon need, skipping whatever is already there.
# Only package registries are used (crates.io, npm, Debian).
#   scripts/setup.sh build         the wasm target, wasm-bindgen, wasm-split and zopfli (for make run)
#   scripts/setup.sh test          also Chromium, the test servers' packages, PostgreSQL
#   scripts/setup.sh postgres-bin  prints the folder of PostgreSQL's programs (installing them)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-build}

say() { echo "setup: $*" >&2; }

apt_install() {
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

# Debian keeps PostgreSQL's server programs out of PATH, one folder per major version.
postgres_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

if [ "$what" = postgres-bin ]; then
  if [ -z "$(postgres_bin)" ]; then
    say "installing Debian's PostgreSQL (the tests run on it too)"
    apt_install postgresql
  fi
  postgres_bin
  exit 0
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# wasm-bindgen's CLI must be exactly the version of the wasm-bindgen crate in Cargo.lock.
wanted=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$wanted" ]; then
  say "installing wasm-bindgen-cli $wanted (found '${have:-none}')"
  # Not --locked: its lockfile pins a crate version the registry no longer serves.
  cargo install wasm-bindgen-cli --version "$wanted"
fi

# wasm-split cuts the wasm into the main module and one chunk per page (scripts/build-site.sh);
# it is the library cargo-leptos splits with, at the version that matches Leptos' loader.
split_version=0.2.4
if ! cargo install --list | grep -qx "wasm_split_cli_support v$split_version:"; then
  say "installing wasm-split $split_version"
  cargo install --locked wasm_split_cli_support --version "$split_version" --features build-binary
fi

# zopfli gzips the optimised wasm (scripts/build-site.sh).
if ! command -v zopfli >/dev/null 2>&1; then
  say "installing zopfli (it compresses the optimised wasm)"
  apt_install zopfli
fi

if [ "$what" = test ]; then
  if ! command -v chromium >/dev/null 2>&1; then
    say "installing Debian's Chromium"
    apt_install chromium
  fi
  "$0" postgres-bin >/dev/null
  if ! command -v openssl >/dev/null 2>&1; then
    say "installing openssl (it makes the certificates of the TLS mail tests)"
    apt_install openssl
  fi
  if ! python3 -c "import aiosmtpd" >/dev/null 2>&1; then
    say "installing aiosmtpd (the SMTP server the delivery tests send to)"
    python3 -m pip install --quiet --disable-pip-version-check aiosmtpd 2>&1 | grep -v "Running pip as the 'root' user" || true
    python3 -c "import aiosmtpd"
  fi
  if ! python3 -c "import dkim" >/dev/null 2>&1; then
    say "installing dkimpy (the independent DKIM verifier of the signing tests)"
    python3 -m pip install --quiet --disable-pip-version-check dkimpy 2>&1 | grep -v "Running pip as the 'root' user" || true
    python3 -c "import dkim"
  fi
  if [ ! -d end2end/node_modules ] || [ end2end/package-lock.json -nt end2end/node_modules/.installed ]; then
    say "installing the end-to-end test packages"
    (cd end2end && npm ci --no-audit --no-fund && touch node_modules/.installed)
  fi
fi
