//! The Prometheus remote-write sink.

mod config;
mod encode;

pub use config::RemoteWriteConfig;

use super::delivery::{Batch, Http, Sending, Transport, unencodable};
use super::sink::{Built, Sink};

impl Sink for RemoteWriteConfig {
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn destination(&self) -> Option<&str> {
        Some(&self.url)
    }

    fn problems(&self) -> Vec<(String, String)> {
        RemoteWriteConfig::problems(self)
    }

    fn build(&self) -> Result<Built, String> {
        let http = Http::new(
            self.delivery.request_timeout(),
            &[
                ("content-type", "application/x-protobuf"),
                ("content-encoding", "snappy"),
                ("x-prometheus-remote-write-version", "0.1.0"),
            ],
        )?;
        let url = self.url.clone();
        Ok(Built::Remote(
            Box::new(RemoteWrite { http, url }),
            self.delivery.clone(),
        ))
    }
}

/// A remote-write receiver.
struct RemoteWrite {
    http: Http,
    url: String,
}

impl Transport for RemoteWrite {
    fn send<'a>(&'a mut self, batch: &'a Batch) -> Sending<'a> {
        Box::pin(async move {
            let body = encode::encode(&batch.series).map_err(unencodable)?;
            self.http.post(&self.url, &[], body).await
        })
    }
}
