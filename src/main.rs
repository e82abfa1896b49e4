#![recursion_limit = "256"]

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use threeam::config::Config;

#[derive(Parser)]
#[command(
    name = "threeam",
    version,
    about = "3AM: a personal AI assistant that lives in your Matrix chat"
)]
struct Cli {
    /// Configuration file (environment variables THREEAM_* override it).
    #[arg(
        long,
        global = true,
        default_value = "config.toml",
        env = "THREEAM_CONFIG"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the bot: apply migrations, connect to Matrix, answer until SIGINT/SIGTERM.
    Run,
    /// Apply database migrations and exit.
    Migrate,
    /// Check the database, homeserver, chat and embedding servers; one line per check.
    Doctor,
    /// A terminal Matrix client: talk to the bot as the demo user (or another account).
    Client(threeam::client::terminal::ClientArgs),
    /// Torque Clustering of a file of points (one row per point, whitespace-separated; gzip allowed).
    Cluster(threeam::cluster::cli::ClusterArgs),
    /// The night cycle: show each user's schedule, or run it now (`--now`).
    Night {
        /// Run the night now (resumes an unfinished night, or runs a finished one again).
        #[arg(long)]
        now: bool,
        /// Only this user (default: every user).
        #[arg(long)]
        user: Option<String>,
    },
    /// The morning digest: show when it is due, or print the latest (`--now`).
    Digest {
        /// Print the latest digest (the running bot delivers it at the digest time).
        #[arg(long)]
        now: bool,
        #[arg(long)]
        user: Option<String>,
    },
    /// Print what the bot would read from a web page (its readable text), or why it refuses
    /// it, through the same checks the gate's search uses (`web.fetch_private` included).
    Fetch {
        /// An http(s) URL.
        url: String,
    },
    /// Save everything 3AM knows (of every user, or of one) to a file: facts with their
    /// embeddings and history, topics, profiles, experience, tools, research, approvals.
    Backup {
        /// The file to write (gzip when it ends in `.gz`); made readable by you only.
        #[arg(long)]
        out: PathBuf,
        /// Only this user.
        #[arg(long)]
        user: Option<String>,
    },
    /// Restore a backup into this database (stop the bot first). A user who is already
    /// here is refused unless `--replace`.
    Restore {
        file: PathBuf,
        /// Erase the backup's users' data here first, then restore theirs.
        #[arg(long)]
        replace: bool,
    },
    /// Re-embed every fact with the configured embedding model (after changing it): new
    /// vectors are kept aside until all are done, then swapped in at once; an interrupted
    /// run resumes.
    Reembed {
        /// Facts per embedding request.
        #[arg(long, default_value_t = 64)]
        batch: usize,
    },
    /// Draw a user's memory map as a PNG (what `!map` posts in the chat).
    Map {
        /// The user (a Matrix id, e.g. @ada:example.org).
        #[arg(long)]
        user: String,
        /// Where to write the PNG.
        #[arg(long, default_value = "map.png")]
        out: PathBuf,
        /// Zoom into this topic (its name, or a part of it only one topic has).
        #[arg(long)]
        topic: Option<String>,
    },
    /// Self-made tools.
    Tools {
        #[command(subcommand)]
        what: Tools,
    },
    /// Benchmarks that print ratios against a baseline run in the same process.
    Bench {
        #[command(subcommand)]
        what: Bench,
    },
}

#[derive(Subcommand)]
enum Tools {
    /// Run a Python file exactly as a tool runs (its `run(args)` in the OS sandbox) and print
    /// its JSON result, or why the sandbox stopped it.
    SandboxRun {
        file: PathBuf,
        /// The arguments, as JSON.
        #[arg(long, default_value = "null")]
        input: String,
    },
    /// Inside the sandbox only: apply the Landlock ruleset, then become PROGRAM.
    #[command(hide = true)]
    SandboxExec {
        #[arg(trailing_var_arg = true, required = true)]
        program: Vec<std::ffi::OsString>,
    },
}

#[derive(Subcommand)]
enum Bench {
    /// Memory retrieval latency p50/p95 at growing fact counts (embedding call timed apart).
    Retrieval {
        #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
        sizes: Vec<usize>,
    },
    /// LoCoMo evidence recall: replay each conversation into memory, retrieve for each question.
    Locomo {
        /// The LoCoMo JSON file: `data/locomo10.json` from github.com/snap-research/locomo
        /// (non-commercial licence), or a subset of it in the same format.
        #[arg(long)]
        data: PathBuf,
        #[arg(long, value_delimiter = ',', default_value = "5,10")]
        k: Vec<usize>,
        /// Extract facts with the chat model instead of storing one fact per turn.
        #[arg(long)]
        extract: bool,
    },
    /// Idle-hours research with the configured chat model on a saved web (with injected
    /// pages): findings, hits, injected statements kept, model calls and time per topic.
    Research {
        /// Only these topics (e.g. "comets"); all when none.
        #[arg(long)]
        only: Vec<String>,
        /// Print every finding.
        #[arg(long)]
        verbose: bool,
        /// Only serve the saved web (a SearxNG-shaped `/search` and its pages) at this
        /// address until stopped, to try research in the chat: point `web.search_url` at it.
        #[arg(long)]
        serve: Option<std::net::SocketAddr>,
    },
    /// The tool sandbox's start-up cost: a trivial tool against a bare `python3 -c pass`.
    Tools {
        #[arg(long, default_value_t = 100)]
        runs: usize,
    },
    /// The bot's own overhead per chat turn (event to first byte at the model server), p50/p95.
    Turn {
        #[arg(long, default_value_t = 300)]
        turns: usize,
    },
    /// Many people chatting with the bot at once, end to end on the configured homeserver
    /// (the bot as its own process, the scripted model): turn time against an encrypted
    /// person-to-person hop, memory, and checks that nothing is lost or mixed.
    Load {
        #[arg(long, default_value_t = 20)]
        users: usize,
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// The decision gate's cost with the configured model: rule share, draft time vs answer time.
    Gate {
        /// Passes over the built-in mix of 20 messages.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// One night cycle over a synthetic day, against the configured model servers: LLM calls
    /// and wall time per stage (in a throwaway database).
    Night {
        #[arg(long, default_value_t = 200)]
        exchanges: usize,
    },
    /// Scripted people talk to the configured model over several days (real turns, real
    /// nights, throwaway database): echo, recall, extraction, care and latency, as a table.
    Conversation {
        /// Only these personas (comma-separated names); all by default.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Only the live test's subset.
        #[arg(long)]
        live: bool,
        /// Print every exchange as it happens.
        #[arg(long, short)]
        verbose: bool,
    },
    /// The memory map: projection, alignment, placement and painting at growing fact
    /// counts, against a blank picture.
    Map {
        #[arg(long, value_delimiter = ',', default_value = "100,1000,10000")]
        sizes: Vec<usize>,
        /// Write the largest map here, to look at.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Torque Clustering: the MST fast path against the literal O(n^2) method.
    Cluster {
        /// Folder holding the sipu/fcps/graves data sets (d31 is read from it).
        #[arg(long)]
        data: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Inside a tool's sandbox: no runtime, no logging, nothing but the ruleset and the exec.
    if let Command::Tools {
        what: Tools::SandboxExec { program },
    } = &cli.command
    {
        let err = threeam::tools::landlock::exec(&program[0], &program[1..]);
        eprintln!("sandbox-exec: {err}");
        return ExitCode::from(126);
    }
    init_tracing(matches!(cli.command, Command::Client(_)));
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run => {
            let cfg = Config::load(&cli.config)?;
            let shutdown = tokio_util::sync::CancellationToken::new();
            threeam::app::cancel_on_signals(shutdown.clone());
            threeam::app::run(cfg, Default::default(), shutdown).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let cfg = Config::load(&cli.config)?;
            let pool = connect_migrated(&cfg).await?;
            let state = threeam::db::schema_state(&pool).await?;
            println!("migrations applied: {}/{}", state.applied, state.known);
            Ok(ExitCode::SUCCESS)
        }
        Command::Client(args) => {
            threeam::client::terminal::run(args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Cluster(args) => {
            threeam::cluster::cli::run(&args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            what: Bench::Retrieval { sizes },
        } => {
            let cfg = Config::load(&cli.config)?;
            cfg.validate_database()?;
            let llm = threeam::llm::LlmClient::new(&cfg.llm)?;
            threeam::bench::retrieval::bench_retrieval(&cfg.database.url, &llm, &sizes).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            what: Bench::Locomo { data, k, extract },
        } => {
            let cfg = Config::load(&cli.config)?;
            cfg.validate_database()?;
            let mut llm_cfg = cfg.llm.clone();
            llm_cfg.embedding_batch = llm_cfg.embedding_batch.max(64);
            let llm = threeam::llm::LlmClient::new(&llm_cfg)?;
            threeam::bench::locomo::bench_locomo(&cfg.database.url, &llm, &data, &k, extract)
                .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            what:
                Bench::Conversation {
                    only,
                    live,
                    verbose,
                },
        } => {
            let cfg = Config::load(&cli.config)?;
            let opts = threeam::bench::conversation::Options {
                only,
                live_subset: live,
                verbose,
            };
            let report = threeam::bench::conversation::run(&cfg, &opts).await?;
            println!("{}", report.table());
            let failures = report.failures();
            if !failures.is_empty() {
                println!("Failed checks:\n{failures}");
            }
            println!("{}", report.summary());
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            what:
                Bench::Research {
                    only,
                    verbose,
                    serve,
                },
        } => {
            if let Some(addr) = serve {
                let base = threeam::bench::research::serve_on(addr).await?;
                println!(
                    "Serving the saved web at {base} (search: {base}/search?q=comets&format=json). Ctrl-C stops."
                );
                tokio::signal::ctrl_c().await?;
                return Ok(ExitCode::SUCCESS);
            }
            let cfg = Config::load(&cli.config)?;
            cfg.validate_database()?;
            cfg.validate_llm()?;
            let report = threeam::bench::research::run(&cfg, &only).await?;
            println!("{}", report.table());
            if verbose {
                println!("{}", report.listing());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            what: Bench::Tools { runs },
        } => {
            let report = threeam::bench::tools::run(runs).await?;
            println!("{}", report.table());
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            what: Bench::Turn { turns },
        } => {
            let cfg = Config::load(&cli.config)?;
            threeam::bench::turn::run(&cfg, turns).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            what: Bench::Load { users, seconds },
        } => {
            let cfg = Config::load(&cli.config)?;
            let ok = threeam::bench::load::run(&cfg, users, seconds).await?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Tools {
            what: Tools::SandboxExec { .. },
        } => unreachable!("handled before the runtime starts"),
        Command::Tools {
            what: Tools::SandboxRun { file, input },
        } => {
            let code = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let input: serde_json::Value =
                serde_json::from_str(&input).context("--input is not JSON")?;
            let sandbox = threeam::tools::sandbox::Sandbox::locate(
                threeam::tools::sandbox::Limits::default(),
            )?;
            let run = sandbox.run(&code, &input).await?;
            let ms = run.duration.as_millis();
            Ok(match run.outcome {
                threeam::tools::sandbox::Outcome::Returned(v) => {
                    println!("{v}");
                    eprintln!("returned in {ms} ms");
                    ExitCode::SUCCESS
                }
                threeam::tools::sandbox::Outcome::Raised(e) => {
                    println!("the tool raised {e}");
                    ExitCode::FAILURE
                }
                threeam::tools::sandbox::Outcome::Stopped(why) => {
                    println!("the sandbox stopped it: {why} (after {ms} ms)");
                    ExitCode::FAILURE
                }
            })
        }
        Command::Night { now, user } => {
            let cfg = Config::load(&cli.config)?;
            let ok = threeam::night::cli::night(&cfg, now, user.as_deref()).await?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Digest { now, user } => {
            let cfg = Config::load(&cli.config)?;
            threeam::night::cli::digest(&cfg, now, user.as_deref()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            what: Bench::Night { exchanges },
        } => {
            let cfg = Config::load(&cli.config)?;
            cfg.validate_database()?;
            cfg.validate_llm()?;
            let llm = threeam::llm::LlmClient::new(&cfg.llm)?;
            threeam::bench::night::run(&cfg.database.url, &llm, exchanges).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            what: Bench::Gate { rounds },
        } => {
            let cfg = Config::load(&cli.config)?;
            threeam::bench::gate::run(&cfg, rounds).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            what: Bench::Cluster { data },
        } => {
            threeam::cluster::cli::bench(data.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { out, user } => {
            let cfg = Config::load(&cli.config)?;
            let pool = connect_migrated(&cfg).await?;
            let backup = threeam::backup::take(&pool, user.as_deref()).await?;
            threeam::backup::write(&backup, &out)?;
            println!(
                "{}: {} user(s), {} rows, schema {}",
                out.display(),
                backup.users.len(),
                backup.rows(),
                backup.schema
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore { file, replace } => {
            let cfg = Config::load(&cli.config)?;
            let pool = connect_migrated(&cfg).await?;
            let backup = threeam::backup::read(&file)?;
            let done = threeam::backup::restore(&pool, &backup, replace).await?;
            println!(
                "restored {} rows of {}{}",
                done.rows,
                done.users.join(", "),
                if done.replaced.is_empty() {
                    String::new()
                } else {
                    format!(" (replacing what was here of {})", done.replaced.join(", "))
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Reembed { batch } => {
            let cfg = Config::load(&cli.config)?;
            cfg.validate_llm()?;
            let pool = connect_migrated(&cfg).await?;
            let llm = threeam::llm::LlmClient::new(&cfg.llm)?;
            let model = llm.model(threeam::llm::ServerKind::Embedding).await?;
            eprintln!(
                "re-embedding every fact with {model} ({})",
                cfg.llm.embedding_url
            );
            let bar =
                indicatif::ProgressBar::new(0).with_style(indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} facts, {per_sec}, {eta} left",
                )?);
            let done = threeam::memory::reembed::reembed(&pool, &llm, batch, None, |n, total| {
                bar.set_length(total);
                bar.set_position(n);
            })
            .await?;
            bar.finish();
            println!(
                "re-embedded {} facts this run; {} new vectors now in use",
                done.embedded, done.swapped
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Map { user, out, topic } => {
            let cfg = Config::load(&cli.config)?;
            let said = threeam::map::cli::write(&cfg, &user, topic.as_deref(), &out).await?;
            println!("{said}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            what: Bench::Map { sizes, out },
        } => {
            threeam::bench::map::run(&sizes, out.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Fetch { url } => {
            let cfg = Config::load(&cli.config)?;
            let (http, limits) = threeam::research::page_fetcher(cfg.web.fetch_private)?;
            match threeam::research::fetch_readable(&http, &url, &limits).await {
                Ok(page) => {
                    println!("# {}\n{}\n", page.title, page.url);
                    println!("{}", page.text);
                    if page.truncated {
                        println!("\n(cut at {} characters)", limits.max_text_chars);
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("not read: {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Doctor => {
            let cfg = Config::load(&cli.config)?;
            let report = threeam::doctor::run(&cfg).await;
            print!("{report}");
            Ok(if report.all_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

fn init_tracing(quiet: bool) {
    use tracing_subscriber::EnvFilter;
    // The terminal client's screen is the conversation; only real problems belong there.
    let default = if quiet {
        "warn,matrix_sdk=off,matrix_sdk_crypto=off,matrix_sdk_base=off"
    } else {
        // The SDK logs expected 404s (absent account data) at ERROR from its HTTP client.
        "info,matrix_sdk=warn,matrix_sdk::http_client=off,matrix_sdk_crypto=warn,matrix_sdk_crypto::backups=error,matrix_sdk_base=warn,sqlx=warn"
    };
    let filter = EnvFilter::try_from_env("THREEAM_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

/// The configured database, migrated to this build's schema.
async fn connect_migrated(cfg: &Config) -> anyhow::Result<sqlx::PgPool> {
    cfg.validate_database()?;
    // DbError says which step failed: reaching the server or applying migrations.
    Ok(
        threeam::db::connect_migrated(&cfg.database.url, 2, std::time::Duration::from_secs(10))
            .await?,
    )
}
