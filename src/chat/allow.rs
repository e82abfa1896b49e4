//! The allow-list: full user ids or glob patterns (`@*:example.org`). Pure. The chat adapter
//! serves only these users, and the night scheduler runs nights and sends digests only for
//! them, so removing someone from the list stops everything for them.

use globset::{Glob, GlobMatcher};

#[derive(Debug, Clone)]
pub struct AllowList {
    matchers: Vec<GlobMatcher>,
}

impl AllowList {
    /// Patterns were validated with the config; an unparsable one is an error here.
    pub fn new(patterns: &[String]) -> Result<Self, globset::Error> {
        let matchers = patterns
            .iter()
            .map(|p| Glob::new(&p.to_lowercase()).map(|g| g.compile_matcher()))
            .collect::<Result<_, _>>()?;
        Ok(Self { matchers })
    }

    pub fn allows(&self, user_id: &str) -> bool {
        let id = user_id.to_lowercase();
        self.matchers.iter().any(|m| m.is_match(&id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_pattern() {
        let a = AllowList::new(&["@demo:localhost".into(), "@*:example.org".into()]).unwrap();
        assert!(a.allows("@demo:localhost"));
        assert!(a.allows("@Demo:localhost"));
        assert!(a.allows("@anyone:example.org"));
        assert!(!a.allows("@demo:localhost.evil"));
        assert!(!a.allows("@eve:localhost"));
        assert!(!a.allows("@x:sub.example.org"));
    }
}
