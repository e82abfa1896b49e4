//! The one error type of the memory module. Each variant says which side failed (the
//! database, the model servers, or the caller's input) so the chat layer can decide whether
//! to retry later, tell the user, or just log.

use crate::llm::LlmError;

#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// PostgreSQL refused or lost a query; usually transient (retry later).
    #[error("memory database error: {0}")]
    Db(#[from] sqlx::Error),
    /// The chat or embedding server failed, or its structured answer was not JSON.
    #[error("memory could not use the model: {0}")]
    Llm(#[from] LlmError),
    /// What the caller asked to store is not a usable fact (empty, too long…).
    #[error("not a fact I can store: {0}")]
    InvalidFact(String),
}

impl MemoryError {
    /// Worth retrying later: the database or a model server was unavailable.
    pub fn is_transient(&self) -> bool {
        match self {
            MemoryError::Db(e) => crate::db::is_transient(e),
            MemoryError::Llm(e) => e.is_transient(),
            MemoryError::InvalidFact(_) => false,
        }
    }
}
