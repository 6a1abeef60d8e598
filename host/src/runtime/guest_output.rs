//! A guest's stdout and stderr: the tail is kept (to show a panic message) and complete lines
//! go to the agent's log. Writes never fail, so a chatty guest cannot crash itself.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// Bytes of output kept between two drains.
const KEEP: usize = 16 * 1024;

/// Shared buffer of what the guest printed since the last drain.
#[derive(Clone, Default)]
pub struct GuestOutput {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl GuestOutput {
    /// Takes what was printed since the last call.
    pub fn drain(&self) -> String {
        let mut buffer = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&std::mem::take(&mut *buffer)).into_owned()
    }

    /// What was printed since the last drain, left in place.
    pub fn peek(&self) -> String {
        let buffer = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&buffer).into_owned()
    }

    fn append(&self, bytes: &[u8]) {
        let mut buffer = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        buffer.extend_from_slice(bytes);
        if buffer.len() > KEEP {
            let cut = buffer.len() - KEEP;
            buffer.drain(..cut);
        }
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for GuestOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_tail_and_drains() {
        let out = GuestOutput::default();
        out.append(&vec![b'a'; KEEP]);
        out.append(b"panicked at boom");
        let text = out.drain();
        assert_eq!(text.len(), KEEP);
        assert!(text.ends_with("panicked at boom"));
        assert!(out.drain().is_empty());
    }
}
