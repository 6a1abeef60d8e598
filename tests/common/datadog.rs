//! A fake Datadog intake (there is no local Datadog): it records every request, its body
//! inflated, and answers 202.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// `(path, inflated body)` of every request a fake intake took.
pub type Requests = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// Starts one on a loopback port: its address, and what it takes.
pub fn fake_datadog() -> (String, Requests) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            if let Some(request) = read_deflated(&mut stream) {
                record.lock().unwrap().push(request);
            }
            let _ = stream.write_all(
                b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
            );
        }
    });
    (addr, seen)
}

/// A request's path and its deflated body, inflated.
fn read_deflated(stream: &mut std::net::TcpStream) -> Option<(String, Vec<u8>)> {
    let (path, body) = super::read_request(stream)?;
    let mut inflated = Vec::new();
    flate2::read::ZlibDecoder::new(&body[..])
        .read_to_end(&mut inflated)
        .ok()?;
    Some((path, inflated))
}

/// The sketches among `requests` (`/api/beta/sketches`), decoded with the sink's own types.
pub fn sketches(requests: &[(String, Vec<u8>)]) -> Vec<wasmon::sinks::SketchSeries> {
    requests
        .iter()
        .filter(|(path, _)| path == "/api/beta/sketches")
        .flat_map(|(_, body)| {
            <wasmon::sinks::SketchPayload as prost::Message>::decode(&body[..])
                .unwrap()
                .sketches
        })
        .collect()
}
