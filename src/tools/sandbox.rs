//! The OS sandbox that self-made tools run in: the boundary, never the bot's process.
//!
//! Each run is a fresh `python3 -I -S` (isolated mode: no user site, no environment
//! variables read; no `site` import) started by bubblewrap with every namespace unshared
//! (no network, its own PIDs, IPC, UTS and cgroup), `--die-with-parent` and a new session
//! (no signals or terminal tricks towards the bot), all capabilities dropped, an empty
//! environment, and a file system of its own: read-only `/usr` (Python and its standard
//! library) with the usual `/bin`, `/lib` links, a fresh `/proc` and minimal `/dev`, a small
//! tmpfs for `/tmp`, and the tool's code read-only at `/tool`. Nothing of the bot is there:
//! not its config, its database, its Matrix store or its environment.
//!
//! Before Python starts, the child gets resource limits: CPU seconds, address space,
//! processes, file size and open files; and the bot kills it after a wall-clock deadline and
//! stops reading after an output cap. Input is JSON on stdin, the result JSON on stdout: the
//! tool is a module with a function `run(args)`, called by a fixed harness.
//!
//! A static scan of the code is advice for the person approving it; this is what holds.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The fixed harness: reads the arguments, calls the tool's `run`, prints the result as JSON.
/// The result is the last line: what the tool itself prints comes before it (and counts
/// towards the output cap), so a stray `print` cannot spoil the result.
/// A tool's exception is reported as its error, with the exception's type and message only.
/// The process limit is set here, inside the sandbox, before the tool is imported: the kernel
/// then counts it within the sandbox's user namespace. Set on bubblewrap instead, it would
/// also count the bot's own threads (every process of the bot's user), and a busy bot could
/// not start a sandbox at all.
const HARNESS: &str = r#"import json, resource, sys
resource.setrlimit(resource.RLIMIT_NPROC, ({NPROC}, {NPROC}))
sys.path.insert(0, "/tool")
args = json.loads(sys.stdin.read() or "null")
try:
    import tool
    result = tool.run(args)
    out = {"ok": result}
except BaseException as e:
    out = {"error": type(e).__name__ + ": " + str(e)[:500]}
sys.stdout.write("\n" + json.dumps(out))
"#;

/// The descriptor bubblewrap reads the seccomp program from.
const SECCOMP_FD: i32 = 10;

/// The process limit bubblewrap starts under: every process and thread of the bot's user.
const HOST_PROCESSES: u64 = 4096;

/// The unprivileged user a sandbox started by root runs as.
const NOBODY: u32 = 65534;

/// How much a run may take.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub wall: Duration,
    pub cpu_seconds: u64,
    pub memory_bytes: u64,
    /// Processes (and threads) in the sandbox, the interpreter included.
    pub processes: u64,
    pub file_bytes: u64,
    pub open_files: u64,
    /// Bytes of output read; a tool that writes more is stopped.
    pub output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            wall: Duration::from_secs(10),
            cpu_seconds: 5,
            memory_bytes: 256 << 20,
            processes: 16,
            file_bytes: 1 << 20,
            open_files: 64,
            output_bytes: 64 << 10,
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The tool returned this value.
    Returned(Value),
    /// The tool raised an exception (type and message).
    Raised(String),
    /// The sandbox stopped it, and why, in plain words.
    Stopped(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub outcome: Outcome,
    pub duration: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(
        "bubblewrap (`bwrap`) is not installed: tools are disabled (install the Debian package `bubblewrap`; `scripts/stack up` does it when run as root)"
    )]
    NoBubblewrap,
    #[error("no Python at {0}: tools are disabled")]
    NoPython(PathBuf),
    #[error("could not start the sandbox: {0}")]
    Start(#[source] std::io::Error),
}

/// Runs tools in the sandbox.
#[derive(Debug, Clone)]
pub struct Sandbox {
    bwrap: PathBuf,
    python: PathBuf,
    /// The `threeam` binary that applies Landlock inside ([`super::landlock`]), if found.
    shim: Option<PathBuf>,
    pub limits: Limits,
}

impl Sandbox {
    /// Finds bubblewrap and the system Python (`/usr/bin/python3`, inside the read-only
    /// `/usr` the sandbox sees).
    pub fn locate(limits: Limits) -> Result<Self, SandboxError> {
        let bwrap = ["/usr/bin/bwrap", "/bin/bwrap"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .ok_or(SandboxError::NoBubblewrap)?;
        let python = PathBuf::from("/usr/bin/python3");
        if !python.exists() {
            return Err(SandboxError::NoPython(python));
        }
        Ok(Sandbox {
            bwrap,
            python,
            shim: shim().and_then(reachable),
            limits,
        })
    }

    /// The bubblewrap arguments for a run with the tool's directory `tool_dir`.
    fn arguments(&self, tool_dir: &Path, with_seccomp: bool) -> Vec<String> {
        let mut a: Vec<String> = [
            "--unshare-all",
            // A user namespace always (also when the bot runs as root), with an unprivileged
            // user inside: the process limit then applies to it.
            "--unshare-user",
            "--uid",
            "65534",
            "--gid",
            "65534",
            "--die-with-parent",
            "--new-session",
            "--cap-drop",
            "ALL",
            "--clearenv",
            "--ro-bind",
            "/usr",
            "/usr",
            "--symlink",
            "usr/bin",
            "/bin",
            "--symlink",
            "usr/lib",
            "/lib",
            "--symlink",
            "usr/lib64",
            "/lib64",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--size",
            "4194304",
            "--tmpfs",
            "/tmp",
            "--chdir",
            "/tmp",
            "--setenv",
            "LANG",
            "C.UTF-8",
        ]
        .map(String::from)
        .to_vec();
        if with_seccomp {
            a.extend(["--seccomp".into(), SECCOMP_FD.to_string()]);
        }
        a.extend([
            "--ro-bind".into(),
            tool_dir.display().to_string(),
            "/tool".into(),
        ]);
        if let Some(shim) = &self.shim {
            a.extend([
                "--ro-bind".into(),
                shim.display().to_string(),
                super::landlock::SHIM_PATH.into(),
                "--".into(),
                super::landlock::SHIM_PATH.into(),
                "tools".into(),
                "sandbox-exec".into(),
            ]);
        }
        a.extend([
            "--".into(),
            self.python.display().to_string(),
            "-I".into(),
            "-S".into(),
            "/tool/harness.py".into(),
        ]);
        a
    }

    /// Runs `code` (a module defining `run(args)`) with `input`. One run at a time: the
    /// kernel counts the process limit over every sandbox of the same host user, so a tool
    /// that forks to its limit would otherwise starve a tool running beside it.
    pub async fn run(&self, code: &str, input: &Value) -> Result<Run, SandboxError> {
        static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        let _turn = ONE_AT_A_TIME.lock().await;
        // The last sandbox's processes die just after it ends (the kernel tears its PID
        // namespace down on its own time): a start refused for want of processes is tried
        // again for a moment.
        let mut tries = 0;
        loop {
            let run = self.run_once(code, input).await?;
            tries += 1;
            let starved = matches!(&run.outcome, Outcome::Stopped(why)
                if why.contains("bwrap:") && why.contains("Resource temporarily unavailable"));
            if !starved || tries >= 40 {
                return Ok(run);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn run_once(&self, code: &str, input: &Value) -> Result<Run, SandboxError> {
        let dir = tempfile::tempdir().map_err(SandboxError::Start)?;
        std::fs::write(dir.path().join("tool.py"), code).map_err(SandboxError::Start)?;
        let harness = HARNESS.replace("{NPROC}", &self.limits.processes.to_string());
        std::fs::write(dir.path().join("harness.py"), harness).map_err(SandboxError::Start)?;
        readable_by_all(dir.path()).map_err(SandboxError::Start)?;

        // The seccomp program goes to bubblewrap through a pipe (it is small: the pipe holds
        // it whole), read end at SECCOMP_FD in the child.
        let filter = match super::seccomp::program() {
            Some(bytes) => Some(filter_pipe(&bytes).map_err(SandboxError::Start)?),
            None => None,
        };
        let filter_fd = filter.as_ref().map(std::os::fd::AsRawFd::as_raw_fd);
        let mut cmd = tokio::process::Command::new(&self.bwrap);
        cmd.args(self.arguments(dir.path(), filter_fd.is_some()))
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // Root is exempt from the process limit (and more): a bot running as root starts the
        // sandbox as `nobody`.
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            cmd.uid(NOBODY).gid(NOBODY);
        }
        let limits = self.limits.clone();
        // SAFETY: between fork and exec only async-signal-safe calls (setrlimit, prctl).
        unsafe {
            cmd.pre_exec(move || {
                if let Some(fd) = filter_fd {
                    inherit_at(fd, SECCOMP_FD)?;
                }
                apply_limits(&limits)
            });
        }
        let started = Instant::now();
        let mut child = cmd.spawn().map_err(SandboxError::Start)?;
        drop(filter);
        let mut stdin = child.stdin.take().expect("piped");
        let mut stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        // What the sandbox itself says when it cannot start (read beside stdout, capped).
        let errors = tokio::spawn(async move {
            let mut buf = Vec::new();
            let _ = (&mut stderr).take(4096).read_to_end(&mut buf).await;
            String::from_utf8_lossy(&buf).into_owned()
        });
        let body = serde_json::to_vec(input).unwrap_or_else(|_| b"null".to_vec());
        let cap = self.limits.output_bytes;
        let work = async {
            // A tool that never reads its input must not block the bot's write.
            let _ = stdin.write_all(&body).await;
            drop(stdin);
            let mut out = Vec::new();
            let mut chunk = [0u8; 8192];
            loop {
                match stdout.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        out.extend_from_slice(&chunk[..n]);
                        if out.len() > cap {
                            return Err(format!("it wrote more than {cap} bytes of output"));
                        }
                    }
                }
            }
            let status = child.wait().await.map_err(|e| e.to_string())?;
            Ok((status, out))
        };
        let result = tokio::time::timeout(self.limits.wall, work).await;
        let duration = started.elapsed();
        let outcome = match result {
            Err(_) => Outcome::Stopped(format!(
                "it ran longer than {} s",
                self.limits.wall.as_secs()
            )),
            Ok(Err(reason)) => Outcome::Stopped(reason),
            Ok(Ok((status, out))) => {
                let said = errors.await.unwrap_or_default();
                judge(status, &out, &self.limits, &said)
            }
        };
        // Whatever is left of the sandbox dies with bubblewrap (`--die-with-parent`).
        let _ = child.start_kill();
        let _ = child.wait().await;
        Ok(Run { outcome, duration })
    }
}

/// The `threeam` binary for the Landlock shim: this program when it is `threeam`, else the
/// `threeam` beside it or one directory up (a test binary in `target/debug/deps`).
fn shim() -> Option<PathBuf> {
    let me = std::env::current_exe().ok()?;
    if me.file_name().is_some_and(|n| n == "threeam") {
        return Some(me);
    }
    let dir = me.parent()?;
    [dir.join("threeam"), dir.parent()?.join("threeam")]
        .into_iter()
        .find(|p| p.is_file())
}

/// The shim where the sandbox's user can reach it. A bot running as root starts the sandbox
/// as `nobody`, who cannot enter a checkout under `/root`: the binary is then copied once
/// into a directory of its own that anyone may read (measured: bubblewrap refused the path
/// with "Permission denied", and binding it by descriptor fails the same way).
fn reachable(shim: PathBuf) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || open_to_all(&shim) {
        return Some(shim);
    }
    static COPY: std::sync::OnceLock<Option<(tempfile::TempDir, PathBuf)>> =
        std::sync::OnceLock::new();
    COPY.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("threeam-shim-")
            .tempdir()
            .ok()?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).ok()?;
        let copy = dir.path().join("threeam");
        std::fs::copy(&shim, &copy).ok()?;
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).ok()?;
        Some((dir, copy))
    })
    .as_ref()
    .map(|(_, copy)| copy.clone())
}

/// Whether anyone may execute `path` and enter every directory above it.
fn open_to_all(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.permissions().mode())
            .unwrap_or(0)
    };
    mode(path) & 0o001 != 0 && path.ancestors().skip(1).all(|d| mode(d) & 0o001 != 0)
}

/// What a finished run's exit status and output mean.
fn judge(status: std::process::ExitStatus, out: &[u8], limits: &Limits, stderr: &str) -> Outcome {
    use std::os::unix::process::ExitStatusExt;
    // bubblewrap reports its child's death by signal N as exit status 128 + N.
    let signal = status.signal().or_else(|| {
        status
            .code()
            .filter(|c| (129..160).contains(c))
            .map(|c| c - 128)
    });
    if let Some(signal) = signal {
        return Outcome::Stopped(match signal {
            libc::SIGXCPU | libc::SIGKILL => {
                format!("it used more than {} s of CPU", limits.cpu_seconds)
            }
            libc::SIGXFSZ => "it wrote a file larger than allowed".into(),
            libc::SIGSEGV | libc::SIGABRT => "it crashed (out of memory?)".into(),
            s => format!("it was stopped by signal {s}"),
        });
    }
    let last = out
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(out, |i| &out[i + 1..]);
    match serde_json::from_slice::<Value>(last) {
        Ok(Value::Object(mut m)) if m.contains_key("ok") => {
            Outcome::Returned(m.remove("ok").unwrap_or(Value::Null))
        }
        Ok(Value::Object(m)) if m.contains_key("error") => {
            let e = m["error"].as_str().unwrap_or("an error").to_owned();
            if e.starts_with("MemoryError") {
                Outcome::Stopped(format!(
                    "it needed more than {} MiB of memory",
                    limits.memory_bytes >> 20
                ))
            } else {
                Outcome::Raised(e)
            }
        }
        _ => {
            // bubblewrap's own complaints start with "bwrap:"; a tool's traceback is its own.
            let sandbox_said = stderr
                .lines()
                .find(|l| l.starts_with("bwrap:"))
                .map(|l| format!(": {l}"))
                .unwrap_or_default();
            Outcome::Stopped(format!(
                "it ended without a result (exit status {}){sandbox_said}",
                status.code().unwrap_or(-1)
            ))
        }
    }
}

/// A pipe holding `bytes`, its write end closed; returns the read end (close-on-exec: only
/// its copy at SECCOMP_FD reaches bubblewrap).
fn filter_pipe(bytes: &[u8]) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::io::Write;
    let (read, write) = std::io::pipe()?;
    let mut write = write;
    write.write_all(bytes)?;
    drop(write);
    Ok(read.into())
}

/// Makes `fd` open at `target` across exec. `dup2` onto itself is a no-op that keeps
/// close-on-exec, so a pipe that happened to open at `target` would be closed before
/// bubblewrap reads it ("Can't read seccomp data: Bad file descriptor"); it is cleared
/// instead. Async-signal-safe: called between fork and exec.
fn inherit_at(fd: i32, target: i32) -> std::io::Result<()> {
    // SAFETY: plain descriptor calls on descriptors this process owns.
    let done = unsafe {
        if fd == target {
            libc::fcntl(fd, libc::F_SETFD, 0)
        } else {
            libc::dup2(fd, target)
        }
    };
    if done < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn readable_by_all(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    for entry in std::fs::read_dir(dir)? {
        std::fs::set_permissions(entry?.path(), std::fs::Permissions::from_mode(0o644))?;
    }
    Ok(())
}

/// In the child, before bubblewrap starts: the limits it and everything under it inherit,
/// and no way to gain privileges.
fn apply_limits(l: &Limits) -> std::io::Result<()> {
    let set = |resource, value: u64| {
        let lim = libc::rlimit {
            rlim_cur: value as libc::rlim_t,
            rlim_max: value as libc::rlim_t,
        };
        // SAFETY: setrlimit with a valid pointer to a local struct.
        if unsafe { libc::setrlimit(resource, &lim) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    };
    set(libc::RLIMIT_CPU, l.cpu_seconds)?;
    set(libc::RLIMIT_AS, l.memory_bytes)?;
    // A bound for the bot's user as a whole; the sandbox's own limit is set inside it (see
    // HARNESS).
    set(libc::RLIMIT_NPROC, HOST_PROCESSES.max(l.processes))?;
    set(libc::RLIMIT_FSIZE, l.file_bytes)?;
    set(libc::RLIMIT_NOFILE, l.open_files)?;
    set(libc::RLIMIT_CORE, 0)?;
    // SAFETY: prctl with constant arguments.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    fn keeps_across_exec(fd: i32) -> bool {
        // SAFETY: reading the flags of a descriptor this test owns.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        flags >= 0 && flags & libc::FD_CLOEXEC == 0
    }

    #[test]
    fn a_descriptor_already_at_its_place_is_still_inherited() {
        let (read, _write) = std::io::pipe().unwrap();
        // A close-on-exec copy at a number nothing else uses, as a pipe would be made.
        // SAFETY: duplicating a descriptor this test owns.
        let at = unsafe { libc::fcntl(read.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 900) };
        assert!(at >= 900);
        assert!(!keeps_across_exec(at));
        inherit_at(at, at).unwrap();
        assert!(
            keeps_across_exec(at),
            "dup2 onto itself left close-on-exec set"
        );
        let target = at + 1;
        inherit_at(at, target).unwrap();
        assert!(keeps_across_exec(target));
        // SAFETY: closing the copies this test made.
        unsafe {
            libc::close(at);
            libc::close(target);
        }
    }
}
