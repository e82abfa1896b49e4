//! Messages that arrive before their key. An encrypted message the bot cannot decrypt yet
//! (its megolm session key has not reached this device: a slow to-device message, a key
//! sent after the event, a forwarded or backed-up key) is noted by its session id. When a
//! key for that session arrives, the message is fetched again, decrypted and answered like
//! any other. If no key comes within a minute (`Timing::key_patience`), the person is told
//! plainly, once, and asked to send it again. Pure bookkeeping here; `bot.rs` does the
//! Matrix side.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// At most this many messages wait at once (the oldest is dropped first).
const CAPACITY: usize = 1000;

/// A message waiting for its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub room_id: String,
    pub event_id: String,
    pub sender: String,
    pub session_id: String,
    since: Instant,
}

/// The messages waiting for keys.
#[derive(Debug, Default)]
pub struct Pending {
    waiting: VecDeque<Waiting>,
}

impl Pending {
    /// Notes a message that could not be decrypted; false if it was already noted.
    pub fn note(
        &mut self,
        room_id: &str,
        event_id: &str,
        sender: &str,
        session_id: &str,
        now: Instant,
    ) -> bool {
        if self.waiting.iter().any(|w| w.event_id == event_id) {
            return false;
        }
        if self.waiting.len() == CAPACITY {
            self.waiting.pop_front();
        }
        self.waiting.push_back(Waiting {
            room_id: room_id.to_owned(),
            event_id: event_id.to_owned(),
            sender: sender.to_owned(),
            session_id: session_id.to_owned(),
            since: now,
        });
        true
    }

    /// The messages of `room_id` a key for `session_id` opens, no longer waiting.
    pub fn opened(&mut self, room_id: &str, session_id: &str) -> Vec<Waiting> {
        let (open, keep): (Vec<Waiting>, Vec<Waiting>) = self
            .waiting
            .drain(..)
            .partition(|w| w.room_id == room_id && w.session_id == session_id);
        self.waiting = keep.into();
        open
    }

    /// Puts a message back (its fetch failed), keeping when it started waiting.
    pub fn put_back(&mut self, w: Waiting) {
        if !self.waiting.iter().any(|x| x.event_id == w.event_id) {
            self.waiting.push_back(w);
        }
    }

    /// The messages that waited longer than `patience`, no longer waiting.
    pub fn expired(&mut self, now: Instant, patience: Duration) -> Vec<Waiting> {
        let (gone, keep): (Vec<Waiting>, Vec<Waiting>) = self
            .waiting
            .drain(..)
            .partition(|w| now.duration_since(w.since) >= patience);
        self.waiting = keep.into();
        gone
    }

    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_opens_only_its_rooms_messages_of_that_session() {
        let t = Instant::now();
        let mut p = Pending::default();
        assert!(p.note("!a", "$1", "@ada", "s1", t));
        assert!(!p.note("!a", "$1", "@ada", "s1", t), "noted once");
        p.note("!a", "$2", "@ada", "s2", t);
        p.note("!b", "$3", "@bob", "s1", t);
        let open = p.opened("!a", "s1");
        assert_eq!(
            open.iter().map(|w| w.event_id.as_str()).collect::<Vec<_>>(),
            ["$1"]
        );
        assert_eq!(p.len(), 2);
        assert!(p.opened("!a", "s1").is_empty());
    }

    #[test]
    fn messages_that_wait_too_long_are_given_up_once() {
        let t = Instant::now();
        let mut p = Pending::default();
        p.note("!a", "$1", "@ada", "s1", t);
        p.note("!a", "$2", "@ada", "s2", t + Duration::from_secs(50));
        let patience = Duration::from_secs(60);
        let gone = p.expired(t + Duration::from_secs(61), patience);
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].event_id, "$1");
        assert!(p.expired(t + Duration::from_secs(61), patience).is_empty());
        let w = p.opened("!a", "s2").pop().unwrap();
        p.put_back(w.clone());
        p.put_back(w);
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn the_oldest_is_dropped_when_full() {
        let t = Instant::now();
        let mut p = Pending::default();
        for i in 0..CAPACITY + 1 {
            p.note("!a", &format!("${i}"), "@ada", "s", t);
        }
        assert_eq!(p.len(), CAPACITY);
        assert!(p.opened("!a", "s").iter().all(|w| w.event_id != "$0"));
    }
}
