//! The memory map: a picture of what 3AM remembers, as a star map. Topics are suns (sized
//! by importance, named, one colour each), facts are planets around them (placed by their
//! embeddings, bright when new, faint when old, hollow when replaced or archived), facts in
//! no topic yet are grey dust. `!map` posts it into the room, `!map <topic>` zooms into one
//! topic with its facts written out, `threeam map` writes the same PNG to a file.
//!
//! Files: [`layout`] (projection, alignment with the last map, placement; pure), [`draw`]
//! (painting; pure), [`positions`] (the `map_positions` table), [`build`] (reading the
//! memory and putting it together).

pub mod build;
pub mod cli;
pub mod draw;
pub mod layout;
pub mod positions;

pub use build::{MapError, MapImage, MapOutcome, draw as draw_map, find_topic};
