//! `pagebot-bench two-pages`: how long one Page's single event waits while another Page's
//! burst is being processed (issue 21), through the real server and pipeline.
//!
//! Page A's burst (`--burst` events in webhooks of `--batch`, from `--burst-users` users) is
//! posted as fast as the server acknowledges it; as soon as all of it is acknowledged, Page
//! B's events (`--probes` of them, one per webhook, each from a user of its own) follow one
//! every `--probe-every-ms`. Printed: when A's burst was acknowledged and answered, and each of
//! B's events' latency from its post to its reply at the fake Graph; on Postgres with
//! `--pg-stat-statements` (the extension loaded in the server), the claim's calls and their
//! cost as `pg_stat_statements` counted them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use diesel::prelude::*;
use pagebot::testing::{FAKE_PAGE_TOKEN, FakeGraph};
use pagebot::webhook::signature::sign_sha256;
use serde_json::json;
use tokio::process::Command;

use crate::bodies::{PAGE_ID, PSID_BASE};
use crate::load::{self, Request};
use crate::probe::Probe;
use crate::process::{self, Server};
use crate::setup::{self, BenchDatabase};
use crate::{Db, SECRET};

/// Page B, whose few events follow A's burst.
const PAGE_B: &str = "104857600000002";

/// What `two-pages` does.
#[derive(Debug, clap::Args)]
pub struct TwoPagesArgs {
    /// The pagebot binary (default: `pagebot` next to this one).
    #[arg(long)]
    pagebot: Option<std::path::PathBuf>,
    /// The database to run pagebot on (sqlite or postgres).
    #[arg(long, value_enum, default_value = "postgres")]
    db: Db,
    /// A Postgres URL that may create and drop databases.
    #[arg(
        long,
        default_value = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
    )]
    postgres_url: String,
    /// Page A's events.
    #[arg(long, default_value_t = 10_000)]
    burst: u32,
    /// Events per webhook of A's burst.
    #[arg(long, default_value_t = 100)]
    batch: u32,
    /// Users A's burst comes from (event `n` from user `n % burst_users`).
    #[arg(long, default_value_t = 1_000)]
    burst_users: u32,
    /// Page B's events, one per webhook.
    #[arg(long, default_value_t = 10)]
    probes: u32,
    /// Milliseconds between two of B's events.
    #[arg(long, default_value_t = 100)]
    probe_every_ms: u64,
    /// Connections that post A's burst.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// PAGEBOT_WORKERS for the server.
    #[arg(long, default_value_t = 256)]
    workers: usize,
    /// Seconds to wait for the replies after the last post.
    #[arg(long, default_value_t = 120)]
    drain_timeout: u64,
    /// Runs, each on a fresh database and server.
    #[arg(long, default_value_t = 1)]
    runs: u32,
    /// Read the claim's cost from pg_stat_statements (Postgres with the extension loaded).
    #[arg(long)]
    pg_stat_statements: bool,
    /// A label for the printed rows.
    #[arg(long, default_value = "")]
    label: String,
}

/// One run's numbers.
struct Run {
    /// A's burst acknowledged, from its first post (ms).
    burst_acked_ms: f64,
    /// A's last reply, from its first post (ms).
    burst_answered_ms: Option<f64>,
    /// Each of B's events' latency (ms), in posting order; `None`: no reply in time.
    probes_ms: Vec<Option<f64>>,
    /// Of B's events, how many were answered before A's burst was.
    probes_before_burst_end: usize,
    claims: Option<ClaimCost>,
}

/// The claim statement as pg_stat_statements counted it over a run.
#[derive(QueryableByName)]
struct ClaimCost {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    calls: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    rows: i64,
    #[diesel(sql_type = diesel::sql_types::Double)]
    exec_ms: f64,
    #[diesel(sql_type = diesel::sql_types::Double)]
    plan_ms: f64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    blocks: i64,
    /// Every statement's calls in the bench database over the run.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    all_calls: i64,
}

/// Runs `two-pages`.
pub async fn run(args: TwoPagesArgs) -> anyhow::Result<()> {
    let pagebot = match &args.pagebot {
        Some(path) => path.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("no folder for this binary")?
            .join("pagebot"),
    };
    anyhow::ensure!(pagebot.exists(), "{} not found", pagebot.display());
    let dir = std::env::temp_dir().join(format!("pagebot-bench-2p-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut runs = Vec::new();
    let mut failure = None;
    for n in 0..args.runs.max(1) {
        match one_run(&args, &pagebot, &dir, n).await {
            Ok(run) => {
                eprintln!("{}", describe(&args, &run));
                runs.push(run);
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("{}", table(&args, &runs));
    failure.map_or(Ok(()), Err)
}

async fn one_run(
    args: &TwoPagesArgs,
    pagebot: &std::path::Path,
    dir: &std::path::Path,
    n: u32,
) -> anyhow::Result<Run> {
    let burst = requests_for_a(args);
    let probes = requests_for_b(args);
    let events = (args.burst + args.probes) as usize;
    let probe = Arc::new(Probe::new(events));
    let fake = FakeGraph::start().await;
    fake.keep_sent(false);
    {
        let probe = probe.clone();
        fake.on_send(move |body| probe.reply(body));
    }
    let database = match args.db {
        Db::Sqlite => {
            let _ = std::fs::remove_file(dir.join("bench.db"));
            BenchDatabase::sqlite(dir)
        }
        _ => BenchDatabase::postgres(&args.postgres_url, &format!("two_pages_{n}"))?,
    };
    let (policy, locales) = setup::write_policy(dir, 1)?;
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
    let server = Server::start(command, addr, &dir.join("pagebot.log")).await?;
    let stats = match args.pg_stat_statements && matches!(args.db, Db::Postgres) {
        true => Some(StatStatements::reset(&database.url)?),
        false => None,
    };

    // A's burst, as fast as it is acknowledged.
    let started = probe.now_us();
    let posted = load::run(
        addr,
        Arc::new(burst),
        args.concurrency,
        Duration::from_secs(3600),
        None,
        false,
        probe.clone(),
    )
    .await;
    let acked = probe.now_us();
    anyhow::ensure!(
        posted.errors == 0 && posted.events_ok == u64::from(args.burst),
        "A's burst: {} of {} events acknowledged, {} errors",
        posted.events_ok,
        args.burst,
        posted.errors
    );
    // Then B's events, one at a time.
    let mut next_at = Instant::now();
    for request in probes {
        tokio::time::sleep_until(next_at.into()).await;
        next_at += Duration::from_millis(args.probe_every_ms);
        let sent = load::run(
            addr,
            Arc::new(vec![request]),
            1,
            Duration::from_secs(60),
            None,
            false,
            probe.clone(),
        )
        .await;
        anyhow::ensure!(sent.ok == 1, "one of B's events was not acknowledged");
    }
    let deadline = Instant::now() + Duration::from_secs(args.drain_timeout);
    while probe.replied() < events && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let claims = stats.map(|stats| stats.read()).transpose()?;
    server.stop().await;
    drop(database);

    let ms = |us: u64| us as f64 / 1000.0;
    let burst_end = (0..args.burst as usize)
        .filter_map(|seq| probe.answered_at(seq))
        .max();
    let probes_us: Vec<Option<u64>> = (args.burst as usize..events)
        .map(|seq| probe.latency_of(seq))
        .collect();
    let probes_before_burst_end = (args.burst as usize..events)
        .filter(
            |seq| matches!((probe.answered_at(*seq), burst_end), (Some(at), Some(end)) if at < end),
        )
        .count();
    Ok(Run {
        burst_acked_ms: ms(acked - started),
        burst_answered_ms: burst_end
            .filter(|_| (0..args.burst as usize).all(|seq| probe.latency_of(seq).is_some()))
            .map(|end| ms(end - started)),
        probes_ms: probes_us.into_iter().map(|us| us.map(ms)).collect(),
        probes_before_burst_end,
        claims,
    })
}

/// A's burst: events `0..burst`, `batch` per webhook.
fn requests_for_a(args: &TwoPagesArgs) -> Vec<Request> {
    let batch = args.batch.max(1);
    (0..args.burst)
        .step_by(batch as usize)
        .map(|first| {
            let seqs = first..(first + batch).min(args.burst);
            let psids = seqs
                .clone()
                .map(|n| (PSID_BASE + u64::from(n % args.burst_users.max(1))).to_string());
            request(PAGE_ID, seqs.clone().zip(psids).collect(), seqs)
        })
        .collect()
}

/// B's events: `burst..burst + probes`, one per webhook, each from a user of its own (not one
/// of A's: PSIDs differ from Page to Page).
fn requests_for_b(args: &TwoPagesArgs) -> Vec<Request> {
    (args.burst..args.burst + args.probes)
        .map(|n| {
            let psid = (PSID_BASE + 500_000_000 + u64::from(n)).to_string();
            request(PAGE_B, vec![(n, psid)], n..n + 1)
        })
        .collect()
}

/// A signed POST /webhook for `page` with one text `bench n` per `(n, psid)`.
fn request(page: &str, items: Vec<(u32, String)>, seqs: std::ops::Range<u32>) -> Request {
    let base_ms: i64 = 1_700_000_000_000;
    let run = std::process::id();
    let messaging: Vec<_> = items
        .iter()
        .map(|(n, psid)| {
            json!({
                "sender": {"id": psid},
                "recipient": {"id": page},
                "timestamp": base_ms + i64::from(*n),
                "message": {"mid": format!("m_2p_{run}_{n}"), "text": format!("bench {n}")}
            })
        })
        .collect();
    let body = json!({
        "object": "page",
        "entry": [{"id": page, "time": base_ms, "messaging": messaging}]
    })
    .to_string();
    let signature = sign_sha256(SECRET.as_bytes(), body.as_bytes());
    let mut bytes = format!(
        "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         X-Hub-Signature-256: {signature}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    Request { bytes, seqs }
}

/// pg_stat_statements in the bench database.
struct StatStatements {
    url: String,
}

impl StatStatements {
    /// Creates the extension in the database and forgets what it counted so far.
    fn reset(url: &str) -> anyhow::Result<Self> {
        use diesel::connection::SimpleConnection;
        let mut conn = diesel::PgConnection::establish(url)?;
        conn.batch_execute(
            "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset();",
        )
        .context("pg_stat_statements (is it in shared_preload_libraries?)")?;
        Ok(Self {
            url: url.to_owned(),
        })
    }

    /// The claim statement's totals since [`StatStatements::reset`] (before and after the
    /// claim moved: both lease with `attempts = e.attempts + 1`).
    fn read(self) -> anyhow::Result<ClaimCost> {
        let mut conn = diesel::PgConnection::establish(&self.url)?;
        let cost = diesel::sql_query(
            "SELECT COALESCE(sum(calls) FILTER (WHERE claim), 0)::bigint AS calls, \
             COALESCE(sum(rows) FILTER (WHERE claim), 0)::bigint AS rows, \
             COALESCE(sum(total_exec_time) FILTER (WHERE claim), 0)::float8 AS exec_ms, \
             COALESCE(sum(total_plan_time) FILTER (WHERE claim), 0)::float8 AS plan_ms, \
             COALESCE(sum(shared_blks_hit + shared_blks_read) FILTER (WHERE claim), 0)::bigint \
               AS blocks, \
             COALESCE(sum(calls), 0)::bigint AS all_calls \
             FROM (SELECT *, query LIKE '%attempts = e.attempts + 1%' AS claim \
                   FROM pg_stat_statements \
                   WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                     AND query NOT LIKE '%pg_stat_statements%') AS s",
        )
        .get_result(&mut conn)?;
        Ok(cost)
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let at = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[at]
}

fn describe(args: &TwoPagesArgs, run: &Run) -> String {
    let answered: Vec<f64> = run.probes_ms.iter().flatten().copied().collect();
    let mut sorted = answered.clone();
    sorted.sort_by(f64::total_cmp);
    format!(
        "A's {} events acknowledged in {:.0} ms, answered in {}; B's first event {}, B's {} \
         events p50 {:.0} ms, max {:.0} ms ({} answered before A's last){}",
        args.burst,
        run.burst_acked_ms,
        run.burst_answered_ms
            .map_or("(not all)".to_owned(), |ms| format!("{ms:.0} ms")),
        run.probes_ms
            .first()
            .copied()
            .flatten()
            .map_or("(no reply)".to_owned(), |ms| format!("{ms:.0} ms")),
        answered.len(),
        percentile(&sorted, 0.5),
        percentile(&sorted, 1.0),
        run.probes_before_burst_end,
        run.claims
            .as_ref()
            .map(|c| format!(
                "; claims: {} calls, {:.1} events, {:.0} buffers and {:.2} ms (exec {:.2} + plan \
                 {:.3}) a call, {:.1} µs an event; {:.2} statements a claimed event in all",
                c.calls,
                c.rows as f64 / c.calls.max(1) as f64,
                c.blocks as f64 / c.calls.max(1) as f64,
                (c.exec_ms + c.plan_ms) / c.calls.max(1) as f64,
                c.exec_ms / c.calls.max(1) as f64,
                c.plan_ms / c.calls.max(1) as f64,
                (c.exec_ms + c.plan_ms) * 1000.0 / c.rows.max(1) as f64,
                c.all_calls as f64 / c.rows.max(1) as f64,
            ))
            .unwrap_or_default()
    )
}

/// The runs as the rows of a markdown table.
fn table(args: &TwoPagesArgs, runs: &[Run]) -> String {
    let mut out = String::from(
        "| run | A acked | A answered | B's first | B p50 / max | B before A's end | claims | \
         events a claim | µs a claimed event | buffers a claim |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (n, run) in runs.iter().enumerate() {
        let mut answered: Vec<f64> = run.probes_ms.iter().flatten().copied().collect();
        answered.sort_by(f64::total_cmp);
        let claims = run.claims.as_ref();
        let per = |f: &dyn Fn(&ClaimCost) -> String| claims.map_or("-".to_owned(), f);
        out.push_str(&format!(
            "| {}{} | {:.0} ms | {} | {} | {:.0} / {:.0} ms | {} of {} | {} | {} | {} | {} |\n",
            args.label,
            n + 1,
            run.burst_acked_ms,
            run.burst_answered_ms
                .map_or("-".to_owned(), |ms| format!("{ms:.0} ms")),
            run.probes_ms
                .first()
                .copied()
                .flatten()
                .map_or("-".to_owned(), |ms| format!("{ms:.0} ms")),
            percentile(&answered, 0.5),
            percentile(&answered, 1.0),
            run.probes_before_burst_end,
            run.probes_ms.len(),
            per(&|c| c.calls.to_string()),
            per(&|c| format!("{:.1}", c.rows as f64 / c.calls.max(1) as f64)),
            per(&|c| format!(
                "{:.1}",
                (c.exec_ms + c.plan_ms) * 1000.0 / c.rows.max(1) as f64
            )),
            per(&|c| format!("{:.0}", c.blocks as f64 / c.calls.max(1) as f64)),
        ));
    }
    out
}
