# shellcheck shell=bash
# WebAssembly tests for talcum (issue 3). Meant to be *sourced* by .ci/run:
#
#   source .ci/parts/wasm.sh
#   wasm_install   # wasm32 target, wasm-bindgen-cli (= Cargo.lock's wasm-bindgen)
#                  # into $HOME/.cache/talcum-tools, chromium + chromedriver
#   wasm_test      # every wasm-bindgen-test suite in Node, then in headless
#                  # Chromium; wasm-tests again on the tiny allocator (both);
#                  # then builds and runs examples/wasm-bindgen-app
#
# Both functions return non-zero on any failure and never call `exit`, so the
# caller decides. Each skips nothing silently: every step prints a header.
#
# Knobs (environment): TALCUM_TOOLS (tool cache, default ~/.cache/talcum-tools),
# WASM_SKIP_BROWSER=1 (Node only, e.g. on a machine without Chromium),
# WASM_BINDGEN_TEST_TIMEOUT (seconds per browser test binary, default 600 here).

WASM_TOOLS_ROOT="${TALCUM_TOOLS:-$HOME/.cache/talcum-tools}"
WASM_TARGET="wasm32-unknown-unknown"
# Crates whose wasm-bindgen-test suites run in both environments.
WASM_TEST_PACKAGES=(wasm-tests wasm-tests-oom wasm-bindgen-app)
WASM_APP_DIR="examples/wasm-bindgen-app"

_wasm_repo_root() {
    # This file lives in .ci/parts; the repository is two levels up.
    local here
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)" || return 1
    (cd "$here/../.." && pwd)
}

_wasm_header() {
    printf '\n==== wasm: %s ====\n' "$*"
}

_wasm_path_add() {
    case ":$PATH:" in
        *":$1:"*) ;;
        *) export PATH="$1:$PATH" ;;
    esac
}

# The wasm-bindgen version in Cargo.lock (created first if missing). The
# manifests pin it with `=`, so this is also the version they ask for.
_wasm_bindgen_version() {
    local root="$1" v
    if [ ! -f "$root/Cargo.lock" ]; then
        (cd "$root" && cargo generate-lockfile) >&2 || return 1
    fi
    v="$(awk '
        $0 == "name = \"wasm-bindgen\"" { want = 1; next }
        want && /^version = / { gsub(/"/, "", $3); print $3; exit }
        /^$/ { want = 0 }
    ' "$root/Cargo.lock")"
    if [ -z "$v" ]; then
        echo "wasm: no wasm-bindgen package in $root/Cargo.lock" >&2
        return 1
    fi
    echo "$v"
}

# Version printed by an installed wasm-bindgen tool ("wasm-bindgen 0.2.x"), or "".
_wasm_tool_version() {
    local bin="$WASM_TOOLS_ROOT/bin/$1"
    [ -x "$bin" ] || return 0
    "$bin" --version 2>/dev/null | awk '{ print $2; exit }'
}

wasm_install() {
    local root version have t0
    root="$(_wasm_repo_root)" || return 1

    _wasm_header "rustup target $WASM_TARGET"
    t0=$SECONDS
    if rustup target list --installed | grep -qx "$WASM_TARGET"; then
        echo "already installed"
    else
        rustup target add "$WASM_TARGET" || return 1
    fi
    echo "($((SECONDS - t0)) s)"

    _wasm_header "wasm-bindgen-cli"
    t0=$SECONDS
    version="$(_wasm_bindgen_version "$root")" || return 1
    mkdir -p "$WASM_TOOLS_ROOT/bin" || return 1
    _wasm_path_add "$WASM_TOOLS_ROOT/bin"
    have="$(_wasm_tool_version wasm-bindgen-test-runner)"
    if [ "$have" = "$version" ] && [ "$(_wasm_tool_version wasm-bindgen)" = "$version" ]; then
        echo "wasm-bindgen-cli $version already installed in $WASM_TOOLS_ROOT/bin"
    else
        echo "installing wasm-bindgen-cli $version (found: '${have:-none}')"
        if ! cargo install wasm-bindgen-cli --version "$version" --no-default-features \
            --root "$WASM_TOOLS_ROOT" --force --locked; then
            echo "wasm: --locked install failed, retrying with a fresh resolve of the same version" >&2
            cargo install wasm-bindgen-cli --version "$version" --no-default-features \
                --root "$WASM_TOOLS_ROOT" --force || return 1
        fi
        have="$(_wasm_tool_version wasm-bindgen-test-runner)"
        if [ "$have" != "$version" ]; then
            echo "wasm: wasm-bindgen-test-runner reports '$have', wanted $version" >&2
            return 1
        fi
    fi
    echo "($((SECONDS - t0)) s)"

    _wasm_header "chromium + chromedriver"
    t0=$SECONDS
    if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
        echo "already installed: $(/usr/bin/chromium --version 2>/dev/null)"
    else
        apt-get update || return 1
        DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver || return 1
    fi
    echo "($((SECONDS - t0)) s)"
}

# _wasm_feature_suites FEATURE LABEL ROOT: the wasm-tests suites with
# `--features FEATURE`, in Node, then headless Chromium (unless
# WASM_SKIP_BROWSER=1). Returns non-zero if either failed.
_wasm_feature_suites() {
    local feature=$1 label=$2 root=$3 status=0 t0=$SECONDS
    _wasm_header "wasm-tests on $label (--features $feature): Node, then headless Chromium"
    if ! (cd "$root" && env -u WASM_BINDGEN_USE_BROWSER \
        cargo test --target "$WASM_TARGET" -p wasm-tests --features "$feature" --tests --no-fail-fast); then
        echo "wasm: $feature Node suites FAILED" >&2
        status=1
    fi
    if [ "${WASM_SKIP_BROWSER:-0}" != 1 ] && ! (cd "$root" && WASM_BINDGEN_USE_BROWSER=1 \
        CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-600}" \
        cargo test --target "$WASM_TARGET" -p wasm-tests --features "$feature" --tests --no-fail-fast); then
        echo "wasm: $feature Chromium suites FAILED" >&2
        status=1
    fi
    echo "($feature suites: $((SECONDS - t0)) s)"
    return "$status"
}

wasm_test() {
    local root status=0 t0 pkg_args=() p out
    root="$(_wasm_repo_root)" || return 1
    _wasm_path_add "$WASM_TOOLS_ROOT/bin"
    if ! command -v wasm-bindgen-test-runner >/dev/null; then
        echo "wasm: wasm-bindgen-test-runner not on PATH; run wasm_install first" >&2
        return 1
    fi
    for p in "${WASM_TEST_PACKAGES[@]}"; do
        pkg_args+=(-p "$p")
    done

    # Tests only (--tests): doctests are host-side business.
    _wasm_header "wasm-bindgen-test suites in Node (${WASM_TEST_PACKAGES[*]})"
    t0=$SECONDS
    if ! (cd "$root" && env -u WASM_BINDGEN_USE_BROWSER \
        cargo test --target "$WASM_TARGET" "${pkg_args[@]}" --tests --no-fail-fast); then
        echo "wasm: Node suites FAILED" >&2
        status=1
    fi
    echo "(Node suites: $((SECONDS - t0)) s)"

    if [ "${WASM_SKIP_BROWSER:-0}" = 1 ]; then
        _wasm_header "headless Chromium: skipped (WASM_SKIP_BROWSER=1)"
    else
        _wasm_header "wasm-bindgen-test suites in headless Chromium (${WASM_TEST_PACKAGES[*]})"
        t0=$SECONDS
        # The runner finds webdriver.json in each crate's directory (cargo's
        # working directory for its tests) and adds headless/no-sandbox itself.
        if ! (cd "$root" && WASM_BINDGEN_USE_BROWSER=1 CHROMEDRIVER=/usr/bin/chromedriver \
            WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-600}" \
            cargo test --target "$WASM_TARGET" "${pkg_args[@]}" --tests --no-fail-fast); then
            echo "wasm: Chromium suites FAILED" >&2
            status=1
        fi
        echo "(Chromium suites: $((SECONDS - t0)) s)"
    fi

    # The same suites on the tiny allocator (feature `tiny`: `TalckWasm` is
    # `talcum::tiny::TinyWasm`; tests of what it drops are cfg'd out), and
    # on the `fast` front end (freed small blocks held on lists by size).
    _wasm_feature_suites tiny "the tiny allocator" "$root" || status=1
    _wasm_feature_suites fast "the fast front end" "$root" || status=1

    _wasm_header "examples/wasm-bindgen-app: release build, wasm-bindgen --target nodejs, node"
    t0=$SECONDS
    out="$(mktemp -d)" || return 1
    if (cd "$root" && cargo build --release --target "$WASM_TARGET" -p wasm-bindgen-app) &&
        wasm-bindgen --target nodejs --out-dir "$out" \
            "$(cd "$root" && cargo metadata --format-version 1 --no-deps |
                sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/$WASM_TARGET/release/wasm_bindgen_app.wasm" &&
        node "$root/$WASM_APP_DIR/run-node.mjs" "$out"; then
        echo "wasm-bindgen-app: $(wc -c <"$out/wasm_bindgen_app_bg.wasm") bytes of wasm"
    else
        echo "wasm: examples/wasm-bindgen-app FAILED" >&2
        status=1
    fi
    rm -rf "$out"
    echo "(example app: $((SECONDS - t0)) s)"

    if [ "$status" = 0 ]; then
        _wasm_header "all wasm steps passed"
    else
        _wasm_header "some wasm steps FAILED (see above)"
    fi
    return "$status"
}
