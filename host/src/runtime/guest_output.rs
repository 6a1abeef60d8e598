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
    buffer: Arc<Mutex<Kept>>,
}

/// The tail kept, and how many lines were cut off before it.
#[derive(Default)]
struct Kept {
    tail: Vec<u8>,
    lines_cut: usize,
}

impl GuestOutput {
    /// Takes what was printed since the last call, and how many lines of it were cut off
    /// (only the last [`KEEP`] bytes are kept).
    pub fn drain(&self) -> (String, usize) {
        let mut kept = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        let Kept { tail, lines_cut } = std::mem::take(&mut *kept);
        (String::from_utf8_lossy(&tail).into_owned(), lines_cut)
    }

    /// What was printed since the last drain, left in place.
    pub fn peek(&self) -> String {
        let kept = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&kept.tail).into_owned()
    }

    fn append(&self, bytes: &[u8]) {
        let mut kept = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        kept.tail.extend_from_slice(bytes);
        if kept.tail.len() > KEEP {
            let cut = kept.tail.len() - KEEP;
            let lines = kept.tail[..cut].iter().filter(|b| **b == b'\n').count();
            kept.lines_cut += lines;
            kept.tail.drain(..cut);
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
    fn keeps_the_tail_counts_what_is_cut_and_drains() {
        let out = GuestOutput::default();
        out.append(b"first\n");
        out.append(&vec![b'a'; KEEP]);
        out.append(b"panicked at boom");
        let (text, cut) = out.drain();
        assert_eq!(text.len(), KEEP);
        assert_eq!(cut, 1);
        assert!(text.ends_with("panicked at boom"));
        assert!(out.drain().0.is_empty());
    }
}
