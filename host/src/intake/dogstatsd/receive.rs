//! The sockets: datagrams read from UDP and a Unix datagram socket, each line parsed and added
//! to the current window. A refused line is counted by reason and the first of each reason
//! logged (once a minute); the rest of its datagram is kept.
//!
//! Each socket is read by a thread of its own in blocking reads, as collectd reads its: a
//! datagram wakes it directly, far cheaper than the runtime's readiness and task wake-up per
//! datagram, and nothing wakes while nothing arrives. Stopping shuts the socket down for
//! reading, which ends a blocked read.

use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::aggregate::window::{Aggregation, Dropped, Observed, Window};
use crate::intake::stats::IntakeStats;
use crate::model::{Event, ServiceCheck, Status};
use crate::repeats::Repeats;
use crate::scheduler::now_ms;
use wasmon_dogstatsd::{
    self as parse, EventLine, Line, MetricLine, MetricType, ParseError, ServiceCheckLine,
};

/// How often the same kind of refusal is logged.
const REPEAT_LOG: Duration = Duration::from_secs(60);
/// Characters of a refused line shown in the log.
const SHOWN: usize = 120;

/// What the sockets feed.
pub struct Intake {
    /// The current window.
    pub window: Mutex<Window>,
    /// The counters.
    pub stats: Arc<IntakeStats>,
    repeats: Mutex<Repeats>,
}

impl Intake {
    /// An intake into `window`, counting into `stats`.
    pub fn new(window: Window, stats: Arc<IntakeStats>) -> Self {
        Self {
            window: Mutex::new(window),
            stats,
            repeats: Mutex::new(Repeats::new(REPEAT_LOG)),
        }
    }

    /// The window, locked.
    pub fn window(&self) -> std::sync::MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes one datagram received at `now_ms`.
    pub fn take(&self, datagram: &[u8], now_ms: i64) {
        use std::sync::atomic::Ordering::Relaxed;
        let stats = &self.stats;
        stats.packets.fetch_add(1, Relaxed);
        let mut taken = 0;
        let mut window = self.window();
        for (raw, line) in parse::lines(datagram) {
            let added = match line {
                Ok(Line::Metric(m)) => add_metric(&mut window, &m, now_ms),
                Ok(Line::ServiceCheck(c)) => {
                    stats.service_checks.fetch_add(1, Relaxed);
                    window.add_service_check(service_check(c, now_ms))
                }
                Ok(Line::Event(e)) => {
                    stats.events.fetch_add(1, Relaxed);
                    window.add_event(event(e, now_ms))
                }
                Err(error) => {
                    stats.count_parse_error(error);
                    self.refused(error, raw);
                    continue;
                }
            };
            taken += 1;
            if let Err(dropped) = added {
                stats.count_drop(dropped);
            }
        }
        drop(window);
        stats.lines.fetch_add(taken, Relaxed);
    }

    fn refused(&self, error: ParseError, raw: &[u8]) {
        let mut repeats = self.repeats.lock().unwrap_or_else(PoisonError::into_inner);
        if repeats.admit(error.reason()) {
            let line = String::from_utf8_lossy(raw);
            let shown: String = line.chars().take(SHOWN).collect();
            tracing::warn!(
                reason = error.reason(),
                "dogstatsd: a line was refused ({error}): {shown:?}; more like it are counted \
                 in wasmon.dogstatsd.parse_errors"
            );
        }
    }
}

fn add_metric(window: &mut Window, m: &MetricLine, now_ms: i64) -> Result<(), Dropped> {
    let aggregation = match m.kind {
        MetricType::Count => Aggregation::Count,
        MetricType::Gauge => Aggregation::Gauge,
        MetricType::Set => Aggregation::Set,
        MetricType::Histogram | MetricType::Timing => Aggregation::Summary,
        MetricType::Distribution => Aggregation::Distribution,
    };
    let numbers = m.numbers();
    if let Some(timestamp) = m.timestamp {
        let tags: Vec<String> = parse::tags(m.tags).map(String::from).collect();
        for value in numbers {
            let value = value / m.sample_rate;
            window.add_timestamped(m.name, aggregation, tags.clone(), value, timestamp * 1000)?;
        }
        return Ok(());
    }
    let observed = match aggregation {
        Aggregation::Set => Observed::Member(m.values),
        _ => Observed::Numbers(numbers, m.sample_rate),
    };
    window.add_line(m.name, aggregation, m.tags, observed, now_ms)
}

/// Tags with `host:<h>` for an `h:` field.
fn with_host(tags: &str, host: Option<&str>) -> Vec<String> {
    let mut tags: Vec<String> = parse::tags(tags).map(String::from).collect();
    if let Some(host) = host.filter(|h| !h.is_empty()) {
        tags.push(format!("host:{host}"));
    }
    tags
}

fn service_check(c: ServiceCheckLine, now_ms: i64) -> ServiceCheck {
    ServiceCheck {
        name: c.name.into(),
        status: Status::from_code(c.status).unwrap_or(Status::Unknown),
        message: c.message.into(),
        tags: with_host(c.tags, c.host),
        timestamp_ms: c.timestamp.map_or(now_ms, |s| s * 1000),
    }
}

fn event(e: EventLine, now_ms: i64) -> Event {
    Event {
        tags: with_host(e.tags, e.host),
        title: e.title,
        text: e.text,
        timestamp_ms: e.timestamp.map_or(now_ms, |s| s * 1000),
        priority: Some(e.priority.unwrap_or("normal").into()),
        alert_type: Some(e.alert_type.unwrap_or("info").into()),
        aggregation_key: e.aggregation_key.map(String::from),
        source_type_name: e.source_type_name.map(String::from),
    }
}

/// A bound socket.
pub enum Socket {
    /// UDP.
    Udp(UdpSocket),
    /// A Unix datagram socket.
    Unix(UnixDatagram),
}

impl Socket {
    /// Binds UDP `address` with `so_rcvbuf` (0: the system's).
    pub fn udp(address: &str, so_rcvbuf: usize) -> std::io::Result<Self> {
        let socket = UdpSocket::bind(address)?;
        set_rcvbuf(&socket, so_rcvbuf)?;
        Ok(Self::Udp(socket))
    }

    /// Binds a Unix datagram socket at `path`, replacing a stale one.
    pub fn unix(path: &Path, so_rcvbuf: usize) -> std::io::Result<Self> {
        if std::fs::symlink_metadata(path).is_ok_and(|m| {
            use std::os::unix::fs::FileTypeExt;
            m.file_type().is_socket()
        }) {
            std::fs::remove_file(path)?;
        }
        let socket = UnixDatagram::bind(path)?;
        set_rcvbuf(&socket, so_rcvbuf)?;
        Ok(Self::Unix(socket))
    }

    /// Where it listens, as `udp://…` or `unix://…`.
    pub fn address(&self) -> String {
        match self {
            Self::Udp(s) => s
                .local_addr()
                .map_or_else(|_| "udp://?".into(), |a| format!("udp://{a}")),
            Self::Unix(s) => s
                .local_addr()
                .ok()
                .and_then(|a| a.as_pathname().map(|p| format!("unix://{}", p.display())))
                .unwrap_or_else(|| "unix://?".into()),
        }
    }

    /// The inode of a UDP socket, which names its row in `/proc/net/udp`.
    pub fn udp_inode(&self) -> Option<u64> {
        let Self::Udp(socket) = self else { return None };
        Some(rustix::fs::fstat(socket).ok()?.st_ino)
    }

    /// Reads datagrams into `intake` on a thread of its own until [`Receiver::stop`].
    pub fn receive(self, intake: Arc<Intake>, buffer_size: usize) -> std::io::Result<Receiver> {
        let stopping = Arc::new(AtomicBool::new(false));
        let handle = self.try_clone()?;
        let flag = stopping.clone();
        let thread = std::thread::Builder::new()
            .name("wasmon-dogstatsd".into())
            .spawn(move || self.read_until(&flag, &intake, buffer_size))?;
        Ok(Receiver {
            socket: handle,
            stopping,
            thread,
        })
    }

    fn read_until(&self, stopping: &AtomicBool, intake: &Intake, buffer_size: usize) {
        let mut buffer = vec![0; buffer_size];
        loop {
            let received = self.recv(&mut buffer);
            if stopping.load(Ordering::Acquire) {
                return;
            }
            match received {
                Ok(n) => intake.take(&buffer[..n], now_ms()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::warn!(socket = %self.address(), "dogstatsd: cannot read: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }

    fn recv(&self, buffer: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::Udp(s) => s.recv(buffer),
            Self::Unix(s) => s.recv(buffer),
        }
    }

    fn try_clone(&self) -> std::io::Result<Self> {
        Ok(match self {
            Self::Udp(s) => Self::Udp(s.try_clone()?),
            Self::Unix(s) => Self::Unix(s.try_clone()?),
        })
    }
}

/// A socket's reading thread.
pub struct Receiver {
    socket: Socket,
    stopping: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Receiver {
    /// Ends the thread: what it is taking is taken, then the socket is shut for reading,
    /// which wakes a blocked read.
    pub async fn stop(self) {
        self.stopping.store(true, Ordering::Release);
        let shut = match &self.socket {
            Socket::Udp(s) => rustix::net::shutdown(s, rustix::net::Shutdown::Read),
            Socket::Unix(s) => rustix::net::shutdown(s, rustix::net::Shutdown::Read),
        };
        // An unconnected UDP socket says it is not connected, and wakes its reader all the same.
        match shut {
            Err(e) if e != rustix::io::Errno::NOTCONN => {
                tracing::warn!(socket = %self.socket.address(), "dogstatsd: cannot shut the socket: {e}");
            }
            _ => {}
        }
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

fn set_rcvbuf(socket: &impl std::os::fd::AsFd, bytes: usize) -> std::io::Result<()> {
    if bytes > 0 {
        rustix::net::sockopt::set_socket_recv_buffer_size(socket, bytes)?;
    }
    Ok(())
}

/// The datagrams the kernel dropped for want of buffer, over the UDP sockets `inodes`.
pub fn kernel_drops(inodes: &[u64]) -> u64 {
    if inodes.is_empty() {
        return 0;
    }
    let tables: Vec<String> = ["/proc/self/net/udp", "/proc/self/net/udp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .collect();
    inodes
        .iter()
        .filter_map(|inode| tables.iter().find_map(|t| udp_drops(t, *inode)))
        .sum()
}

/// The `drops` column of the `/proc/net/udp` row of socket `inode`.
fn udp_drops(table: &str, inode: u64) -> Option<u64> {
    table.lines().skip(1).find_map(|row| {
        let fields: Vec<&str> = row.split_whitespace().collect();
        (fields.get(9)?.parse::<u64>().ok()? == inode).then(|| fields.last()?.parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::window::WindowConfig;
    use crate::intake::config::DogstatsdConfig;
    use crate::model::SeriesKind;

    fn intake(config: WindowConfig) -> Intake {
        Intake::new(
            Window::new(config, vec!["host:agent".into()]),
            Arc::new(IntakeStats::default()),
        )
    }

    #[test]
    fn a_datagram_of_every_kind() {
        let intake = intake(DogstatsdConfig::default().window());
        intake.take(
            b"hits:1|c|@0.5|#a:1\nhits:2|c|#a:1\nbad line\nq:1|g|#host:db-1\n\
              _sc|app.up|1|h:web-9|#x:y|m:slow\n_e{5,4}:title|text|t:error\nts:7|g|T1700000000\n",
            5_000,
        );
        let report = intake.stats.report();
        assert_eq!((report.packets, report.lines), (1, 6));
        assert_eq!(report.parse_errors["no_type"], 1);
        let payload = intake.window().flush(10_000);
        let find = |name: &str| payload.series.iter().find(|s| s.name == name).unwrap();
        assert_eq!(find("hits").value, 0.4, "(1/0.5 + 2) / 10 s");
        assert_eq!(find("hits").kind, SeriesKind::Rate);
        assert_eq!(find("q").tags, ["host:db-1"], "a host tag names the host");
        assert_eq!(find("ts").timestamp_ms, 1_700_000_000_000);
        let check = &payload.service_checks[0];
        assert_eq!(
            (check.status, check.message.as_str()),
            (Status::Warning, "slow")
        );
        assert_eq!(check.tags, ["host:web-9", "x:y"]);
        assert_eq!(check.timestamp_ms, 5_000);
        let event = &payload.events[0];
        assert_eq!(
            (event.title.as_str(), event.text.as_str()),
            ("title", "text")
        );
        assert_eq!(event.alert_type.as_deref(), Some("error"));
        assert_eq!(event.tags, ["host:agent"]);
    }

    #[tokio::test]
    async fn a_receiver_takes_datagrams_and_stops_when_told() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dsd.sock");
        for socket in [
            Socket::udp("127.0.0.1:0", 0).unwrap(),
            Socket::unix(&path, 0).unwrap(),
        ] {
            let address = socket.address();
            let shared = Arc::new(intake(DogstatsdConfig::default().window()));
            let receiver = socket.receive(shared.clone(), 1024).unwrap();
            let datagram = b"hits:1|c\n";
            match address.strip_prefix("udp://") {
                Some(to) => UdpSocket::bind("127.0.0.1:0")
                    .and_then(|s| s.send_to(datagram, to))
                    .unwrap(),
                None => UnixDatagram::unbound()
                    .and_then(|s| s.send_to(datagram, &path))
                    .unwrap(),
            };
            let taken = (0..200).any(|_| {
                std::thread::sleep(Duration::from_millis(10));
                shared.stats.report().lines == 1
            });
            assert!(taken, "{address}: the datagram was taken");
            tokio::time::timeout(Duration::from_secs(5), receiver.stop())
                .await
                .unwrap_or_else(|_| panic!("{address}: a blocked read was not woken"));
        }
    }

    #[tokio::test]
    async fn drops_are_read_from_the_kernel_table() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
                     1: 0100007F:1FBD 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4242 2 0000000000000000 17\n";
        assert_eq!(udp_drops(table, 4242), Some(17));
        assert_eq!(udp_drops(table, 1), None);
        let socket = Socket::udp("127.0.0.1:0", 0).unwrap();
        let inode = socket.udp_inode().unwrap();
        let table = std::fs::read_to_string("/proc/self/net/udp").unwrap();
        assert_eq!(udp_drops(&table, inode), Some(0), "our own socket is found");
        assert_eq!(kernel_drops(&[inode]), 0);
    }

    proptest::proptest! {
        /// Whatever arrives, the window holds at most `max_contexts` series and a set at most
        /// its member limit, and a flush empties all but the counters.
        #[test]
        fn the_window_stays_bounded(
            lines in proptest::collection::vec(
                (0u16..500, proptest::sample::select(vec!["c", "g", "h", "ms", "s", "d", "x"]), 0u8..5),
                0..300,
            )
        ) {
            let intake = intake(WindowConfig { max_contexts: 20, ..DogstatsdConfig::default().window() });
            let datagram: String = lines
                .iter()
                .map(|(n, kind, tag)| format!("m{}:{n}|{kind}|#t:{tag}\n", n % 40))
                .collect();
            intake.take(datagram.as_bytes(), 1_000);
            proptest::prop_assert!(intake.window().contexts() <= 20);
            let payload = intake.window().flush(10_000);
            proptest::prop_assert!(payload.series.len() <= 20 * 6);
            proptest::prop_assert!(intake.window().contexts() <= 20);
        }
    }
}
