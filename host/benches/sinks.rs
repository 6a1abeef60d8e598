//! Forwarding figures: series per second serialised, buffered and sent per sink on one core,
//! bytes per sample on the wire, and the replay rate of a disk buffer after an outage.
//!
//! `cargo bench -p wasmon --bench sinks --profile dev`. The backend is a loopback server on its
//! own thread that accepts everything (HTTP 204, or reads telnet lines and discards them).

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use wasmon::model::{Payload, Series, SeriesKind};
use wasmon::sinks::{SinkConfig, SinkHandle, Sinks};

const SERIES_PER_PAYLOAD: usize = 200;
const PAYLOADS: usize = 500;

/// A payload like a system check's run: 200 series, a few tags each.
fn payload(run: usize) -> Payload {
    let series = (0..SERIES_PER_PAYLOAD)
        .map(|i| Series {
            name: format!("system.bench.metric_{}", i % 40),
            kind: SeriesKind::Gauge,
            value: (run * 1000 + i) as f64 * 0.25,
            timestamp_ms: 1_700_000_000_000 + run as i64 * 1000,
            tags: vec![
                format!("device:sd{}", i / 40),
                "env:bench".into(),
                "host:bench-host".into(),
            ],
        })
        .collect();
    Payload {
        series,
        ..Payload::default()
    }
}

/// Accepts HTTP posts (204) and telnet lines on `listener`, on its own thread.
fn backend(listener: TcpListener) {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(async move {
                    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
                    let (read, mut write) = stream.split();
                    let mut reader = BufReader::new(read);
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if line.starts_with("version") {
                            let _ = write.write_all(b"net.opentsdb bench\n").await;
                            continue;
                        }
                        if line.starts_with("put ") {
                            continue;
                        }
                        // HTTP: headers, then a body of Content-Length bytes.
                        let mut length = 0usize;
                        loop {
                            line.clear();
                            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if line == "\r\n" {
                                break;
                            }
                            if let Some(v) =
                                line.to_ascii_lowercase().strip_prefix("content-length:")
                            {
                                length = v.trim().parse().unwrap_or(0);
                            }
                        }
                        let mut body = vec![0; length];
                        if reader.read_exact(&mut body).await.is_err() {
                            return;
                        }
                        let _ = write
                            .write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                            .await;
                    }
                });
            }
        });
    });
}

fn sink_config(kind: &str, addr: SocketAddr) -> SinkConfig {
    let yaml = match kind {
        "datadog" => format!("{{type: datadog, url: \"http://{addr}\", api_key: k}}"),
        "opentsdb-telnet" => format!("{{type: opentsdb, address: \"{addr}\"}}"),
        "opentsdb-http" => {
            format!("{{type: opentsdb, protocol: http, address: \"http://{addr}\"}}")
        }
        "influx" => format!("{{type: influx, url: \"http://{addr}\", database: d}}"),
        _ => format!("{{type: prometheus_remote_write, url: \"http://{addr}/api/v1/write\"}}"),
    };
    let yaml = yaml.replace('}', ", delivery: {retry_max_secs: 0.5}}");
    serde_yaml::from_str(&yaml).unwrap()
}

async fn until_sent(handle: &SinkHandle, total: u64) {
    while handle.stats.sent.load(Relaxed) < total {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn main() {
    let total = (SERIES_PER_PAYLOAD * PAYLOADS) as u64;
    let payloads: Vec<Payload> = (0..PAYLOADS).map(payload).collect();
    // One core: the sinks' tasks share one thread.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("{} series in {PAYLOADS} payloads per sink", total);
    for kind in [
        "datadog",
        "opentsdb-telnet",
        "opentsdb-http",
        "influx",
        "remote-write",
    ] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        backend(listener);
        let data = tempfile::tempdir().unwrap();
        rt.block_on(async {
            let sinks = Sinks::start(&[sink_config(kind, addr)], data.path()).unwrap();
            let handle = sinks.handles().remove(0);
            let sender = sinks.sender();
            let started = Instant::now();
            for p in &payloads {
                sender.send(p.clone()).await;
            }
            until_sent(&handle, total).await;
            let took = started.elapsed();
            let bytes = handle.stats.sent_bytes.load(Relaxed);
            println!(
                "{kind:<16} {:>9.0} series/s   {:>6.1} bytes/series on the wire   ({} requests failed)",
                total as f64 / took.as_secs_f64(),
                bytes as f64 / total as f64,
                handle.stats.failed.load(Relaxed)
            );
            drop(sender);
            sinks.close().await;
        });
    }

    // Replay: the backend is down while the series are buffered, then comes up.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let sinks = Sinks::start(&[sink_config("remote-write", port)], data.path()).unwrap();
        let handle = sinks.handles().remove(0);
        let sender = sinks.sender();
        for p in &payloads {
            sender.send(p.clone()).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let buffered = handle.stats.disk_bytes.load(Relaxed);
        let listener = TcpListener::bind(port).expect("the port is free again");
        backend(listener);
        let started = Instant::now();
        until_sent(&handle, total).await;
        let took = started.elapsed();
        println!(
            "replay after an outage: {} series ({:.1} MB on disk) in {took:.2?}: {:.0} series/s",
            total,
            buffered as f64 / 1e6,
            total as f64 / took.as_secs_f64()
        );
        drop(sender);
        sinks.close().await;
    });
}
