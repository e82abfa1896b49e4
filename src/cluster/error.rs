use thiserror::Error;

/// Why a clustering request was rejected before any work was done.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ClusterError {
    #[error("point data has {len} values, which is not a multiple of the dimension {dim}")]
    Ragged { len: usize, dim: usize },
    #[error("row {row} has {got} values, expected {expected}")]
    RowLength {
        row: usize,
        got: usize,
        expected: usize,
    },
    #[error("points must have at least one dimension")]
    ZeroDimension,
    #[error("row {row} holds a value that is not finite")]
    NotFinite { row: usize },
    #[error("row {row} is the zero vector, which has no cosine distance")]
    ZeroVector { row: usize },
    #[error("more than {max} points are not supported")]
    TooMany { max: usize },
}
