//! Self-made tools: small Python programs the assistant writes for what the model cannot do
//! reliably (arithmetic on dates, converting CSV…), each stage approved by the owner. This
//! first part is the boundary they run behind: the OS [`sandbox`], with its [`seccomp`]
//! filter.

pub mod call;
pub mod concept;
pub mod draft;
pub mod gaps;
pub mod landlock;
pub mod present;
pub mod probe;
pub mod sandbox;
pub mod scan;
pub mod seccomp;
