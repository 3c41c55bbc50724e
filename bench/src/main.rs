//! `pagebot-bench`: measures `pagebot serve` under load, next to the ceiling of a bare
//! actix-web endpoint that only checks the HMAC, in the same run.
//!
//! Everything stays on loopback and every phase is bounded in time. See BENCHMARKS.md.

mod bodies;
mod ceiling;
mod load;
mod probe;
mod process;
mod report;
mod setup;
mod two_pages;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use pagebot::testing::{FAKE_PAGE_TOKEN, FakeGraph};
use tokio::process::Command;

use crate::bodies::Traffic;
use crate::load::Request;
use crate::probe::Probe;
use crate::process::Server;
use crate::report::{Ceiling, Measured};
use crate::setup::BenchDatabase;

/// The app secret of the bench (loopback only).
const SECRET: &str = "pagebot-bench-secret";

#[derive(Debug, Parser)]
#[command(
    name = "pagebot-bench",
    about = "Load-test pagebot serve against a bare HMAC endpoint"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// How long one Page's event waits while another Page's burst is processed (see
    /// BENCHMARKS.md, "Two Pages: a burst does not starve the other").
    TwoPages(two_pages::TwoPagesArgs),
    /// The ceiling's server (started by the bench itself).
    #[command(hide = true)]
    HmacEndpoint {
        #[arg(long)]
        port: u16,
        #[arg(long)]
        secret: String,
        /// Actix workers (default: one per core, as `pagebot serve`).
        #[arg(long)]
        workers: Option<u16>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Db {
    Sqlite,
    Postgres,
    Both,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The pagebot binary (default: `pagebot` next to this one).
    #[arg(long)]
    pagebot: Option<PathBuf>,
    /// Which databases to run pagebot on.
    #[arg(long, value_enum, default_value = "both")]
    db: Db,
    /// A Postgres URL that may create and drop databases. Without TLS by default: on
    /// loopback it only costs CPU (about 15% of the pipeline's, measured).
    #[arg(
        long,
        default_value = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
    )]
    postgres_url: String,
    /// Seconds of load per measurement.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Connections kept busy at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Webhook requests per second in all, due on a fixed schedule whatever the answers
    /// (open loop; latency counts from when each was due). Without it, each connection
    /// sends as soon as its last request was answered.
    #[arg(long)]
    rate: Option<f64>,
    /// Events per webhook body.
    #[arg(long, default_value_t = 1)]
    batch: u32,
    /// `simple_text` links in the SIMPLE_TEXT chain (the matching one is the last).
    #[arg(long, default_value_t = 1)]
    rules: usize,
    /// Users that talk.
    #[arg(long, default_value_t = 10_000)]
    users: u64,
    /// Users already in the database (with fresh profiles) before the run.
    #[arg(long, default_value_t = 0)]
    seed_users: u64,
    /// Webhook bodies to pre-build per second of load (pagebot cannot reuse them: a mid seen
    /// before is a duplicate). A run that uses them all up stops early and says so.
    #[arg(long, default_value_t = 25_000)]
    bodies_per_sec: usize,
    /// Seconds to wait after the load for the remaining replies.
    #[arg(long, default_value_t = 120)]
    drain_timeout: u64,
    /// PAGEBOT_WORKERS for the server.
    #[arg(long, default_value_t = 256)]
    workers: usize,
    /// PAGEBOT_HTTP_WORKERS for the server, and the ceiling's workers (default: the server's
    /// own, one per core).
    #[arg(long)]
    http_workers: Option<u16>,
    /// Skip the ceiling measurement.
    #[arg(long)]
    no_ceiling: bool,
    /// A label for the result table.
    #[arg(long, default_value = "")]
    label: String,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Cmd::HmacEndpoint {
        port,
        secret,
        workers,
    }) = cli.command
    {
        return Ok(ceiling::serve(port, secret, workers)?);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    if let Some(Cmd::TwoPages(args)) = cli.command {
        return runtime.block_on(two_pages::run(args));
    }
    runtime.block_on(run(cli.run))
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let pagebot = match &args.pagebot {
        Some(path) => path.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("no folder for this binary")?
            .join("pagebot"),
    };
    anyhow::ensure!(
        pagebot.exists(),
        "{} not found: build it with `cargo build --release` (or pass --pagebot)",
        pagebot.display()
    );
    let dir = std::env::temp_dir().join(format!("pagebot-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = measure_all(&args, &pagebot, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn measure_all(
    args: &RunArgs,
    pagebot: &std::path::Path,
    dir: &std::path::Path,
) -> anyhow::Result<()> {
    let duration = Duration::from_secs(args.duration);
    let traffic = Traffic {
        run: std::process::id().to_string(),
        batch: args.batch.max(1),
        users: args.users.max(1),
        seeded_users: args.seed_users,
        secret: SECRET.to_owned(),
    };
    let count = args
        .bodies_per_sec
        .saturating_mul(usize::try_from(args.duration)?.max(1))
        / usize::try_from(traffic.batch)?;
    eprintln!(
        "building {count} signed bodies of {} event(s)...",
        traffic.batch
    );
    let requests = Arc::new(traffic.requests(count.max(1)));
    let probe = Arc::new(Probe::new(requests.len() * traffic.batch as usize));

    let fake = FakeGraph::start().await;
    fake.keep_sent(false);
    {
        let probe = probe.clone();
        fake.on_send(move |body| probe.reply(body));
    }

    let load_before = loadavg();
    let ceiling = if args.no_ceiling {
        None
    } else {
        Some(measure_ceiling(args, &requests, &probe, duration, dir).await?)
    };
    let mut results = Vec::new();
    let dbs: &[Db] = match args.db {
        Db::Both => &[Db::Sqlite, Db::Postgres],
        Db::Sqlite => &[Db::Sqlite],
        Db::Postgres => &[Db::Postgres],
    };
    for db in dbs {
        probe.reset();
        let database = match db {
            Db::Postgres => BenchDatabase::postgres(&args.postgres_url, "run")?,
            _ => {
                let _ = std::fs::remove_file(dir.join("bench.db"));
                BenchDatabase::sqlite(dir)
            }
        };
        let name = if *db == Db::Postgres {
            "postgres"
        } else {
            "sqlite"
        };
        let measured = measure_pagebot(
            args, pagebot, &database, &fake, &requests, &probe, duration, dir,
        )
        .await
        .with_context(|| format!("pagebot on {name}"))?;
        eprintln!("{}", measured.describe(name, ceiling.as_ref()));
        results.push((name, measured));
        drop(database);
    }
    let load_after = loadavg();
    println!(
        "{}",
        report::table(
            &args.label_or_default(),
            ceiling.as_ref(),
            &results,
            &load_before,
            &load_after
        )
    );
    Ok(())
}

async fn measure_ceiling(
    args: &RunArgs,
    requests: &Arc<Vec<Request>>,
    probe: &Arc<Probe>,
    duration: Duration,
    dir: &std::path::Path,
) -> anyhow::Result<Ceiling> {
    let addr = process::free_addr()?;
    let mut command = Command::new(std::env::current_exe()?);
    command
        .arg("hmac-endpoint")
        .arg("--port")
        .arg(addr.port().to_string())
        .arg("--secret")
        .arg(SECRET);
    // As many workers as the pagebot it is the ceiling for.
    if let Some(workers) = args.http_workers {
        command.arg("--workers").arg(workers.to_string());
    }
    let server = Server::start(command, addr, &dir.join("ceiling.log")).await?;
    let before = server.usage();
    let result = load::run(
        addr,
        requests.clone(),
        args.concurrency,
        duration,
        None,
        true,
        probe.clone(),
    )
    .await;
    let after = server.usage();
    server.stop().await;
    let ceiling = Ceiling::new(result, before, after);
    eprintln!("{}", ceiling.describe());
    Ok(ceiling)
}

#[allow(clippy::too_many_arguments)]
async fn measure_pagebot(
    args: &RunArgs,
    pagebot: &std::path::Path,
    database: &BenchDatabase,
    fake: &FakeGraph,
    requests: &Arc<Vec<Request>>,
    probe: &Arc<Probe>,
    duration: Duration,
    dir: &std::path::Path,
) -> anyhow::Result<Measured> {
    let (policy, locales) = setup::write_policy(dir, args.rules)?;
    let addr = process::free_addr()?;
    let mut command = Command::new(pagebot);
    command
        .arg("serve")
        .env("PAGEBOT_BIND", addr.to_string())
        .env("DATABASE_URL", &database.url)
        .env("PAGEBOT_APP_SECRET", SECRET)
        .env("PAGEBOT_VERIFY_TOKEN", "pagebot-bench-verify")
        .env("PAGEBOT_PAGE_TOKEN", FAKE_PAGE_TOKEN)
        .env("PAGEBOT_GRAPH_URL", fake.url())
        .env("PAGEBOT_POLICY", &policy)
        .env("PAGEBOT_LOCALES", &locales)
        .env("PAGEBOT_WORKERS", args.workers.to_string())
        .env("RUST_LOG", "warn");
    if let Some(http_workers) = args.http_workers {
        command.env("PAGEBOT_HTTP_WORKERS", http_workers.to_string());
    }
    let server = Server::start(command, addr, &dir.join("pagebot.log")).await?;
    // The server has created the tables; the users go in before the load.
    if args.seed_users > 0 {
        eprintln!("seeding {} users...", args.seed_users);
        let seeded = Instant::now();
        let url = database.url.clone();
        let users = args.seed_users;
        tokio::task::spawn_blocking(move || setup::seed(&url, users)).await??;
        eprintln!("seeded in {:.1} s", seeded.elapsed().as_secs_f64());
    }
    let profile_calls_before = fake.profile_calls();
    // Postgres's own CPU, when it runs on this machine: the other half of each event's cost.
    let on_postgres = database.url.starts_with("postgres");
    let postgres_cpu = || on_postgres.then(process::local_postgres_cpu).flatten();
    let postgres_before = postgres_cpu();
    // The rest of the machine's cost: this process (load generator and fake Graph), and
    // everything that ran on the machine, to see how close to full the cores were.
    let bench_before = process::own_cpu();
    let machine_before = process::machine_busy();
    let before = server.usage();
    let started = probe.now_us();
    let load = load::run(
        addr,
        requests.clone(),
        args.concurrency,
        duration,
        args.rate,
        false,
        probe.clone(),
    )
    .await;
    let window_end = probe.now_us();
    let after_load = server.usage();
    // Let the pipeline catch up, so that CPU per event counts all the work for each event.
    let expected = usize::try_from(load.events_ok).unwrap_or(usize::MAX);
    let drain_deadline = Instant::now() + Duration::from_secs(args.drain_timeout);
    while probe.replied() < expected && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drained_at = probe.now_us();
    let after_drain = server.usage();
    let postgres_cpu = postgres_before
        .zip(postgres_cpu())
        .map(|(a, b)| b.saturating_sub(a));
    let bench_cpu = process::own_cpu().saturating_sub(bench_before);
    let machine_cpu = machine_before
        .zip(process::machine_busy())
        .map(|(a, b)| b.saturating_sub(a));
    server.stop().await;
    Ok(Measured {
        postgres_cpu,
        bench_cpu,
        machine_cpu,
        load,
        replies: probe.replies(),
        window: (started, window_end),
        drained_at,
        before,
        after_load,
        after_drain,
        profile_calls: fake.profile_calls() - profile_calls_before,
        rejected: fake.rejected().len(),
    })
}

/// /proc/loadavg's first three fields.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

impl RunArgs {
    fn label_or_default(&self) -> String {
        if !self.label.is_empty() {
            return self.label.clone();
        }
        format!(
            "batch {}, {} rule(s), {} users talking, {} seeded, c={}{}, {} s",
            self.batch,
            self.rules,
            self.users,
            self.seed_users,
            self.concurrency,
            self.rate
                .map(|r| format!(", {r} req/s"))
                .unwrap_or_default(),
            self.duration
        )
    }
}
