//! The systemd unit in `deploy/` is valid (`systemd-analyze verify`, with the unit pointed at
//! this build's binary) and keeps what the tool sandbox needs: user namespaces and netlink
//! allowed, no `PrivateUsers=`, no `SystemCallFilter=` that would take mount and unshare
//! from bubblewrap.

use std::process::Command;

fn unit() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/threeam.service"
    ))
    .expect("deploy/threeam.service")
}

#[test]
fn the_unit_lets_the_tool_sandbox_work() {
    let u = unit();
    let setting = |key: &str| {
        u.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(str::to_owned)
    };
    let namespaces = setting("RestrictNamespaces").expect("RestrictNamespaces is set");
    for ns in ["user", "mnt", "pid", "net", "ipc", "uts", "cgroup"] {
        assert!(
            namespaces.split_whitespace().any(|n| n == ns),
            "{ns} must be allowed"
        );
    }
    assert!(
        setting("RestrictAddressFamilies")
            .unwrap()
            .contains("AF_NETLINK")
    );
    assert_eq!(setting("PrivateUsers"), None);
    assert_eq!(setting("SystemCallFilter"), None);
    assert_eq!(setting("NoNewPrivileges").as_deref(), Some("true"));
}

#[test]
fn systemd_analyze_accepts_the_unit() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        // The check needs systemd's tools; the settings test above still runs.
        eprintln!("systemd-analyze is not installed: unit not verified");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("threeam.service");
    std::fs::write(
        &path,
        unit().replace("/usr/local/bin/threeam", env!("CARGO_BIN_EXE_threeam")),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr).into_owned()
        + String::from_utf8_lossy(&out.stdout).as_ref();
    // Only the unit's own lines count (the host's other units may warn about themselves).
    let about_it: Vec<&str> = said
        .lines()
        .filter(|l| l.contains("threeam.service"))
        .collect();
    assert!(out.status.success() && about_it.is_empty(), "{said}");
}
