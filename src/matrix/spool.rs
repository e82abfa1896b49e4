//! Events kept on disk while the database is away. The homeserver considers an event
//! delivered once a sync returned it (the SDK saves the sync position before the handlers
//! run), so an event the database cannot take must be kept somewhere else, or it is gone. The
//! spool is that place: one file per event in a private directory, written completely
//! (temporary file, fsync, rename) before the handler returns, replayed in order once the
//! database is back, and deleted only after the database took it. While anything is spooled,
//! new events queue behind it, so a room's events reach the core in the order they came.
//!
//! Replaying is safe to repeat: the core takes events idempotently by event id.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::assistant::Incoming;

/// File names are the sequence number, zero-padded so they sort in order.
const SUFFIX: &str = "json";
/// A spooled event the core refused for good (not an outage) is kept under this suffix for
/// the operator, out of the replay.
const REFUSED: &str = "refused";

pub struct Spool {
    dir: PathBuf,
    /// The next sequence number; the lock also orders concurrent pushes.
    next: Mutex<u64>,
}

/// One spooled event and where it lies.
pub struct Spooled {
    pub path: PathBuf,
    pub incoming: Incoming,
}

impl Spool {
    /// Opens (creating, owner-only) the spool directory `dir`.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        let next = Self::sequence_numbers(dir)?.last().map_or(0, |n| n + 1);
        Ok(Self {
            dir: dir.to_owned(),
            next: Mutex::new(next),
        })
    }

    fn sequence_numbers(dir: &Path) -> std::io::Result<Vec<u64>> {
        let mut seqs = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let name = entry?.file_name();
            if let Some(seq) = name
                .to_str()
                .and_then(|n| n.strip_suffix(&format!(".{SUFFIX}")))
                .and_then(|n| n.parse().ok())
            {
                seqs.push(seq);
            }
        }
        seqs.sort_unstable();
        Ok(seqs)
    }

    pub fn is_empty(&self) -> bool {
        Self::sequence_numbers(&self.dir).map_or(true, |s| s.is_empty())
    }

    /// Writes `incoming` to disk; when this returns `Ok`, it survives a crash. Returns where.
    pub fn push(&self, incoming: &Incoming) -> std::io::Result<PathBuf> {
        let bytes = serde_json::to_vec(incoming).map_err(std::io::Error::other)?;
        let mut next = self.next.lock().unwrap();
        let path = self.dir.join(format!("{:020}.{SUFFIX}", *next));
        let tmp = path.with_extension("tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(&self.dir)?.sync_all()?;
        *next += 1;
        Ok(path)
    }

    /// Everything spooled, oldest first. A file that does not read back (cut by a full disk)
    /// is set aside rather than blocking the rest.
    pub fn entries(&self) -> std::io::Result<Vec<Spooled>> {
        let mut out = Vec::new();
        for seq in Self::sequence_numbers(&self.dir)? {
            let path = self.dir.join(format!("{seq:020}.{SUFFIX}"));
            let read = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()));
            match read {
                Ok(incoming) => out.push(Spooled { path, incoming }),
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %e, "a spooled event does not read back; set aside");
                    self.set_aside(&path)?;
                }
            }
        }
        Ok(out)
    }

    /// The core took the event: it is no longer needed here.
    pub fn remove(&self, path: &Path) -> std::io::Result<()> {
        std::fs::remove_file(path)
    }

    /// The core refused the event for good: kept beside the spool, out of the replay.
    pub fn set_aside(&self, path: &Path) -> std::io::Result<()> {
        std::fs::rename(path, path.with_extension(REFUSED))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reaction(n: u32) -> Incoming {
        Incoming::Reaction {
            event_id: format!("$r{n}"),
            room_id: "!room:x".into(),
            sender: "@a:x".into(),
            target_event_id: "$t".into(),
            key: "👍".into(),
        }
    }

    fn ids(spool: &Spool) -> Vec<String> {
        spool
            .entries()
            .unwrap()
            .into_iter()
            .map(|s| match s.incoming {
                Incoming::Reaction { event_id, .. } => event_id,
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn events_come_back_in_order_across_a_reopen_and_leave_when_removed() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        assert!(spool.is_empty());
        for n in 0..12 {
            spool.push(&reaction(n)).unwrap();
        }
        // A restart: numbering continues after the highest file left.
        let spool = Spool::open(dir.path()).unwrap();
        spool.push(&reaction(12)).unwrap();
        let expected: Vec<String> = (0..13).map(|n| format!("$r{n}")).collect();
        assert_eq!(ids(&spool), expected);
        for s in spool.entries().unwrap().into_iter().take(12) {
            spool.remove(&s.path).unwrap();
        }
        assert_eq!(ids(&spool), vec!["$r12".to_owned()]);
        let last = spool.entries().unwrap().remove(0);
        spool.remove(&last.path).unwrap();
        assert!(spool.is_empty());
    }

    #[test]
    fn a_damaged_file_is_set_aside_and_the_rest_still_replays() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        spool.push(&reaction(0)).unwrap();
        spool.push(&reaction(1)).unwrap();
        let first = dir.path().join(format!("{:020}.{SUFFIX}", 0));
        std::fs::write(&first, b"{\"Reaction\": {\"event_").unwrap();
        assert_eq!(ids(&spool), vec!["$r1".to_owned()]);
        assert!(first.with_extension(REFUSED).exists());
    }

    #[cfg(unix)]
    #[test]
    fn the_spool_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool");
        let spool = Spool::open(&path).unwrap();
        spool.push(&reaction(0)).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o700);
        assert_eq!(mode(&spool.entries().unwrap()[0].path), 0o600);
    }
}
