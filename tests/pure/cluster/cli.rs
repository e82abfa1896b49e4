//! `threeam cluster` as seen from the command line.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Parser;
use threeam::cluster::Metric;
use threeam::cluster::cli::{ClusterArgs, write_run};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: ClusterArgs,
}

fn args(file: &Path) -> ClusterArgs {
    ClusterArgs {
        file: file.to_owned(),
        metric: Metric::Euclidean,
        k: None,
        noise: false,
        json: false,
        truth: None,
    }
}

fn run(args: &ClusterArgs) -> anyhow::Result<(String, String)> {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    write_run(args, &mut out, &mut err)?;
    Ok((String::from_utf8(out)?, String::from_utf8(err)?))
}

const POINTS: &str = "0 0\n0.5 0\n# a comment\n\n10 0\n0 0.4\n10.5 0\n10 0.6\n";
const TRUTH: &str = "1\n1\n2\n1\n2\n2\n";

fn write(dir: &Path, name: &str, text: &str, gzip: bool) -> PathBuf {
    let path = dir.join(name);
    let mut file = std::fs::File::create(&path).unwrap();
    if gzip {
        let mut encoder = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap();
    } else {
        file.write_all(text.as_bytes()).unwrap();
    }
    path
}

#[test]
fn plain_output_is_one_label_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "points.txt", POINTS, false);
    let (out, err) = run(&args(&file)).unwrap();
    assert_eq!(out, "1\n1\n2\n1\n2\n2\n");
    assert!(err.is_empty());
}

#[test]
fn gzip_is_recognised_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let plain = write(dir.path(), "points.txt", POINTS, false);
    let packed = write(dir.path(), "points.data", POINTS, true);
    assert_eq!(run(&args(&packed)).unwrap(), run(&args(&plain)).unwrap());
}

#[test]
fn json_output_with_scores() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "points.txt", POINTS, false);
    let truth = write(dir.path(), "truth.gz", TRUTH, true);
    let (out, _) = run(&ClusterArgs {
        json: true,
        truth: Some(truth),
        ..args(&file)
    })
    .unwrap();
    let value: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(value["n"], 6);
    assert_eq!(value["k"], 2);
    assert_eq!(value["cut"], 1);
    assert!(value["seconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(value["labels"], serde_json::json!([1, 1, 2, 1, 2, 2]));
    assert_eq!(value["nmi"], 1.0);
    assert_eq!(value["ami"], 1.0);
}

#[test]
fn plain_scores_go_to_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "points.txt", POINTS, false);
    let truth = write(dir.path(), "truth.txt", "1\n1\n1\n2\n2\n2\n", false);
    let (out, err) = run(&ClusterArgs {
        truth: Some(truth),
        ..args(&file)
    })
    .unwrap();
    assert_eq!(out.lines().count(), 6);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(
        lines[0].starts_with("nmi 0.") && lines[1].starts_with("ami "),
        "{err}"
    );
}

#[test]
fn forced_count_and_noise_flags_reach_the_algorithm() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "points.txt", POINTS, false);
    let (out, _) = run(&ClusterArgs {
        k: Some(6),
        ..args(&file)
    })
    .unwrap();
    assert_eq!(out, "1\n2\n3\n4\n5\n6\n");
}

#[test]
fn bad_input_is_reported_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "bad.txt", "1 2\n3 x\n", false);
    let message = run(&args(&file)).unwrap_err().to_string();
    assert!(
        message.contains(":2:") && message.contains("\"x\""),
        "{message}"
    );

    let ragged = write(dir.path(), "ragged.txt", "1 2\n3\n", false);
    assert!(run(&args(&ragged)).is_err());

    let points = write(dir.path(), "points.txt", POINTS, false);
    let short = write(dir.path(), "short.txt", "1\n2\n", false);
    let message = run(&ClusterArgs {
        truth: Some(short),
        ..args(&points)
    })
    .unwrap_err()
    .to_string();
    assert!(message.contains("2 labels"), "{message}");

    assert!(run(&args(&dir.path().join("missing.txt"))).is_err());
}

#[test]
fn arguments_parse_as_documented() {
    let cli = Cli::parse_from([
        "threeam",
        "data.gz",
        "--metric",
        "cosine",
        "--k",
        "4",
        "--noise",
        "--json",
        "--truth",
        "labels.gz",
    ]);
    assert_eq!(
        cli.args,
        ClusterArgs {
            file: "data.gz".into(),
            metric: Metric::Cosine,
            k: Some(4),
            noise: true,
            json: true,
            truth: Some("labels.gz".into()),
        }
    );
    let defaults = Cli::parse_from(["threeam", "data.txt"]).args;
    assert_eq!(defaults, args(Path::new("data.txt")));
    assert!(Cli::try_parse_from(["threeam", "x", "--metric", "manhattan"]).is_err());
}
