//! The InfluxDB sink: line protocol, gzip-compressed, to v1's or v2's write API.

mod config;
mod encode;

pub use config::InfluxConfig;

use super::delivery::{Batch, Http, Sending, Transport, gzip, unencodable};
use super::sink::{Built, Sink};

impl Sink for InfluxConfig {
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn destination(&self) -> Option<&str> {
        Some(&self.url)
    }

    fn problems(&self) -> Vec<(String, String)> {
        InfluxConfig::problems(self)
    }

    fn build(&self) -> Result<Built, String> {
        let url = self
            .write_url()
            .ok_or("set `database` (v1) or `org` and `bucket` (v2)")?;
        let token = self.token.as_ref().map(|t| format!("Token {t}"));
        let mut headers = vec![
            ("content-type", "text/plain; charset=utf-8"),
            ("content-encoding", "gzip"),
        ];
        if let Some(token) = &token {
            headers.push(("authorization", token));
        }
        let http = Http::new(self.delivery.request_timeout(), &headers)?;
        Ok(Built::Remote(
            Box::new(Influx { http, url }),
            self.delivery.clone(),
        ))
    }
}

/// A write API.
struct Influx {
    http: Http,
    url: String,
}

impl Transport for Influx {
    fn send<'a>(&'a mut self, batch: &'a Batch) -> Sending<'a> {
        Box::pin(async move {
            let body = gzip(encode::encode(&batch.series).as_bytes()).map_err(unencodable)?;
            self.http.post(&self.url, &[], body).await
        })
    }
}
