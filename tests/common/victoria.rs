//! A throwaway VictoriaMetrics (Debian's `victoria-metrics`) on loopback ports, taking the
//! Datadog, OpenTSDB (telnet and HTTP), Influx and remote-write protocols, queried back
//! through `/api/v1/export`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::mariadb::free_port;
use super::{http, wait_for};

/// A running VictoriaMetrics; killed when dropped.
pub struct Victoria {
    /// `127.0.0.1:port` of its HTTP API (Datadog, Influx, remote write, queries).
    pub http: String,
    /// `127.0.0.1:port` of its OpenTSDB telnet listener.
    pub telnet: String,
    /// `127.0.0.1:port` of its OpenTSDB HTTP listener.
    pub opentsdb_http: String,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Victoria {
    /// Starts one with an empty data folder.
    pub fn start() -> Self {
        let mut vm = Self {
            http: format!("127.0.0.1:{}", free_port()),
            telnet: format!("127.0.0.1:{}", free_port()),
            opentsdb_http: format!("127.0.0.1:{}", free_port()),
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
        };
        vm.restart();
        vm
    }

    /// Starts it again on the same ports and data (after [`stop`](Self::stop)).
    pub fn restart(&mut self) {
        let child = Command::new("victoria-metrics")
            .arg(format!("-storageDataPath={}", self.dir.path().display()))
            .arg(format!("-httpListenAddr={}", self.http))
            .arg(format!("-opentsdbListenAddr={}", self.telnet))
            .arg(format!("-opentsdbHTTPListenAddr={}", self.opentsdb_http))
            .args([
                "-influxSkipSingleField",
                "-retentionPeriod=100y",
                "-search.latencyOffset=0s",
                "-loggerLevel=ERROR",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start victoria-metrics (Debian package; `cargo xtask test` installs it)");
        self.child = Some(child);
        let http = self.http.clone();
        let up = wait_for(Duration::from_secs(30), || {
            std::net::TcpStream::connect(&http)
                .is_ok()
                .then(|| http_get(&http, "/health"))
                .filter(|(code, _)| *code == 200)
        });
        assert!(up.is_some(), "victoria-metrics did not start");
    }

    /// Stops it (SIGTERM, so it writes what it took to disk) and waits.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            if wait_for(Duration::from_secs(20), || child.try_wait().ok().flatten()).is_none() {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }

    /// Every stored point of the series matching `selector` (a PromQL series selector), as
    /// `(labels, [(timestamp_ms, value)])`.
    pub fn export(&self, selector: &str) -> Vec<(Value, Vec<(i64, f64)>)> {
        let (code, _) = http_get(&self.http, "/internal/force_flush");
        assert_eq!(code, 200, "force_flush");
        let query = format!("/api/v1/export?match[]={}", urlencode(selector));
        let (code, body) = http_get(&self.http, &query);
        assert_eq!(code, 200, "{body}");
        body.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let v: Value = serde_json::from_str(l).expect("export line");
                let points = v["timestamps"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .zip(v["values"].as_array().unwrap())
                    .map(|(t, v)| (t.as_i64().unwrap(), v.as_f64().unwrap()))
                    .collect();
                (v["metric"].clone(), points)
            })
            .collect()
    }

    /// The first point of the series `name` whose labels include `labels`, waiting for it,
    /// with the series' labels.
    pub fn first_point(&self, name: &str, labels: &[(&str, &str)]) -> (Value, f64) {
        let found = wait_for(Duration::from_secs(40), || {
            let all = self.export(&format!("{{__name__=\"{name}\"}}"));
            all.into_iter()
                .find(|(l, _)| labels.iter().all(|(k, v)| l[*k] == *v))
                .and_then(|(l, points)| points.first().map(|p| (l, p.1)))
        });
        found.unwrap_or_else(|| panic!("{name} {labels:?} never reached VictoriaMetrics"))
    }

    /// Asserts that `name`'s summary series hold the values 1 to 100 summarised as Datadog
    /// does: avg 50.5, max 100, count 100, the median and the 95th percentile within the
    /// sketch's error.
    pub fn assert_one_to_a_hundred(&self, name: &str, labels: &[(&str, &str)]) {
        let point = |suffix: &str| self.first_point(&format!("{name}_{suffix}"), labels).1;
        assert_eq!(point("avg"), 50.5, "{name}");
        assert_eq!(point("max"), 100.0, "{name}");
        assert_eq!(point("count"), 100.0, "{name}");
        let median = point("median");
        assert!((median - 50.0).abs() <= 1.0, "{name}: median {median}");
        let p95 = point("95percentile");
        assert!((p95 - 95.0).abs() <= 1.5, "{name}: 95th percentile {p95}");
    }
}

impl Drop for Victoria {
    fn drop(&mut self) {
        self.stop();
    }
}

fn http_get(addr: &str, path: &str) -> (u16, String) {
    http(addr, "GET", path, None, None)
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
