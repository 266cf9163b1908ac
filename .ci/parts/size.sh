# shellcheck shell=bash
# The wasm size gate (issue 4). Meant to be *sourced* by .ci/test-all:
#
#   source .ci/parts/size.sh
#   size_install   # wasm32 target; binaryen (wasm-opt) from npm into the tool cache
#   size_gate      # cargo size-report --check
#
# size_gate builds the null-allocator baseline, talcum, std's dlmalloc and the
# dlmalloc crate as `minimal` wasm modules, runs wasm-opt -Oz, and fails when
# talcum adds more bytes over the baseline than size-report/budget.toml allows,
# or as many as dlmalloc does. The full report (sizes and speed, which also
# needs twiggy, installed by the report itself) is `cargo size-report`.
#
# Both functions return non-zero on failure and never call `exit`.
# Knobs (environment): TALCUM_TOOLS (tool cache, default ~/.cache/talcum-tools).

SIZE_BINARYEN_VERSION="132.0.0"
SIZE_TOOLS_ROOT="${TALCUM_TOOLS:-$HOME/.cache/talcum-tools}"

_size_repo_root() {
    local here
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)" || return 1
    (cd "$here/../.." && pwd)
}

size_install() {
    if ! rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$'; then
        echo "size_install: adding the wasm32-unknown-unknown target"
        rustup target add wasm32-unknown-unknown || return 1
    fi
    local prefix="$SIZE_TOOLS_ROOT/binaryen-$SIZE_BINARYEN_VERSION"
    local bin="$prefix/node_modules/.bin/wasm-opt"
    local major="${SIZE_BINARYEN_VERSION%%.*}"
    local have=""
    if [ -x "$bin" ]; then
        have="$("$bin" --version 2>/dev/null)"
    fi
    if [[ "$have " == *"version $major "* ]]; then
        echo "size_install: $have already installed"
        return 0
    fi
    echo "size_install: installing binaryen $SIZE_BINARYEN_VERSION (npm) into $prefix (found: '${have:-none}')"
    mkdir -p "$prefix" || return 1
    # npm needs the system CA bundle on machines behind a TLS proxy.
    if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
        export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
    fi
    npm install --no-audit --no-fund --loglevel=error --prefix "$prefix" \
        "binaryen@$SIZE_BINARYEN_VERSION" || return 1
    have="$("$bin" --version 2>/dev/null)"
    if [[ "$have " != *"version $major "* ]]; then
        echo "size_install: wasm-opt reports '$have', wanted binaryen $SIZE_BINARYEN_VERSION" >&2
        return 1
    fi
    echo "size_install: $have"
}

size_gate() {
    local root
    root="$(_size_repo_root)" || return 1
    (cd "$root" && TALCUM_TOOLS="$SIZE_TOOLS_ROOT" cargo size-report --check)
}
