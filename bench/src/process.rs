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

/// /proc reports CPU time in USER_HZ ticks, which Linux fixes at 100 for user space.
const TICKS_PER_SEC: u64 = 100;

/// `ticks` of /proc's CPU accounting as a duration.
fn from_ticks(ticks: u64) -> Duration {
    Duration::from_millis(ticks * 1000 / TICKS_PER_SEC)
}

/// The fields of /proc/PID/stat this bench reads.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stat {
    pid: u32,
    comm: String,
    ppid: u32,
    /// utime + stime, in ticks.
    own_ticks: u64,
    /// cutime + cstime: the children it has reaped, in ticks.
    reaped_ticks: u64,
}

/// Parses one /proc/PID/stat line.
fn parse_stat(line: &str) -> Option<Stat> {
    // The command name sits in parentheses and may hold spaces and parentheses itself.
    let (head, rest) = line.split_once(" (")?;
    let (comm, rest) = rest.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let number = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    // After the name: state is field 3 of the man page, so ppid (4) is 1, utime (14) 11,
    // stime (15) 12, cutime (16) 13, cstime (17) 14.
    Some(Stat {
        pid: head.trim().parse().ok()?,
        comm: comm.to_owned(),
        ppid: u32::try_from(number(1)?).ok()?,
        own_ticks: number(11)? + number(12)?,
        reaped_ticks: number(13)? + number(14)?,
    })
}

fn read_stat(pid: u32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Reads /proc/PID/stat (utime, stime) and /proc/PID/status (VmHWM).
fn usage(pid: u32) -> Usage {
    let cpu_ticks = read_stat(pid).map_or(0, |stat| stat.own_ticks);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let peak_rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Usage {
        cpu: from_ticks(cpu_ticks),
        peak_rss_kib,
    }
}

/// The CPU time of the Postgres cluster on this machine so far: every `postgres` process's
/// own, plus what the postmaster's reaped backends used (a backend that came and went during
/// a run counts too). `None` when no Postgres runs here (or /proc cannot be read).
pub fn local_postgres_cpu() -> Option<Duration> {
    let stats: Vec<Stat> = std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(read_stat)
        .collect();
    postgres_ticks(&stats).map(from_ticks)
}

/// The CPU time this process (the load generator and the fake Graph) has used so far.
pub fn own_cpu() -> Duration {
    from_ticks(read_stat(std::process::id()).map_or(0, |stat| stat.own_ticks))
}

/// The time all of this machine's cores have spent busy so far (every process, the kernel
/// and interrupts), from /proc/stat. `None` when it cannot be read.
pub fn machine_busy() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    busy_ticks(stat.lines().next()?).map(from_ticks)
}

/// The busy ticks of /proc/stat's summary line: user, nice, system, irq and softirq. Idle and
/// iowait are not work, and steal is time the hypervisor gave to other machines (guest time
/// is counted within user already).
fn busy_ticks(cpu_line: &str) -> Option<u64> {
    let mut fields = cpu_line.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    let values: Vec<u64> = fields.map(|f| f.parse().ok()).collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal ...
    let [user, nice, system, _idle, _iowait, irq, softirq, ..] = values[..] else {
        return None;
    };
    Some(user + nice + system + irq + softirq)
}

/// The ticks of the `postgres` processes among `stats`; the postmaster (a `postgres` process
/// whose parent is not one) adds its reaped children's.
fn postgres_ticks(stats: &[Stat]) -> Option<u64> {
    let postgres: Vec<&Stat> = stats.iter().filter(|s| s.comm == "postgres").collect();
    if postgres.is_empty() {
        return None;
    }
    let is_postgres = |pid: u32| postgres.iter().any(|s| s.pid == pid);
    Some(
        postgres
            .iter()
            .map(|s| match is_postgres(s.ppid) {
                true => s.own_ticks,
                false => s.own_ticks + s.reaped_ticks,
            })
            .sum(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_is_read_past_a_name_with_spaces_and_parentheses() {
        let line = "4242 (tokio (rt) w) S 17 4242 17 0 -1 4194368 3 0 0 0 250 31 7 2 20 0 9 0 1";
        let stat = parse_stat(line).unwrap();
        assert_eq!(stat.pid, 4242);
        assert_eq!(stat.comm, "tokio (rt) w");
        assert_eq!(stat.ppid, 17);
        assert_eq!((stat.own_ticks, stat.reaped_ticks), (281, 9));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn the_machine_is_busy_with_user_system_and_interrupts_not_idle_iowait_or_steal() {
        let line = "cpu  1000 20 300 90000 55 4 6 700 0 0";
        assert_eq!(busy_ticks(line), Some(1000 + 20 + 300 + 4 + 6));
        // A core's own line, or a line cut short, is not the summary.
        assert_eq!(busy_ticks("cpu0 1 2 3 4 5 6 7 8 9 10"), None);
        assert_eq!(busy_ticks("cpu  1 2 3"), None);
        assert_eq!(busy_ticks("cpu  1 2 x 4 5 6 7"), None);
    }

    #[test]
    fn the_cluster_counts_its_backends_and_what_the_postmaster_reaped() {
        let stat = |pid, comm: &str, ppid, own_ticks, reaped_ticks| Stat {
            pid,
            comm: comm.into(),
            ppid,
            own_ticks,
            reaped_ticks,
        };
        let stats = [
            stat(10, "postgres", 1, 100, 5000),
            stat(11, "postgres", 10, 40, 0),
            stat(12, "postgres", 10, 2, 0),
            stat(20, "pagebot", 1, 900, 0),
        ];
        assert_eq!(postgres_ticks(&stats), Some(100 + 5000 + 40 + 2));
        assert_eq!(postgres_ticks(&stats[3..]), None);
    }
}
