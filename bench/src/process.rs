//! Child servers: start, wait until they answer, read their CPU time and peak RSS from /proc,
//! stop.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// A server process this bench started, killed when dropped.
pub struct Server {
    child: Child,
    pid: u32,
}

/// CPU time and memory of a process, from /proc.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// User + system CPU time.
    pub cpu: Duration,
    /// Peak resident set (VmHWM), in KiB.
    pub peak_rss_kib: u64,
}

impl Server {
    /// Starts `command` (whose stdout and stderr go to `log`) and waits until `GET /healthz`
    /// answers on `addr`.
    pub async fn start(mut command: Command, addr: SocketAddr, log: &Path) -> anyhow::Result<Self> {
        let out = std::fs::File::create(log).with_context(|| format!("{}", log.display()))?;
        let err = out.try_clone()?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .context("cannot start the server")?;
        let pid = child.id().context("the server exited at once")?;
        let mut server = Self { child, pid };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if healthy(addr).await {
                return Ok(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                let tail = std::fs::read_to_string(log).unwrap_or_default();
                bail!("the server exited with {status}:\n{tail}");
            }
            if Instant::now() > deadline {
                bail!("the server did not answer /healthz within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// CPU time used and peak RSS so far.
    pub fn usage(&self) -> Usage {
        usage(self.pid)
    }

    /// Kills the server (by its own pid) and waits for it.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// A loopback address with a free port (free when asked; the server binds it right after).
pub fn free_addr() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

async fn healthy(addr: SocketAddr) -> bool {
    let Ok(mut conn) = TcpStream::connect(addr).await else {
        return false;
    };
    let request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if conn.write_all(request).await.is_err() {
        return false;
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(2), conn.read_to_end(&mut answer)).await;
    matches!(read, Ok(Ok(_))) && answer.starts_with(b"HTTP/1.1 200")
}

/// Reads /proc/PID/stat (utime, stime) and /proc/PID/status (VmHWM).
fn usage(pid: u32) -> Usage {
    // /proc reports CPU time in USER_HZ ticks, which Linux fixes at 100 for user space.
    const TICKS_PER_SEC: u64 = 100;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces; the fields we want follow its closing parenthesis.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // After the name: state is field 3 of the man page, so utime (14) and stime (15) are 11, 12.
    let cpu_ticks = ticks(11) + ticks(12);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let peak_rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Usage {
        cpu: Duration::from_millis(cpu_ticks * 1000 / TICKS_PER_SEC),
        peak_rss_kib,
    }
}
