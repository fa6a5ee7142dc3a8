//! Output capability: the guest's stdout and stderr, captured in memory and
//! capped at `sandbox.output_bytes`.
//!
//! Bytes past the cap are counted and dropped, not refused: refusing makes a
//! Rust guest panic on its next `println!` and a Python session raise
//! `BrokenPipeError`, which would kill a stateful session over one long print.
//! The cut is reported with a marker instead.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use super::HostState;
use super::{Capability, Grant, LimitHit};
use crate::policy::Policy;

#[derive(Debug, Default)]
struct Buffer {
    bytes: Vec<u8>,
    cap: usize,
    dropped: u64,
}

/// A shared, resettable, capped in-memory pipe.
#[derive(Debug, Clone, Default)]
pub struct CappedPipe(Arc<Mutex<Buffer>>);

impl CappedPipe {
    pub fn new(cap: usize) -> Self {
        CappedPipe(Arc::new(Mutex::new(Buffer { bytes: Vec::new(), cap, dropped: 0 })))
    }

    fn push(&self, data: &[u8]) {
        let mut b = self.0.lock().unwrap();
        let room = b.cap.saturating_sub(b.bytes.len());
        let take = room.min(data.len());
        b.bytes.extend_from_slice(&data[..take]);
        b.dropped += (data.len() - take) as u64;
    }

    /// Empty the pipe for the next call, with a new cap; returns what it held
    /// and how many bytes were dropped.
    pub fn take(&self, new_cap: usize) -> (Vec<u8>, u64) {
        let mut b = self.0.lock().unwrap();
        b.cap = new_cap;
        (std::mem::take(&mut b.bytes), std::mem::take(&mut b.dropped))
    }
}

impl IsTerminal for CappedPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl OutputStream for CappedPipe {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

#[async_trait::async_trait]
impl Pollable for CappedPipe {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for CappedPipe {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The marker put where output was cut; it names the limit and its key.
pub fn truncation_marker(dropped: u64, cap: u64) -> String {
    format!("\n... [output truncated: {dropped} more bytes cut at the {cap}-byte limit (sandbox.output_bytes)]")
}

/// Cut `text` to at most `cap` bytes on a character boundary, with the marker.
pub fn cap_text(text: String, cap: u64) -> String {
    if text.len() as u64 <= cap {
        return text;
    }
    let mut end = cap as usize;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let dropped = (text.len() - end) as u64;
    let mut out = text[..end].to_owned();
    out.push_str(&truncation_marker(dropped, cap));
    out
}

pub struct Output;

impl Capability for Output {
    fn prepare(&self, policy: &Policy, grant: &mut Grant<'_>) -> wasmtime::Result<()> {
        let cap = policy.sandbox.output_bytes as usize;
        grant.meters.stdout = CappedPipe::new(cap);
        grant.meters.stderr = CappedPipe::new(cap);
        grant.wasi.stdout(grant.meters.stdout.clone());
        grant.wasi.stderr(grant.meters.stderr.clone());
        Ok(())
    }

    fn arm(&self, policy: &Policy, store: &mut wasmtime::Store<HostState>) -> wasmtime::Result<()> {
        let cap = policy.sandbox.output_bytes as usize;
        store.data().meters.stdout.take(cap);
        store.data().meters.stderr.take(cap);
        Ok(())
    }

    fn diagnose(&self, _: &Policy, _: &wasmtime::Store<HostState>, _: &wasmtime::Error) -> Option<LimitHit> {
        // Output past the cap is cut, never fatal.
        None
    }
}
