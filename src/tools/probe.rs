//! The start-up probe: before any tool runs, a probe tool proves the sandbox holds on this
//! machine. It must return a value, find no network (a connect fails), see no host files
//! (`/etc`, `/home`, the bot's working directory), and a fork bomb must be cut by the process
//! limit. If any of that fails, tools stay disabled and `doctor` and `!tools` say why (fail
//! closed). Whether the Landlock layer is on is reported beside it ([`Proven::landlock`]).

use serde_json::{Value, json};

use super::sandbox::{Limits, Outcome, Sandbox, SandboxError};

/// How to make the sandbox work, for the messages.
pub const FIX: &str = "install bubblewrap and python3 (Debian: `apt-get install bubblewrap \
     python3`; `scripts/stack up` does it as root) and allow unprivileged user namespaces";

const PROBE: &str = r#"import os, socket
def run(a):
    out = {"sum": sum(a)}
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=1)
        out["net"] = True
    except OSError:
        out["net"] = False
    out["outside"] = any(os.path.exists(p) for p in ("/etc/passwd", "/home", "/root", "/var"))
    n = 0
    try:
        for _ in range(200):
            if os.fork() == 0:
                os._exit(0)
            n += 1
    except OSError:
        pass
    out["forks_cut"] = n < 200
    out["landlock"] = os.environ.get("LANDLOCK", "off")
    return out
"#;

/// A sandbox proven to hold, with what the probe measured.
#[derive(Debug, Clone)]
pub struct Proven {
    pub sandbox: Sandbox,
    pub millis: u128,
    /// How much of the Landlock layer the kernel enforced: `full`, `partial`, `none`, or
    /// `off` (no `threeam` binary to apply it).
    pub landlock: String,
}

/// Finds the sandbox and runs the probe; `Err` says in plain words why tools are disabled.
pub async fn probe(limits: Limits) -> Result<Proven, String> {
    let sandbox = Sandbox::locate(limits).map_err(|e: SandboxError| e.to_string())?;
    let run = sandbox
        .run(PROBE, &json!([1, 2, 3]))
        .await
        .map_err(|e| e.to_string())?;
    judge(&run.outcome)?;
    let landlock = match &run.outcome {
        Outcome::Returned(v) => v["landlock"].as_str().unwrap_or("off").to_owned(),
        _ => "off".to_owned(),
    };
    Ok(Proven {
        sandbox,
        millis: run.duration.as_millis(),
        landlock,
    })
}

/// What the probe's result says about the isolation.
fn judge(outcome: &Outcome) -> Result<(), String> {
    let v = match outcome {
        Outcome::Returned(v) => v,
        Outcome::Raised(e) => return Err(format!("the isolation probe failed: {e}")),
        Outcome::Stopped(why) => return Err(format!("the isolation probe was stopped: {why}")),
    };
    let want = |k: &str, good: Value| v.get(k) == Some(&good);
    if !want("sum", json!(6)) {
        return Err(format!("the isolation probe returned {v}"));
    }
    if !want("net", json!(false)) {
        return Err("the sandbox reached the network".into());
    }
    if !want("outside", json!(false)) {
        return Err("the sandbox sees the host's files".into());
    }
    if !want("forks_cut", json!(true)) {
        return Err("the process limit did not stop a fork bomb".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_fails_closed() {
        let ok = json!({"sum": 6, "net": false, "outside": false, "forks_cut": true});
        assert_eq!(judge(&Outcome::Returned(ok.clone())), Ok(()));
        for (k, bad) in [
            ("net", json!(true)),
            ("outside", json!(true)),
            ("forks_cut", json!(false)),
            ("sum", json!(5)),
        ] {
            let mut v = ok.clone();
            v[k] = bad;
            assert!(judge(&Outcome::Returned(v)).is_err(), "{k}");
        }
        let mut v = ok;
        v.as_object_mut().unwrap().remove("net");
        assert!(judge(&Outcome::Returned(v)).is_err());
        assert!(judge(&Outcome::Stopped("x".into())).is_err());
    }
}
