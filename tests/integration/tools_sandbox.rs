//! The tool sandbox against hostile code: each case is a tool (a module with `run(args)`)
//! that tries to get out, run with no static scan in front, exactly as a tool runs
//! (bubblewrap, rlimits, deadline, output cap). Each must be stopped or find nothing; a benign
//! tool must work. Needs `bwrap` (the Debian package `bubblewrap`, which `scripts/stack up`
//! installs when run as root).

use std::time::Duration;

use serde_json::{Value, json};
use threeam::tools::sandbox::{Limits, Outcome, Sandbox};

fn sandbox() -> Sandbox {
    Sandbox::locate(Limits {
        wall: Duration::from_secs(6),
        cpu_seconds: 2,
        ..Limits::default()
    })
    .expect("bubblewrap and /usr/bin/python3 (run scripts/stack up as root)")
}

/// Whether this kernel offers Landlock (the shim then applies it to every run).
fn kernel_has_landlock() -> bool {
    // landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) returns the ABI.
    // SAFETY: the version query reads no memory.
    unsafe { libc::syscall(444, std::ptr::null::<u8>(), 0usize, 1u32) > 0 }
}

async fn run(code: &str, input: Value) -> Outcome {
    sandbox().run(code, &input).await.unwrap().outcome
}

/// What the escape returned, if it returned at all (`None`: raised or stopped).
async fn returned(code: &str) -> Option<Value> {
    match run(code, Value::Null).await {
        Outcome::Returned(v) => Some(v),
        _ => None,
    }
}

#[tokio::test]
async fn a_benign_tool_works_and_its_exception_is_reported() {
    let days = run(
        "import datetime\n\
         def run(args):\n    \
             a = datetime.date.fromisoformat(args['from'])\n    \
             b = datetime.date.fromisoformat(args['to'])\n    \
             return {'days': (b - a).days}\n",
        json!({"from": "2026-01-01", "to": "2026-11-30"}),
    )
    .await;
    assert_eq!(days, Outcome::Returned(json!({"days": 333})));
    let csv = run(
        "import csv, io\ndef run(args):\n    return list(csv.DictReader(io.StringIO(args)))\n",
        json!("name,age\nAda,36\n"),
    )
    .await;
    assert_eq!(
        csv,
        Outcome::Returned(json!([{"name": "Ada", "age": "36"}]))
    );
    let raised = run("def run(args):\n    return 1 / 0\n", Value::Null).await;
    assert!(
        matches!(&raised, Outcome::Raised(e) if e.starts_with("ZeroDivisionError")),
        "{raised:?}"
    );
}

#[tokio::test]
async fn no_network_no_dns() {
    for code in [
        // The database of the stack, on the host's loopback.
        "import socket\ndef run(a):\n    socket.create_connection(('127.0.0.1', 55432), timeout=2)\n    return 'connected'\n",
        "import socket\ndef run(a):\n    return socket.getaddrinfo('example.org', 80)\n",
        "import socket\ndef run(a):\n    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n    s.sendto(b'x', ('1.1.1.1', 53))\n    return s.recv(10).hex()\n",
        "import urllib.request\ndef run(a):\n    return urllib.request.urlopen('http://127.0.0.1:18008/', timeout=2).status\n",
    ] {
        assert_eq!(returned(code).await, None, "{code}");
    }
}

#[tokio::test]
async fn nothing_of_the_bot_is_readable() {
    let root = env!("CARGO_MANIFEST_DIR");
    let code = format!(
        "import os, glob\n\
         def run(a):\n    \
             seen = {{}}\n    \
             for p in ['{root}/.stack/secrets', '{root}/.stack/env', '{root}/config.toml', '/etc/passwd', '/etc/shadow', '/root/.cargo/config.toml', '/proc/1/environ', '/proc/self/environ', '/proc/1/cmdline']:\n        \
                 try:\n            \
                     seen[p] = open(p, 'rb').read()[:200].decode('latin-1')\n        \
                 except Exception as e:\n            \
                     seen[p] = type(e).__name__\n    \
             seen['env'] = dict(os.environ)\n    \
             try:\n        \
                 seen['listing'] = sorted(os.listdir('/'))\n        \
                 seen['procs'] = sorted(p for p in os.listdir('/proc') if p.isdigit())\n    \
             except OSError as e:\n        \
                 seen['listing'] = seen['procs'] = type(e).__name__\n    \
             return seen\n"
    );
    let seen = returned(&code).await.expect("it runs");
    let text = seen.to_string();
    for secret in [
        "THREEAM",
        "PG_BOT_PASSWORD",
        "postgres://",
        "root:",
        "threeam run",
    ] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    let landlock = kernel_has_landlock();
    let mut env = json!({"LANG": "C.UTF-8", "PWD": "/tmp"});
    if landlock {
        env["LANDLOCK"] = json!("full");
    }
    assert_eq!(seen["env"], env);
    assert_eq!(seen[format!("{root}/.stack/secrets")], "FileNotFoundError");
    if landlock {
        // Landlock allows /usr, /tool, /tmp and two devices: not /proc, not even `/`.
        for p in ["/proc/1/environ", "/proc/self/environ", "/proc/1/cmdline"] {
            assert_eq!(seen[p], "PermissionError", "{p}");
        }
        assert_eq!(seen["listing"], "PermissionError");
    } else {
        // Only the sandbox's own processes: bubblewrap's init and the tool.
        assert!(
            seen["procs"].as_array().unwrap().len() <= 3,
            "{}",
            seen["procs"]
        );
    }
}

#[tokio::test]
async fn no_writes_outside_its_scratch_space_and_small_files_there() {
    for code in [
        "def run(a):\n    open('/usr/evil', 'w').write('x')\n    return 'wrote'\n",
        "def run(a):\n    open('/tool/tool.py', 'w').write('x')\n    return 'wrote'\n",
        "def run(a):\n    open('/tmp/big', 'wb').write(b'x' * (8 << 20))\n    return 'wrote'\n",
        "import os\ndef run(a):\n    os.symlink('/usr', '/tmp/u')\n    open('/tmp/u/evil', 'w').write('x')\n    return 'wrote'\n",
    ] {
        assert_eq!(returned(code).await, None, "{code}");
    }
}

#[tokio::test]
async fn bombs_loops_and_floods_are_stopped() {
    let fork_bomb = "import os, time\n\
         def run(a):\n    \
             n = 0\n    \
             for i in range(5000):\n        \
                 if os.fork() == 0:\n            \
                     time.sleep(3)\n            \
                     os._exit(0)\n        \
                 n += 1\n    \
             return n\n";
    assert!(
        returned(fork_bomb)
            .await
            .is_none_or(|n| n.as_u64() < Some(32)),
        "the fork bomb got far"
    );
    let cases = [
        ("def run(a):\n    while True:\n        pass\n", "CPU"),
        (
            "def run(a):\n    x = []\n    while True:\n        x.append(bytearray(10**7))\n",
            "memory",
        ),
        ("def run(a):\n    return 'x' * 10**7\n", "output"),
        (
            "import time\ndef run(a):\n    time.sleep(60)\n",
            "longer than",
        ),
        (
            "import sys\ndef run(a):\n    sys.stdout.write('y' * 10**7)\n    return 1\n",
            "output",
        ),
    ];
    for (code, why) in cases {
        match run(code, Value::Null).await {
            Outcome::Stopped(reason) => assert!(reason.contains(why), "{code}: {reason}"),
            other => panic!("{code}: not stopped: {other:?}"),
        }
    }
}

#[tokio::test]
async fn python_escape_tricks_find_only_the_sandbox() {
    let root = env!("CARGO_MANIFEST_DIR");
    for code in [
        // A subclass walk to a shell.
        format!(
            "def run(a):\n    w = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0]\n    return w.__init__.__globals__['popen']('cat {root}/.stack/secrets').read()\n"
        ),
        // ctypes straight to libc's system().
        format!(
            "import ctypes\ndef run(a):\n    return ctypes.CDLL(None).system(b'cat {root}/.stack/secrets > /tmp/x') and open('/tmp/x').read()\n"
        ),
        // importlib, __builtins__ and frame globals.
        format!(
            "import importlib\ndef run(a):\n    return importlib.import_module('os').popen('ls {root}').read()\n"
        ),
        format!(
            "def run(a):\n    b = run.__globals__['__builtins__']\n    return b.open('{root}/.stack/env').read()\n"
        ),
        format!(
            "import sys\ndef run(a):\n    return sys._getframe(1).f_globals['__builtins__'].open('{root}/Cargo.toml').read()\n"
        ),
        // Signals to everything it can see, then a look at the bot's files.
        format!(
            "import os, signal\ndef run(a):\n    try:\n        os.kill(-1, signal.SIGKILL)\n    except Exception:\n        pass\n    return os.listdir('{root}')\n"
        ),
        // mmap of a file of the bot.
        format!(
            "import mmap\ndef run(a):\n    f = open('{root}/Cargo.toml', 'rb')\n    return mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)[:50].decode()\n"
        ),
    ] {
        let out = returned(&code)
            .await
            .map(|v| v.to_string())
            .unwrap_or_default();
        for leak in [
            "PG_BOT_PASSWORD",
            "THREEAM",
            "[package]",
            "Cargo.toml",
            "src",
        ] {
            assert!(!out.contains(leak), "{code}\n leaked {leak}: {out}");
        }
    }
    // The test process (and so a bot) survived the signals.
    assert_eq!(
        run("def run(a):\n    return 'still here'\n", Value::Null).await,
        Outcome::Returned(json!("still here"))
    );
}

#[tokio::test]
async fn more_escape_tricks_find_only_the_sandbox() {
    let root = env!("CARGO_MANIFEST_DIR");
    let cases = [
        // A format string reaching module globals.
        "import os\ndef run(a):\n    return '{0.__init__.__globals__[os].environ}'.format(__import__('tempfile').TemporaryDirectory)\n".to_owned(),
        // A decorator that runs while the module is imported, before run().
        format!("import os\ndef grab(f):\n    os.system('cat {root}/.stack/secrets > /tmp/grab 2>&1')\n    return f\n@grab\ndef run(a):\n    return open('/tmp/grab').read()\n"),
        // A generator's frame globals.
        format!("def run(a):\n    g = (x for x in [1])\n    return g.gi_frame.f_globals['__builtins__']['open']('{root}/.stack/env').read()\n"),
        // Setuid programs: NO_NEW_PRIVS and the user namespace make them plain programs.
        "import os\ndef run(a):\n    return os.popen('/usr/bin/su root -c \"cat /etc/shadow\" 2>&1; /usr/bin/sudo -n id 2>&1').read()\n".to_owned(),
        // The host's PostgreSQL socket, raw and packet sockets, device files.
        "import socket, glob\ndef run(a):\n    out = {'pg': glob.glob('/tmp/*/.s.PGSQL*') + glob.glob('/var/run/postgresql/*')}\n    for fam, kind in [(socket.AF_PACKET, socket.SOCK_RAW), (socket.AF_INET, socket.SOCK_RAW)]:\n        try:\n            socket.socket(fam, kind)\n            out[str(fam)] = 'opened'\n        except OSError as e:\n            out[str(fam)] = type(e).__name__\n    out['dev'] = sorted(glob.glob('/dev/*'))\n    return out\n".to_owned(),
        // Mount and namespace tricks.
        "import ctypes, os\ndef run(a):\n    libc = ctypes.CDLL(None, use_errno=True)\n    r = libc.mount(b'/dev/sda1', b'/tmp/m', b'ext4', 0, None)\n    u = libc.unshare(0x10000000)\n    return [r, u, os.listdir('/proc/self/ns') and open('/proc/self/mountinfo').read()[:2000]]\n".to_owned(),
    ];
    for code in &cases {
        let out = returned(code)
            .await
            .map(|v| v.to_string())
            .unwrap_or_default();
        for leak in [
            "PG_BOT_PASSWORD",
            "THREEAM",
            "root:",
            "uid=0",
            "opened",
            ".s.PGSQL",
            "/dev/mem",
            "/dev/sd",
        ] {
            assert!(!out.contains(leak), "{code}\n leaked {leak}: {out}");
        }
    }
}

/// The seccomp layer: the calls attacks start from fail with EPERM, even where the
/// namespaces alone would allow them (a tool's own sandbox init could be traced before).
#[tokio::test]
async fn the_seccomp_layer_refuses_sockets_ptrace_and_io_uring() {
    let code = "import ctypes, errno, socket\n\
        def run(a):\n    \
            libc = ctypes.CDLL(None, use_errno=True)\n    \
            out = {}\n    \
            try:\n        \
                socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n        \
                out['unix socket'] = 'opened'\n    \
            except OSError as e:\n        \
                out['unix socket'] = errno.errorcode[e.errno]\n    \
            out['ptrace'] = [libc.ptrace(16, 1, 0, 0), errno.errorcode[ctypes.get_errno()]]\n    \
            out['io_uring_setup'] = [libc.syscall(425, 8, None), errno.errorcode[ctypes.get_errno()]]\n    \
            out['unshare'] = [libc.unshare(0x10000000), errno.errorcode[ctypes.get_errno()]]\n    \
            return out\n";
    assert_eq!(
        returned(code).await,
        Some(json!({
            "unix socket": "EPERM",
            "ptrace": [-1, "EPERM"],
            "io_uring_setup": [-1, "EPERM"],
            "unshare": [-1, "EPERM"],
        }))
    );
}

#[tokio::test]
async fn the_landlock_layer_holds_inside_the_namespaces() {
    let code = "import os, socket\n\
        def run(a):\n    \
            out = {'landlock': os.environ.get('LANDLOCK', 'off')}\n    \
            for name, f in [('proc', lambda: open('/proc/self/status').read(1)), ('root', lambda: os.listdir('/')),\n                    ('usr', lambda: open('/usr/lib/os-release').read(1)), ('tmp', lambda: open('/tmp/x', 'w').write('x')),\n                    ('devshm', lambda: open('/dev/shm/x', 'w').write('x')), ('signal_init', lambda: os.kill(1, 0))]:\n        \
                try:\n            \
                    f()\n            \
                    out[name] = 'allowed'\n        \
                except OSError as e:\n            \
                    out[name] = type(e).__name__\n    \
            return out\n";
    let out = returned(code).await.expect("it runs");
    if !kernel_has_landlock() {
        assert_eq!(out["landlock"], "none", "{out}");
        return;
    }
    assert_eq!(
        out,
        json!({"landlock": "full", "proc": "PermissionError", "root": "PermissionError",
               "usr": "allowed", "tmp": "allowed", "devshm": "PermissionError",
               "signal_init": "PermissionError"})
    );
}

#[tokio::test]
async fn the_tools_benchmark_runs_at_a_small_size() {
    let r = threeam::bench::tools::run(3).await.unwrap();
    assert_eq!(r.runs, 3);
    assert!(r.bare.0 > 0.0 && r.sandboxed.0 > 0.0, "{r:?}");
    assert!(r.table().contains("trivial tool in the sandbox"));
}

#[tokio::test]
async fn the_landlock_shim_works_from_a_directory_the_sandbox_user_cannot_enter() {
    // A checkout under /root, say: the sandbox runs as `nobody` when the bot is root, and
    // bubblewrap binds the binary by descriptor, not by path.
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let bin = dir.path().join("threeam");
    std::fs::copy(env!("CARGO_BIN_EXE_threeam"), &bin).unwrap();
    let tool = dir.path().join("tool.py");
    std::fs::write(
        &tool,
        "import os\ndef run(a):\n    return os.environ.get('LANDLOCK', 'off')\n",
    )
    .unwrap();
    // A fork elsewhere in this test process may briefly hold the copy's write descriptor
    // ("Text file busy"): try again for a moment.
    let mut tries = 0;
    let out = loop {
        match tokio::process::Command::new(&bin)
            .args(["tools", "sandbox-run"])
            .arg(&tool)
            .output()
            .await
        {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 50 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            other => break other.unwrap(),
        }
    };
    let said = String::from_utf8_lossy(&out.stdout);
    let want = if kernel_has_landlock() {
        "\"full\""
    } else {
        "\"none\""
    };
    assert_eq!(
        said.trim(),
        want,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn what_a_tool_prints_does_not_spoil_its_result() {
    let out = run(
        "print('loading')\ndef run(args):\n    print('working on', args)\n    return args['x'] * 2\n",
        json!({"x": 21}),
    )
    .await;
    assert_eq!(out, Outcome::Returned(json!(42)));
}
