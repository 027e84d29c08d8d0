# Conveniences over the README's commands; `just` is never required.

# run the server with its UI
web:
    cargo run -p opcode-web

# every test
test:
    cargo xtask test

# repository checks
tidy:
    cargo xtask tidy
