//! `threeam bench night` (filled in below).
