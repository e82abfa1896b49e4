//! `threeam doctor` and start-up configuration errors, run as the real binary.

use std::process::Command;

use crate::common::stack_env;

fn dead_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

fn threeam(args: &[&str], env: &[(&str, String)]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_threeam"));
    cmd.args(args)
        .current_dir(dir.path())
        .env("THREEAM_CONFIG", dir.path().join("none.toml"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("THREEAM_")) {
        cmd.env_remove(k);
    }
    cmd.env("THREEAM_MATRIX_STORE_PATH", dir.path().join("store"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The stack's full environment, with a migrated database of the test's own.
async fn stack(db_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("THREEAM_DATABASE_URL", db_url.to_owned()),
        (
            "THREEAM_MATRIX_HOMESERVER_URL",
            stack_env("THREEAM_MATRIX_HOMESERVER_URL"),
        ),
        (
            "THREEAM_MATRIX_USER_ID",
            stack_env("THREEAM_MATRIX_USER_ID"),
        ),
        (
            "THREEAM_MATRIX_PASSWORD",
            stack_env("THREEAM_MATRIX_PASSWORD"),
        ),
        (
            "THREEAM_MATRIX_ALLOWED_USERS",
            stack_env("THREEAM_DEMO_USER"),
        ),
        // The small model keeps the check fast; doctor asks it for three tokens.
        ("THREEAM_LLM_CHAT_URL", stack_env("THREEAM_TEST_SMOL_URL")),
        (
            "THREEAM_LLM_EMBEDDING_URL",
            stack_env("THREEAM_LLM_EMBEDDING_URL"),
        ),
    ]
}

fn line<'a>(text: &'a str, check: &str) -> &'a str {
    text.lines()
        .find(|l| l.split_whitespace().nth(1) == Some(check))
        .unwrap_or_else(|| panic!("no {check} line in:\n{text}"))
}

#[tokio::test]
async fn doctor_is_green_on_the_stack_and_names_what_is_down() {
    let db = crate::common::db::TestDb::empty().await;
    let env = stack(&db.url).await;

    let (ok, text) = threeam(&["migrate"], &env);
    assert!(ok, "{text}");
    let (ok, text) = threeam(&["doctor"], &env);
    assert!(ok, "doctor should pass on the stack:\n{text}");
    for check in [
        "config",
        "database",
        "pgvector",
        "schema",
        "homeserver",
        "chat",
        "embedding",
    ] {
        assert!(line(&text, check).starts_with("ok"), "{text}");
    }
    assert!(line(&text, "embedding").contains("384-d"));
    assert!(line(&text, "chat").contains("logprobs"));

    // The chat model server is down.
    let mut down = env.clone();
    down.retain(|(k, _)| *k != "THREEAM_LLM_CHAT_URL");
    down.push(("THREEAM_LLM_CHAT_URL", dead_url()));
    let (ok, text) = threeam(&["doctor"], &down);
    assert!(!ok);
    let chat = line(&text, "chat");
    assert!(
        chat.starts_with("FAIL")
            && chat.contains("chat model server")
            && chat.contains("scripts/stack up chat"),
        "{text}"
    );
    assert!(line(&text, "embedding").starts_with("ok"));
    assert!(line(&text, "database").starts_with("ok"));

    // The database is down.
    let mut down = env.clone();
    down.retain(|(k, _)| *k != "THREEAM_DATABASE_URL");
    let dead = dead_url().replace("http://", "postgres://u:p@");
    down.push(("THREEAM_DATABASE_URL", format!("{dead}/db")));
    let (ok, text) = threeam(&["doctor"], &down);
    assert!(!ok);
    let dbl = line(&text, "database");
    assert!(
        dbl.starts_with("FAIL")
            && dbl.contains("PostgreSQL")
            && dbl.contains("scripts/stack up postgres"),
        "{text}"
    );
    assert!(line(&text, "chat").starts_with("ok"));

    // The embedding server is down, and the homeserver refuses a wrong password.
    let mut down = env.clone();
    down.retain(|(k, _)| *k != "THREEAM_LLM_EMBEDDING_URL" && *k != "THREEAM_MATRIX_PASSWORD");
    down.push(("THREEAM_LLM_EMBEDDING_URL", dead_url()));
    down.push(("THREEAM_MATRIX_PASSWORD", "wrong".into()));
    let (ok, text) = threeam(&["doctor"], &down);
    assert!(!ok);
    assert!(
        line(&text, "embedding").contains("embedding server")
            && line(&text, "embedding").contains("scripts/stack up embed"),
        "{text}"
    );
    assert!(line(&text, "homeserver").contains("rejected"), "{text}");

    // An unmigrated database is reported with the command that fixes it.
    let fresh = crate::common::db::TestDb::empty().await;
    let mut env2 = env.clone();
    env2.retain(|(k, _)| *k != "THREEAM_DATABASE_URL");
    env2.push(("THREEAM_DATABASE_URL", fresh.url.clone()));
    let (ok, text) = threeam(&["doctor"], &env2);
    assert!(!ok);
    assert!(line(&text, "schema").contains("threeam migrate"), "{text}");
}

#[test]
fn bad_configuration_stops_with_one_line_naming_the_key() {
    let (ok, text) = threeam(&["migrate"], &[]);
    assert!(!ok);
    assert!(
        text.contains("config.toml") || text.contains("none.toml"),
        "{text}"
    );
    let (ok, text) = threeam(
        &["migrate"],
        &[("THREEAM_DATABASE_URL", "mysql://x".into())],
    );
    assert!(!ok);
    let err: Vec<&str> = text.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(err.len(), 1, "{text}");
    assert!(
        err[0].contains("database.url") && err[0].contains("fix:"),
        "{text}"
    );
    let (ok, text) = threeam(
        &["run"],
        &[
            (
                "THREEAM_DATABASE_URL",
                "postgres://u:p@127.0.0.1:1/db".into(),
            ),
            ("THREEAM_LLM_CHAT_URL", "http://127.0.0.1:1".into()),
        ],
    );
    assert!(!ok);
    assert!(
        text.contains("llm.embedding_url") && text.contains("fix:"),
        "{text}"
    );
}
