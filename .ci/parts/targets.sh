# shellcheck shell=bash
# WebAssembly targets beyond wasm32-unknown-unknown (issue 16). Meant to be
# *sourced* by .ci/test-all:
#
#   source .ci/parts/targets.sh
#   targets_wasip1_install   # rustup target wasm32-wasip1 (stable)
#   targets_wasip1_test      # targets/wasip1: a std program with TalckWasm as
#                            # its global allocator beside wasi-libc's malloc,
#                            # under Node's WASI (preview 1); with `checks`,
#                            # then without
#   targets_threads_install  # nightly toolchain with rust-src (for -Z build-std)
#   targets_threads_test     # targets/threads: a +atomics cdylib (std built by
#                            # -Z build-std), N Node workers over one shared
#                            # memory through Talck<spin::Mutex<()>, WasmHandler>;
#                            # with `checks`, then without
#   targets_wasip2_install   # rustup target wasm32-wasip2; jco and
#                            # preview2-shim (npm, pinned) in the tool cache
#   targets_wasip2_test      # targets/wasip2: a component with TalckWasm as
#                            # its global allocator, transpiled by jco, its
#                            # exports (strings and lists through
#                            # cabi_realloc) called from Node; with `checks`,
#                            # then without
#   targets_memory64_install # nightly with rust-src; binaryen (npm, the size
#                            # step's version); chromium + chromedriver
#   targets_memory64_test    # targets/memory64: a no_std wasm64 module with
#                            # TalckWasm (core, alloc by -Z build-std), its
#                            # tests in Node 20 (--experimental-wasm-memory64)
#                            # and in headless Chromium; with `checks`, then
#                            # without
#
# Each crate under targets/ is its own workspace (its own Cargo.lock); each
# test first checks its formatting and clippy (-D warnings). The verdict of a
# run is the `RESULT=` line its Node driver prints before teardown (Node 20
# can crash while tearing down after a WASI run), not Node's exit status.
# The functions return non-zero on failure and never call `exit`.
#
# Knobs (environment): TARGETS_NODE_TIMEOUT (seconds per Node run, default
# 600), TARGETS_WASIP1_OPS (random operations, default 30000),
# TARGETS_THREADS_WORKERS (default 4), TARGETS_THREADS_OPS (per worker,
# default 20000; a quarter of it with `checks`), TARGETS_WASIP2_CALLS
# (exports called, default 3000; a third of it with `checks`),
# TARGETS_WASIP2_OPS (per `stress` call, default 20000; a tenth with `checks`),
# TARGETS_MEMORY64_OPS (per stress seed, default 30000; a third with
# `checks`), TARGETS_MEMORY64_SKIP_BROWSER=1 (Node only).

TARGETS_WASIP1="wasm32-wasip1"
TARGETS_WASIP2="wasm32-wasip2"
TARGETS_JCO_VERSION="1.35.0"
TARGETS_PREVIEW2_SHIM_VERSION="0.26.1"
TARGETS_WASM64="wasm64-unknown-unknown"
# The module's maximum memory, 6 GiB (above wasm32's 4 GiB end): see
# MAX_MEMORY in targets/memory64/src/lib.rs. Panics abort without
# formatting, so the module needs no function table (below).
TARGETS_MEMORY64_RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -C link-arg=--max-memory=6442450944"
# The size step's binaryen (.ci/parts/size.sh), in the same place.
TARGETS_BINARYEN_VERSION="132.0.0"
TARGETS_THREADS_RUSTFLAGS="-C target-feature=+atomics,+bulk-memory,+mutable-globals \
-C link-arg=--shared-memory -C link-arg=--import-memory -C link-arg=--max-memory=1073741824 \
-C link-arg=--export=__stack_pointer -C link-arg=--export=__wasm_init_tls \
-C link-arg=--export=__tls_size -C link-arg=--export=__tls_align -C link-arg=--export=__tls_base"

_targets_repo_root() {
    # This file lives in .ci/parts; the repository is two levels up.
    local here
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)" || return 1
    (cd "$here/../.." && pwd)
}

_targets_header() {
    printf '\n==== targets: %s ====\n' "$*"
}

# _targets_node <label> <node args...>: runs Node with a time limit; passes
# when the last `RESULT=` line it printed is `RESULT=0`.
_targets_node() {
    local label="$1" log status result
    shift
    log="$(mktemp)" || return 1
    status=0
    timeout --kill-after=10 "${TARGETS_NODE_TIMEOUT:-600}" node "$@" >"$log" 2>&1 || status=$?
    grep -v -e 'ExperimentalWarning: WASI' -e 'node --trace-warnings' "$log" || true
    result="$(grep '^RESULT=' "$log" | tail -n 1 || true)"
    rm -f "$log"
    if [ "$result" != "RESULT=0" ]; then
        echo "targets: $label FAILED (${result:-no RESULT line}; node exit status $status)" >&2
        return 1
    fi
    if [ "$status" != 0 ]; then
        echo "targets: $label passed, but node exited with $status after printing its verdict (teardown)"
    fi
}

# _targets_lint <crate dir> <target> [toolchain]: rustfmt and clippy, with
# default and with all features.
_targets_lint() {
    local root dir="$1" target="$2"
    root="$(_targets_repo_root)" || return 1
    (cd "$root/$dir" && cargo fmt -- --check) || return 1
    (cd "$root/$dir" && cargo clippy --target "$target" --target-dir "$root/target" -- -D warnings) || return 1
    (cd "$root/$dir" && cargo clippy --target "$target" --target-dir "$root/target" --all-features -- -D warnings) || return 1
}

targets_wasip1_install() {
    local t0=$SECONDS
    _targets_header "rustup target $TARGETS_WASIP1"
    if rustup target list --installed | grep -qx "$TARGETS_WASIP1"; then
        echo "already installed"
    else
        rustup target add "$TARGETS_WASIP1" || return 1
    fi
    command -v node >/dev/null || { echo "targets: node not found" >&2; return 1; }
    echo "node $(node --version) ($((SECONDS - t0)) s)"
}

targets_wasip1_test() {
    local root features wasm t0 status=0
    root="$(_targets_repo_root)" || return 1
    wasm="$root/target/$TARGETS_WASIP1/release/talcum-target-wasip1.wasm"
    _targets_header "wasip1: fmt, clippy"
    t0=$SECONDS
    _targets_lint targets/wasip1 "$TARGETS_WASIP1" || return 1
    echo "($((SECONDS - t0)) s)"
    for features in checks ""; do
        _targets_header "wasip1: build and run under node:wasi (features: ${features:-none})"
        t0=$SECONDS
        (cd "$root/targets/wasip1" && cargo build --release --target "$TARGETS_WASIP1" \
            --target-dir "$root/target" ${features:+--features "$features"}) || return 1
        # --single-threaded-gc: Node 20's WASI crashes now and then (SIGSEGV,
        # or V8 heap corruption) in a program that grows memory to ~180 MiB,
        # even one that only calls memory.grow (std's allocator, no talcum)
        # (about 1 run in 4 here); with V8's GC on one thread it did not
        # crash in 110 runs. See targets/wasip1/run.mjs.
        _targets_node "wasip1 (${features:-no features})" --single-threaded-gc \
            "$root/targets/wasip1/run.mjs" "$wasm" \
            "${TARGETS_WASIP1_OPS:-30000}" 1 || status=1
        echo "($((SECONDS - t0)) s)"
    done
    return "$status"
}

targets_threads_install() {
    local t0=$SECONDS
    _targets_header "nightly toolchain with rust-src"
    if ! rustup run nightly rustc --version >/dev/null 2>&1; then
        rustup toolchain install nightly --profile minimal || return 1
    fi
    if rustup component list --installed --toolchain nightly | grep -q '^rust-src'; then
        echo "already installed: $(rustup run nightly rustc --version)"
    else
        rustup component add rust-src --toolchain nightly || return 1
    fi
    command -v node >/dev/null || { echo "targets: node not found" >&2; return 1; }
    echo "node $(node --version) ($((SECONDS - t0)) s)"
}

targets_threads_test() {
    local root features wasm t0 ops status=0
    root="$(_targets_repo_root)" || return 1
    # Its own target dir: std is built there for +atomics (-Z build-std).
    wasm="$root/target/targets-threads/wasm32-unknown-unknown/release/talcum_target_threads.wasm"
    _targets_header "threads: fmt, clippy (stable, wasm32 without atomics)"
    t0=$SECONDS
    _targets_lint targets/threads wasm32-unknown-unknown || return 1
    echo "($((SECONDS - t0)) s)"
    for features in checks ""; do
        _targets_header "threads: +atomics build (-Z build-std) and run in Node workers (features: ${features:-none})"
        t0=$SECONDS
        (cd "$root/targets/threads" && RUSTFLAGS="$TARGETS_THREADS_RUSTFLAGS" cargo +nightly build --release \
            --target wasm32-unknown-unknown -Z build-std=std,panic_abort \
            --target-dir "$root/target/targets-threads" ${features:+--features "$features"}) || return 1
        echo "(build: $((SECONDS - t0)) s)"
        ops="${TARGETS_THREADS_OPS:-20000}"
        if [ "$features" = checks ]; then ops=$((ops / 4)); fi
        _targets_node "threads (${features:-no features})" "$root/targets/threads/run.mjs" "$wasm" \
            "${TARGETS_THREADS_WORKERS:-4}" "$ops" 1 || status=1
        echo "($((SECONDS - t0)) s)"
    done
    return "$status"
}

# Where jco and preview2-shim are installed (npm, pinned), in the tool cache.
_targets_jco_prefix() {
    echo "${TALCUM_TOOLS:-$HOME/.cache/talcum-tools}/jco-$TARGETS_JCO_VERSION"
}

# _targets_npm_version <prefix> <package>: the installed version, or nothing.
_targets_npm_version() {
    sed -n 's/^ *"version": *"\(.*\)".*/\1/p' "$1/node_modules/$2/package.json" 2>/dev/null | head -n 1
}

targets_wasip2_install() {
    local t0=$SECONDS prefix
    _targets_header "rustup target $TARGETS_WASIP2; jco $TARGETS_JCO_VERSION, preview2-shim $TARGETS_PREVIEW2_SHIM_VERSION"
    if rustup target list --installed | grep -qx "$TARGETS_WASIP2"; then
        echo "already installed: $TARGETS_WASIP2"
    else
        rustup target add "$TARGETS_WASIP2" || return 1
    fi
    command -v node >/dev/null || { echo "targets: node not found" >&2; return 1; }
    prefix="$(_targets_jco_prefix)"
    if [ "$(_targets_npm_version "$prefix" @bytecodealliance/jco)" = "$TARGETS_JCO_VERSION" ] &&
        [ "$(_targets_npm_version "$prefix" @bytecodealliance/preview2-shim)" = "$TARGETS_PREVIEW2_SHIM_VERSION" ]; then
        echo "already installed: jco and preview2-shim in $prefix"
    else
        mkdir -p "$prefix" || return 1
        # npm needs the system CA bundle on machines behind a TLS proxy.
        if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
            export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
        fi
        npm install --no-audit --no-fund --loglevel=error --prefix "$prefix" \
            "@bytecodealliance/jco@$TARGETS_JCO_VERSION" \
            "@bytecodealliance/preview2-shim@$TARGETS_PREVIEW2_SHIM_VERSION" || return 1
    fi
    echo "jco $("$prefix/node_modules/.bin/jco" --version), node $(node --version) ($((SECONDS - t0)) s)"
}

targets_wasip2_test() {
    local root features wasm out prefix t0 calls ops status=0
    root="$(_targets_repo_root)" || return 1
    prefix="$(_targets_jco_prefix)"
    wasm="$root/target/$TARGETS_WASIP2/release/talcum_target_wasip2.wasm"
    _targets_header "wasip2: fmt, clippy"
    t0=$SECONDS
    _targets_lint targets/wasip2 "$TARGETS_WASIP2" || return 1
    echo "($((SECONDS - t0)) s)"
    for features in checks ""; do
        _targets_header "wasip2: build the component, jco transpile, run in Node (features: ${features:-none})"
        t0=$SECONDS
        (cd "$root/targets/wasip2" && cargo build --release --target "$TARGETS_WASIP2" \
            --target-dir "$root/target" ${features:+--features "$features"}) || return 1
        # The transpiled module imports @bytecodealliance/preview2-shim: it
        # finds it through a node_modules link next to it.
        out="$root/target/targets-wasip2/js-${features:-none}"
        rm -rf "$out" && mkdir -p "$out" || return 1
        "$prefix/node_modules/.bin/jco" transpile "$wasm" -o "$out" --name talcum --no-typescript -q || return 1
        ln -s "$prefix/node_modules" "$out/node_modules" || return 1
        echo '{ "type": "module" }' >"$out/package.json" || return 1
        echo "(build and transpile: $((SECONDS - t0)) s)"
        calls="${TARGETS_WASIP2_CALLS:-3000}"
        ops="${TARGETS_WASIP2_OPS:-20000}"
        if [ "$features" = checks ]; then calls=$((calls / 3)) ops=$((ops / 10)); fi
        _targets_node "wasip2 (${features:-no features})" "$root/targets/wasip2/run.mjs" \
            "$out/talcum.js" "$calls" "$ops" 1 || status=1
        echo "($((SECONDS - t0)) s)"
    done
    return "$status"
}

targets_memory64_install() {
    local t0=$SECONDS prefix have
    targets_threads_install || return 1
    _targets_header "binaryen $TARGETS_BINARYEN_VERSION (npm); chromium + chromedriver"
    prefix="${TALCUM_TOOLS:-$HOME/.cache/talcum-tools}/binaryen-$TARGETS_BINARYEN_VERSION"
    have="$("$prefix/node_modules/.bin/wasm-opt" --version 2>/dev/null || true)"
    if [[ "$have " == *"version ${TARGETS_BINARYEN_VERSION%%.*} "* ]]; then
        echo "already installed: $have"
    else
        mkdir -p "$prefix" || return 1
        if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
            export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
        fi
        npm install --no-audit --no-fund --loglevel=error --prefix "$prefix" \
            "binaryen@$TARGETS_BINARYEN_VERSION" || return 1
    fi
    if [ "${TARGETS_MEMORY64_SKIP_BROWSER:-}" = 1 ] || { [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; }; then
        echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo 'skipped')"
    else
        apt-get update || return 1
        DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver || return 1
    fi
    echo "($((SECONDS - t0)) s)"
}

targets_memory64_test() {
    local root features wasm node_wasm wasm_opt t0 ops status=0
    local cargo_args=(--target "$TARGETS_WASM64" -Z build-std=core,alloc)
    root="$(_targets_repo_root)" || return 1
    cargo_args+=(--target-dir "$root/target/targets-memory64")
    wasm="$root/target/targets-memory64/$TARGETS_WASM64/release/talcum_target_memory64.wasm"
    node_wasm="$root/target/targets-memory64/talcum_target_memory64.node.wasm"
    wasm_opt="${TALCUM_TOOLS:-$HOME/.cache/talcum-tools}/binaryen-$TARGETS_BINARYEN_VERSION/node_modules/.bin/wasm-opt"
    _targets_header "memory64: fmt, clippy (nightly, $TARGETS_WASM64: the test crate, and talcum itself)"
    t0=$SECONDS
    (cd "$root/targets/memory64" && cargo fmt -- --check) || return 1
    for features in "" "--all-features"; do
        (cd "$root/targets/memory64" && RUSTFLAGS="$TARGETS_MEMORY64_RUSTFLAGS" cargo +nightly clippy \
            "${cargo_args[@]}" $features -- -D warnings) || return 1
    done
    (cd "$root" && RUSTFLAGS="$TARGETS_MEMORY64_RUSTFLAGS" cargo +nightly clippy -p talcum \
        "${cargo_args[@]}" --features checks,counters -- -D warnings) || return 1
    echo "($((SECONDS - t0)) s)"
    for features in checks ""; do
        _targets_header "memory64: -Z build-std build, run in Node and in Chromium (features: ${features:-none})"
        t0=$SECONDS
        (cd "$root/targets/memory64" && RUSTFLAGS="$TARGETS_MEMORY64_RUSTFLAGS" cargo +nightly build --release \
            "${cargo_args[@]}" ${features:+--features "$features"}) || return 1
        # Node 20's V8 rejects the module as linked ("invalid table elements
        # limits flags"): LLVM declares the (empty, unused) function table as
        # a table64, which V8 11.3 does not know. Node runs a copy without
        # it; Chromium runs the module as linked.
        "$wasm_opt" --all-features --remove-unused-module-elements "$wasm" -o "$node_wasm" || return 1
        echo "(build: $((SECONDS - t0)) s)"
        ops="${TARGETS_MEMORY64_OPS:-30000}"
        if [ "$features" = checks ]; then ops=$((ops / 3)); fi
        _targets_node "memory64 in Node (${features:-no features})" --experimental-wasm-memory64 \
            "$root/targets/memory64/run.mjs" node "$node_wasm" "$ops" 2 || status=1
        if [ "${TARGETS_MEMORY64_SKIP_BROWSER:-}" != 1 ]; then
            _targets_node "memory64 in Chromium (${features:-no features})" \
                "$root/targets/memory64/run.mjs" chromium "$wasm" "$ops" 2 || status=1
        fi
        echo "($((SECONDS - t0)) s)"
    done
    return "$status"
}
