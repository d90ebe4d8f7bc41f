# Sourced by scripts/test and scripts/example: installing graphtrail compiles native/ (Rust) with cargo.
# Finds rustup's cargo when the shell's PATH lacks it, and says what to install when there is none.
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
    echo "graphtrail compiles a part of itself with Rust: install cargo and rustc 1.85 or newer (https://rustup.rs)" >&2
    exit 1
fi
