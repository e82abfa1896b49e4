//! `threeam cluster` and `threeam bench cluster`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};

use super::{Metric, Options, cluster, io, metrics};

/// `threeam cluster FILE [--metric euclidean|cosine] [--k K] [--noise] [--json]
/// [--truth LABELS_FILE]`
///
/// Output on stdout: one label per line, in input order (0 = noise with `--noise`).
/// With `--json`, one object instead:
/// `{"n":…, "k":…, "cut":…, "seconds":…, "labels":[…]}`, where `seconds` times the
/// clustering alone (not reading the file). With `--truth`, NMI and AMI against those
/// labels are added as `"nmi"` and `"ami"` in JSON; in plain mode they go to stderr as
/// `nmi 0.957` / `ami 0.950` lines, so that stdout stays one label per line.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct ClusterArgs {
    /// Points, one whitespace-separated row per line; gzip allowed.
    pub file: PathBuf,
    #[arg(long, value_enum, default_value_t = Metric::Euclidean)]
    pub metric: Metric,
    /// Force this many clusters instead of choosing automatically.
    #[arg(long)]
    pub k: Option<usize>,
    /// Mark points outside their cluster's core as noise (label 0).
    #[arg(long)]
    pub noise: bool,
    /// Print one JSON object instead of one label per line.
    #[arg(long)]
    pub json: bool,
    /// Ground-truth labels (one per line, gzip allowed) to score the result against.
    #[arg(long)]
    pub truth: Option<PathBuf>,
}

/// Runs `threeam cluster`, printing to stdout (and the scores to stderr in plain mode).
pub fn run(args: &ClusterArgs) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let mut out = std::io::BufWriter::new(stdout.lock());
    write_run(args, &mut out, &mut stderr.lock())?;
    out.flush()?;
    Ok(())
}

/// [`run`] with the output streams supplied by the caller.
pub fn write_run(
    args: &ClusterArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<()> {
    let points = io::read_points(&args.file)?;
    let truth = args.truth.as_deref().map(io::read_labels).transpose()?;
    if let Some(truth) = &truth
        && truth.len() != points.len()
    {
        bail!(
            "{} has {} labels but {} has {} points",
            args.truth.as_deref().unwrap_or(Path::new("")).display(),
            truth.len(),
            args.file.display(),
            points.len()
        );
    }
    let options = Options {
        metric: args.metric,
        k: args.k,
        noise: args.noise,
    };
    let started = Instant::now();
    let result = cluster(&points, &options)
        .with_context(|| format!("clustering {}", args.file.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    let scores = truth
        .map(|truth| -> anyhow::Result<(f64, f64)> {
            Ok((
                metrics::nmi(&truth, &result.labels)?,
                metrics::ami(&truth, &result.labels)?,
            ))
        })
        .transpose()?;

    if args.json {
        let mut object = serde_json::json!({
            "n": points.len(),
            "k": result.k,
            "cut": result.cut,
            "seconds": seconds,
            "labels": result.labels,
        });
        if let Some((nmi, ami)) = scores {
            object["nmi"] = nmi.into();
            object["ami"] = ami.into();
        }
        writeln!(out, "{object}")?;
    } else {
        for label in &result.labels {
            writeln!(out, "{label}")?;
        }
        if let Some((nmi, ami)) = scores {
            writeln!(err, "nmi {nmi:.6}")?;
            writeln!(err, "ami {ami:.6}")?;
        }
    }
    Ok(())
}

/// `threeam bench cluster [DATA_ROOT]`: times the fast path against the O(n^2) oracle in
/// the same run and prints a table to stdout. `data_root` holds the published clustering sets
/// (clustering-data-v1; default `../shared/data/clustering`); d31 is read from its `sipu` folder.
pub fn bench(data_root: Option<&Path>) -> anyhow::Result<()> {
    let root = data_root.unwrap_or(Path::new("../shared/data/clustering"));
    anyhow::ensure!(
        root.join("sipu").is_dir(),
        "no clustering benchmark sets at {}: download https://github.com/gagolews/clustering-data-v1 \
         and pass its folder with --data DIR (it holds sipu/, fcps/ and graves/)",
        root.display()
    );
    let stdout = std::io::stdout();
    super::bench::run(root, &mut stdout.lock())
}
