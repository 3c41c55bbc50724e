//! The load generator: a fixed number of keep-alive HTTP/1.1 connections, each sending
//! pre-rendered requests one after the other until the time is up.
//!
//! By default each connection sends its next request as soon as the last one is answered
//! (closed loop: the offered load is whatever the server can take). With a rate, request `n`
//! is due at `n / rate` seconds after the start (open loop), and its latency counts from when
//! it was due, so that a server that falls behind is not excused by the generator waiting
//! for it ("coordinated omission").
//!
//! Requests are whole byte strings (request line, headers, signed body) built before the clock
//! starts, so the generator does no formatting, JSON or HMAC work while it measures; it only
//! writes bytes and reads answers, like `wrk`.

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::probe::Probe;

/// One pre-rendered request and the events its body carries.
pub struct Request {
    /// Request line, headers and body, as sent.
    pub bytes: Vec<u8>,
    /// The sequence numbers of the body's events.
    pub seqs: Range<u32>,
}

/// What one load run saw.
#[derive(Debug, Default)]
pub struct LoadResult {
    /// Requests answered 200.
    pub ok: u64,
    /// Events in the requests answered 200.
    pub events_ok: u64,
    /// Requests answered otherwise, or lost with their connection.
    pub errors: u64,
    /// Each 200's latency, from the first byte written to the last byte read (µs).
    pub latencies_us: Vec<u32>,
    /// From the first request to the last answer.
    pub elapsed: Duration,
    /// The pre-built requests ran out before the time did.
    pub exhausted: bool,
}

/// Sends `requests` to `addr` over `concurrency` connections for `duration`, at `rate`
/// requests per second in all if there is one (see the module's documentation).
///
/// With `cycle`, the requests are reused from the start when they run out (for an endpoint
/// that does not deduplicate); without, the run stops early and says so. Every request's
/// send time is noted in `probe`, per event.
pub async fn run(
    addr: SocketAddr,
    requests: Arc<Vec<Request>>,
    concurrency: usize,
    duration: Duration,
    rate: Option<f64>,
    cycle: bool,
    probe: Arc<Probe>,
) -> LoadResult {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let pace = rate.filter(|r| *r > 0.0).map(|r| Pace {
        started,
        interval: Duration::from_secs_f64(1.0 / r),
    });
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let requests = requests.clone();
        let next = next.clone();
        let probe = probe.clone();
        tasks.spawn(async move {
            connection(addr, &requests, &next, deadline, pace, cycle, &probe).await
        });
    }
    let mut total = LoadResult::default();
    while let Some(result) = tasks.join_next().await {
        let Ok(part) = result else {
            total.errors += 1;
            continue;
        };
        total.ok += part.ok;
        total.events_ok += part.events_ok;
        total.errors += part.errors;
        total.exhausted |= part.exhausted;
        total.latencies_us.extend(part.latencies_us);
    }
    total.elapsed = started.elapsed();
    total
}

/// When each request of an open-loop run is due.
#[derive(Clone, Copy)]
struct Pace {
    started: Instant,
    interval: Duration,
}

impl Pace {
    fn due(self, index: usize) -> Instant {
        self.started + self.interval.mul_f64(index as f64)
    }
}

/// One connection's loop; reconnects after an error.
async fn connection(
    addr: SocketAddr,
    requests: &[Request],
    next: &AtomicUsize,
    deadline: Instant,
    pace: Option<Pace>,
    cycle: bool,
    probe: &Probe,
) -> LoadResult {
    let mut result = LoadResult::default();
    let mut stream: Option<TcpStream> = None;
    let mut buf = vec![0u8; 16 * 1024];
    while Instant::now() < deadline {
        let mut index = next.fetch_add(1, Ordering::Relaxed);
        let due = pace.map(|pace| pace.due(index));
        if let Some(due) = due {
            if due >= deadline {
                break;
            }
            tokio::time::sleep_until(due.into()).await;
        }
        if index >= requests.len() {
            if !cycle || requests.is_empty() {
                result.exhausted = true;
                break;
            }
            index %= requests.len();
        }
        let request = &requests[index];
        let conn = match stream.as_mut() {
            Some(conn) => conn,
            None => match TcpStream::connect(addr).await {
                Ok(conn) => {
                    let _ = conn.set_nodelay(true);
                    stream.insert(conn)
                }
                Err(_) => {
                    result.errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let sent = due.unwrap_or_else(Instant::now);
        probe.sent(request.seqs.clone());
        match exchange(conn, &request.bytes, &mut buf).await {
            Ok(200) => {
                let micros = u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX);
                result.latencies_us.push(micros);
                result.ok += 1;
                result.events_ok += u64::from(request.seqs.end - request.seqs.start);
            }
            Ok(_) => result.errors += 1,
            Err(_) => {
                result.errors += 1;
                stream = None;
            }
        }
    }
    result
}

/// Writes one request and reads its answer; returns the status.
async fn exchange(conn: &mut TcpStream, request: &[u8], buf: &mut Vec<u8>) -> std::io::Result<u16> {
    conn.write_all(request).await?;
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = conn.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        filled += n;
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(&buf[..filled]) {
            Ok(httparse::Status::Partial) => continue,
            Ok(httparse::Status::Complete(head)) => {
                let status = response.code.unwrap_or(0);
                let length = response
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| std::str::from_utf8(h.value).ok())
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .ok_or_else(|| {
                        std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            "answer without content-length",
                        )
                    })?;
                // Read the rest of the body; pipelining is not used, so nothing follows it.
                while filled < head + length {
                    if filled == buf.len() {
                        buf.resize(buf.len() * 2, 0);
                    }
                    let n = conn.read(&mut buf[filled..]).await?;
                    if n == 0 {
                        return Err(std::io::ErrorKind::UnexpectedEof.into());
                    }
                    filled += n;
                }
                return Ok(status);
            }
            Err(e) => {
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e));
            }
        }
    }
}
