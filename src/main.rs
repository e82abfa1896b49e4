#![recursion_limit = "256"]
fn main() {}
