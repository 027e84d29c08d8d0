//! The `opcode` terminal client (being built).

fn main() {}
