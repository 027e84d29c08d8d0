//! The opcode-web server (being built).

fn main() {}
