# shellcheck shell=bash
# Fuzz smoke run for talcum (issue 6). Meant to be *sourced* by .ci/run:
#
#   source .ci/parts/fuzz.sh
#   fuzz_install     # nightly check + cargo-fuzz 0.13.2 into $HOME/.cache/talcum-tools
#   fuzz_smoke       # every target for ${FUZZ_SECONDS:-35} s from its committed seeds (six targets)
#
# Both functions return non-zero on failure (a missing toolchain, a build error,
# a crash, a leak, a timeout); they never call `exit`, so the caller decides.
# The fuzz crate builds into its own target dir (fuzz/target) so the sanitizer
# RUSTFLAGS of cargo-fuzz never invalidate the root crate's build cache.

FUZZ_CARGO_FUZZ_VERSION="0.13.2"
FUZZ_TOOLS_ROOT="${TALCUM_TOOLS:-$HOME/.cache/talcum-tools}"
# `fast_ops` is `talc_ops` built with feature `fast` (the front end); it
# comes last, so the other targets share one build.
FUZZ_TARGETS=(talc_ops talck_global heaps oom_growth tiny fast_ops)

_fuzz_repo_root() {
    # The directory holding this file is .ci/parts; the repository is two levels up.
    local here
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)" || return 1
    (cd "$here/../.." && pwd)
}

fuzz_install() {
    if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
        echo "fuzz_install: installing the nightly toolchain" >&2
        rustup toolchain install nightly --profile minimal || return 1
    fi
    mkdir -p "$FUZZ_TOOLS_ROOT/bin" || return 1
    case ":$PATH:" in
        *":$FUZZ_TOOLS_ROOT/bin:"*) ;;
        *) export PATH="$FUZZ_TOOLS_ROOT/bin:$PATH" ;;
    esac
    local have=""
    if [ -x "$FUZZ_TOOLS_ROOT/bin/cargo-fuzz" ]; then
        have="$("$FUZZ_TOOLS_ROOT/bin/cargo-fuzz" --version 2>/dev/null | awk '{print $2}')"
    fi
    if [ "$have" = "$FUZZ_CARGO_FUZZ_VERSION" ]; then
        echo "fuzz_install: cargo-fuzz $have already installed"
        return 0
    fi
    echo "fuzz_install: installing cargo-fuzz $FUZZ_CARGO_FUZZ_VERSION (found: '${have:-none}')"
    if ! cargo install cargo-fuzz --version "$FUZZ_CARGO_FUZZ_VERSION" --locked \
        --root "$FUZZ_TOOLS_ROOT" --force; then
        echo "fuzz_install: --locked install failed, retrying with a fresh resolve" >&2
        cargo install cargo-fuzz --version "$FUZZ_CARGO_FUZZ_VERSION" \
            --root "$FUZZ_TOOLS_ROOT" --force || return 1
    fi
    have="$("$FUZZ_TOOLS_ROOT/bin/cargo-fuzz" --version 2>/dev/null | awk '{print $2}')"
    if [ "$have" != "$FUZZ_CARGO_FUZZ_VERSION" ]; then
        echo "fuzz_install: cargo-fuzz reports version '$have', wanted $FUZZ_CARGO_FUZZ_VERSION" >&2
        return 1
    fi
}

# fuzz_smoke [target...]: run each target (default: all) for FUZZ_SECONDS seconds.
fuzz_smoke() {
    local root seconds hard targets t corpus status failed=()
    root="$(_fuzz_repo_root)" || return 1
    seconds="${FUZZ_SECONDS:-35}"
    # Hard wall-clock bound per target: the build (cold: ~1-2 min) plus the run.
    hard="${FUZZ_TIMEOUT:-$((seconds + 600))}"
    if [ "$#" -gt 0 ]; then targets=("$@"); else targets=("${FUZZ_TARGETS[@]}"); fi
    case ":$PATH:" in
        *":$FUZZ_TOOLS_ROOT/bin:"*) ;;
        *) export PATH="$FUZZ_TOOLS_ROOT/bin:$PATH" ;;
    esac
    if ! command -v cargo-fuzz >/dev/null; then
        echo "fuzz_smoke: cargo-fuzz not found; run fuzz_install first" >&2
        return 1
    fi
    for t in "${targets[@]}"; do
        if [ ! -d "$root/fuzz/seeds/$t" ]; then
            echo "fuzz_smoke: no seed directory fuzz/seeds/$t" >&2
            failed+=("$t(no seeds)")
            continue
        fi
        corpus="$root/fuzz/corpus/$t"
        mkdir -p "$corpus" || return 1
        cp -f "$root/fuzz/seeds/$t"/* "$corpus"/ 2>/dev/null
        echo "fuzz_smoke: $t for ${seconds}s (hard limit ${hard}s)"
        (
            cd "$root/fuzz" &&
                CARGO_TARGET_DIR="$root/fuzz/target" timeout --kill-after=30 "$hard" \
                    cargo +nightly fuzz run $([ "$t" = fast_ops ] && echo --features fast) "$t" "$corpus" -- \
                    -max_total_time="$seconds" -print_final_stats=1
        )
        status=$?
        if [ "$status" -ne 0 ]; then
            echo "fuzz_smoke: $t FAILED (exit $status); crash inputs are in fuzz/artifacts/$t" >&2
            failed+=("$t")
        else
            echo "fuzz_smoke: $t ok"
        fi
    done
    if [ "${#failed[@]}" -ne 0 ]; then
        echo "fuzz_smoke: failed targets: ${failed[*]}" >&2
        return 1
    fi
    echo "fuzz_smoke: all ${#targets[@]} targets ok"
}
