//! The Landlock layer of the tool sandbox: inside bubblewrap, just before Python starts, the
//! `threeam` binary (bound read-only at `/threeam`) restricts itself with a Landlock ruleset
//! and then becomes Python (`threeam tools sandbox-exec -- /usr/bin/python3 …`). The ruleset
//! is the sandbox's file system again, from the kernel's side: read and execute under
//! `/usr`, read `/tool`, read and write `/tmp`, `/dev/null` and `/dev/urandom`; nothing else
//! (not `/proc`, not `/`), no TCP bind or connect, and no signals or abstract sockets out of
//! the sandbox. It is applied after bubblewrap has built the mounts because a process under
//! Landlock may not mount.
//!
//! Landlock is best effort: on a kernel without it (before 5.13) the tool still runs behind
//! bubblewrap and seccomp, and [`STATUS_VAR`] tells the probe, which reports it.

use std::ffi::OsString;

use landlock::{
    ABI, Access, AccessFs, AccessNet, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope,
};

/// The variable the shim sets for the tool: `full`, `partial` or `none`.
pub const STATUS_VAR: &str = "LANDLOCK";

/// Where the shim sits inside the sandbox.
pub const SHIM_PATH: &str = "/threeam";

/// The newest Landlock ABI this ruleset knows; older kernels get what they support.
const ABI_WANTED: ABI = ABI::V6;

/// Restricts this process; how much the kernel enforced.
pub fn restrict() -> Result<&'static str, landlock::RulesetError> {
    let read = AccessFs::from_read(ABI_WANTED);
    let all = AccessFs::from_all(ABI_WANTED);
    let mut created = Ruleset::default()
        .handle_access(all)?
        .handle_access(AccessNet::from_all(ABI_WANTED))?
        .scope(Scope::from_all(ABI_WANTED))?
        .create()?;
    for (path, access) in [
        ("/usr", read),
        ("/tool", read),
        ("/tmp", all),
        ("/dev/null", AccessFs::ReadFile | AccessFs::WriteFile),
        ("/dev/urandom", AccessFs::ReadFile.into()),
    ] {
        // A path the sandbox lacks is simply not allowed.
        if let Ok(fd) = PathFd::new(path) {
            created = created.add_rule(PathBeneath::new(fd, access))?;
        }
    }
    let status = created.restrict_self()?;
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced => "full",
        RulesetStatus::PartiallyEnforced => "partial",
        RulesetStatus::NotEnforced => "none",
    })
}

/// `threeam tools sandbox-exec -- PROGRAM ARGS…`: restrict, then become PROGRAM. Returns
/// only on failure.
pub fn exec(program: &OsString, args: &[OsString]) -> std::io::Error {
    use std::os::unix::process::CommandExt;
    let status = match restrict() {
        Ok(s) => s,
        Err(e) => {
            // A ruleset the kernel refuses outright: fail closed.
            return std::io::Error::other(format!("Landlock: {e}"));
        }
    };
    std::process::Command::new(program)
        .args(args)
        .env(STATUS_VAR, status)
        .exec()
}
