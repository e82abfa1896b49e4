//! Everything that knows about Matrix lives here.

pub mod probe;
