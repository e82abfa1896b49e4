//! Long-term memory: facts, hybrid retrieval, and the user's control over them.
