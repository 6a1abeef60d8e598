//! The Datadog sink: series, service checks, events and distributions to Datadog's intake
//! (or anything that speaks its API).

mod config;
mod encode;

use reqwest::header::{CONTENT_TYPE, HeaderValue};

pub use config::DatadogConfig;
pub use encode::{Dogsketch, SketchPayload, SketchSeries};

use super::delivery::{Batch, Http, Sending, Transport, unencodable};
use super::sink::{Built, Sink};

impl Sink for DatadogConfig {
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn destination(&self) -> Option<&str> {
        Some(&self.url)
    }

    fn problems(&self) -> Vec<(String, String)> {
        DatadogConfig::problems(self)
    }

    fn build(&self) -> Result<Built, String> {
        let http = Http::new(
            self.delivery.request_timeout(),
            &[
                ("DD-API-KEY", &self.api_key),
                ("content-type", "application/json"),
                ("content-encoding", "deflate"),
            ],
        )?;
        let base = self.url.trim_end_matches('/').to_string();
        Ok(Built::Remote(
            Box::new(Datadog { http, base }),
            self.delivery.clone(),
        ))
    }
}

/// Datadog's intake below `base`.
struct Datadog {
    http: Http,
    base: String,
}

impl Transport for Datadog {
    fn carries_service_checks(&self) -> bool {
        true
    }

    fn send<'a>(&'a mut self, batch: &'a Batch) -> Sending<'a> {
        Box::pin(async move {
            let url = |path: &str| format!("{}{path}", self.base);
            let mut bytes = 0;
            if !batch.series.is_empty() {
                let body = encode::encode(&batch.series).map_err(unencodable)?;
                bytes += self.http.post(&url(encode::SERIES_PATH), &[], body).await?;
            }
            if !batch.service_checks.is_empty() {
                let body = encode::encode_check_runs(&batch.service_checks).map_err(unencodable)?;
                bytes += self
                    .http
                    .post(&url(encode::CHECK_RUN_PATH), &[], body)
                    .await?;
            }
            for event in &batch.events {
                let body = encode::encode_event(event).map_err(unencodable)?;
                bytes += self.http.post(&url(encode::EVENTS_PATH), &[], body).await?;
            }
            if !batch.sketches.is_empty() {
                let body = encode::encode_sketches(&batch.sketches).map_err(unencodable)?;
                let protobuf = (
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/x-protobuf"),
                );
                bytes += self
                    .http
                    .post(&url(encode::SKETCHES_PATH), &[protobuf], body)
                    .await?;
            }
            Ok(bytes)
        })
    }
}
