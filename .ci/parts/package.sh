# shellcheck shell=bash
# The crate as users get it (issue 7). Meant to be *sourced* by .ci/test-all:
#
#   source .ci/parts/package.sh
#   package_check   # 1. cargo package --list: prints what ships, checks that
#                   #    the library, README, changelog and licenses do and
#                   #    that repository-only trees (.ci, .cargo, size-report,
#                   #    wasm-tests, fuzz, the wasm examples, target) do not
#                   # 2. cargo package: builds the packaged crate on its own
#                   # 3. builds and runs the native examples
#
# package_check returns non-zero on the first failing step and never calls
# `exit`. It uses the workspace's target dir (or $CARGO_TARGET_DIR if set).

PACKAGE_FEATURES="allocator-api2,counters"
PACKAGE_MUST_SHIP=(Cargo.toml README.md CHANGELOG.md LICENSE LICENSE-MIT LICENSE-APACHE
    src/lib.rs examples/native_global.rs examples/allocator_api.rs)
PACKAGE_MUST_NOT_SHIP=(.ci/ .cargo/ size-report/ wasm-tests/ fuzz/ examples/wasm- target/)

_package_repo_root() {
    # This file lives in .ci/parts; the repository is two levels up.
    local here
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)" || return 1
    (cd "$here/../.." && pwd)
}

# Checks a `cargo package --list` listing (on stdin); prints what is wrong.
_package_check_list() {
    local list path want bad status=0
    list="$(cat)"
    for want in "${PACKAGE_MUST_SHIP[@]}"; do
        if ! grep -qxF -- "$want" <<<"$list"; then
            echo "package_check: the package lacks $want" >&2
            status=1
        fi
    done
    while IFS= read -r path; do
        for bad in "${PACKAGE_MUST_NOT_SHIP[@]}"; do
            if [[ "$path" == "$bad"* ]]; then
                echo "package_check: the package ships $path (nothing under $bad belongs in it)" >&2
                status=1
            fi
        done
    done <<<"$list"
    return "$status"
}

package_check() {
    local root manifest list
    root="$(_package_repo_root)" || return 1
    manifest="$root/Cargo.toml"

    echo "--- package_check: cargo package --list"
    list="$(cargo package -p talcum --manifest-path "$manifest" --allow-dirty --no-verify --list)" || return 1
    printf '%s\n' "$list"
    echo "($(wc -l <<<"$list") files)"
    _package_check_list <<<"$list" || return 1

    echo "--- package_check: cargo package (builds the packaged crate)"
    cargo package -p talcum --manifest-path "$manifest" --allow-dirty || return 1

    echo "--- package_check: examples (features $PACKAGE_FEATURES)"
    cargo build -p talcum --manifest-path "$manifest" --examples --features "$PACKAGE_FEATURES" || return 1
    cargo run -p talcum --manifest-path "$manifest" --features "$PACKAGE_FEATURES" --example native_global || return 1
    cargo run -p talcum --manifest-path "$manifest" --features "$PACKAGE_FEATURES" --example allocator_api || return 1
    echo "--- package_check: ok"
}
