//! The OpenTSDB sink: telnet `put` lines over a kept connection, or JSON to `/api/put`.

mod config;
mod encode;
mod telnet;

pub use config::{OpentsdbConfig, OpentsdbProtocol};

use super::delivery::{Batch, Http, Sending, Transport, gzip, unencodable};
use super::sink::{Built, Sink};

impl Sink for OpentsdbConfig {
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn destination(&self) -> Option<&str> {
        Some(&self.address)
    }

    fn problems(&self) -> Vec<(String, String)> {
        OpentsdbConfig::problems(self)
    }

    fn build(&self) -> Result<Built, String> {
        let timeout = self.delivery.request_timeout();
        let transport: Box<dyn Transport> = match self.protocol {
            OpentsdbProtocol::Telnet => {
                Box::new(telnet::Telnet::new(self.address.clone(), timeout))
            }
            OpentsdbProtocol::Http => Box::new(OpentsdbHttp {
                http: Http::new(
                    timeout,
                    &[
                        ("content-type", "application/json"),
                        ("content-encoding", "gzip"),
                    ],
                )?,
                url: format!("{}/api/put", self.address.trim_end_matches('/')),
            }),
        };
        Ok(Built::Remote(transport, self.delivery.clone()))
    }
}

/// OpenTSDB's `/api/put`.
struct OpentsdbHttp {
    http: Http,
    url: String,
}

impl Transport for OpentsdbHttp {
    fn send<'a>(&'a mut self, batch: &'a Batch) -> Sending<'a> {
        Box::pin(async move {
            let json = encode::http_body(&batch.series).map_err(unencodable)?;
            let body = gzip(&json).map_err(unencodable)?;
            self.http.post(&self.url, &[], body).await
        })
    }
}
