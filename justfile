# Conveniences over the README's commands; `just` is never required.

# build the UI and run the server (the build script bundles frontend/ into the binary)
web *ARGS:
    cargo run -p opcode-web -- {{ARGS}}

# every test: Rust, frontend unit tests, browser e2e, genuine Claude Code CLI
test:
    cargo xtask test

# release tarball in target/dist (checked: it serves its UI from an empty folder)
dist:
    cargo xtask dist --check

# Vite dev server on :5173 with /api and /ws proxied to a backend on :8080 (run `just web` in another terminal)
dev:
    cd frontend && npm ci && npm run dev

# repository checks
tidy:
    cargo xtask tidy
