//! Everything that knows about Matrix lives here.

pub mod allow;
pub mod bot;
pub mod format;
pub mod probe;
