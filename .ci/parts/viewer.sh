# shellcheck shell=bash
# The heap viewer (issue 15), meant to be *sourced* by .ci/test-all:
#
#   source .ci/parts/viewer.sh
#   viewer_install   # the wasm step's tools: wasm32 target, wasm-bindgen-cli,
#                    # chromium + chromedriver (idempotent, shared cache)
#   viewer_test      # builds examples/heap-viewer, runs wasm-bindgen --target web,
#                    # then test/e2e.mjs in headless Chromium through WebDriver
#
# Both return non-zero on failure and never call `exit`.
# Knobs: VIEWER_SCREENSHOT=path saves the panel's PNG there (the README's
# examples/heap-viewer/screenshot.png is made this way).

_viewer_root() {
    local here
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)" || return 1
    (cd "$here/../.." && pwd)
}

viewer_install() {
    local root
    root="$(_viewer_root)" || return 1
    # shellcheck source=/dev/null
    source "$root/.ci/parts/wasm.sh" || return 1
    wasm_install
}

viewer_test() {
    local root out target status=0 t0=$SECONDS
    root="$(_viewer_root)" || return 1
    export PATH="${TALCUM_TOOLS:-$HOME/.cache/talcum-tools}/bin:$PATH"
    command -v wasm-bindgen >/dev/null || {
        echo "viewer: wasm-bindgen not on PATH; run viewer_install first" >&2
        return 1
    }
    out="$(mktemp -d)" || return 1
    target="$(cd "$root" && cargo metadata --format-version 1 --no-deps |
        sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')" || return 1
    echo "--- viewer: build examples/heap-viewer (release, wasm32)"
    if ! (cd "$root" && cargo build --release --target wasm32-unknown-unknown -p heap-viewer) ||
        ! wasm-bindgen --target web --out-dir "$out/pkg" \
            "$target/wasm32-unknown-unknown/release/heap_viewer.wasm"; then
        echo "viewer: build FAILED" >&2
        status=1
    else
        echo "heap-viewer: $(wc -c <"$out/pkg/heap_viewer_bg.wasm") bytes of wasm ($((SECONDS - t0)) s)"
        echo "--- viewer: end-to-end test in headless Chromium"
        if ! CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}" \
            node "$root/examples/heap-viewer/test/e2e.mjs" "$out/pkg" ${VIEWER_SCREENSHOT:+"$VIEWER_SCREENSHOT"}; then
            echo "viewer: end-to-end test FAILED" >&2
            status=1
        fi
    fi
    rm -rf "$out"
    echo "(viewer: $((SECONDS - t0)) s)"
    return "$status"
}
