//! File output streams that book what they write before they write it.
//!
//! Guests write most files through streams (`write-via-stream`,
//! `append-via-stream`): wasi-libc and the preview-1 adapter turn `write(2)`
//! into stream writes. Each write says how far it will take the file:
//! appending grows it by the write's length; a positioned write grows it to
//! `position + length` if that passes its current size. A file stream allows
//! one write in flight and takes the next only once the last one finished,
//! so the file's size read before a write is current.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use wasmtime_wasi::p2::{DynOutputStream, OutputStream, Pollable, StreamError, StreamResult};

use super::{DiskMeter, Refusal};

/// The error a refused stream write carries; the metered filesystem reports
/// it to the guest as `quota` (`EDQUOT`).
#[derive(Debug)]
pub struct QuotaExceeded;

impl std::fmt::Display for QuotaExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("disk quota exceeded")
    }
}

impl std::error::Error for QuotaExceeded {}

pub struct MeteredStream {
    inner: DynOutputStream,
    file: Arc<std::fs::File>,
    /// Where the next write lands; `None` for an appending stream.
    position: Option<u64>,
    meter: Arc<DiskMeter>,
    refused: Arc<Mutex<Option<Refusal>>>,
}

impl MeteredStream {
    pub fn new(
        inner: DynOutputStream,
        file: Arc<std::fs::File>,
        position: Option<u64>,
        meter: Arc<DiskMeter>,
        refused: Arc<Mutex<Option<Refusal>>>,
    ) -> Self {
        MeteredStream { inner, file, position, meter, refused }
    }

    /// Book the growth a write of `len` bytes causes; the booked bytes.
    fn book(&mut self, len: u64) -> StreamResult<u64> {
        let growth = match self.position {
            None => len,
            Some(p) => {
                let size = self.file.metadata().map(|m| m.len()).unwrap_or(0);
                p.saturating_add(len).saturating_sub(size)
            }
        };
        match self.meter.charge(growth, 0) {
            Ok(()) => Ok(growth),
            Err(r) => {
                self.refused.lock().unwrap().get_or_insert(r);
                Err(StreamError::LastOperationFailed(wasmtime::Error::new(QuotaExceeded)))
            }
        }
    }

    /// After a write of `len` bytes: move on, or give the booking back.
    fn settle(&mut self, len: u64, booked: u64, ok: bool) {
        if ok {
            if let Some(p) = &mut self.position {
                *p += len;
            }
        } else {
            self.meter.release(booked, 0);
        }
    }
}

#[async_trait::async_trait]
impl Pollable for MeteredStream {
    async fn ready(&mut self) {
        self.inner.ready().await
    }
}

#[async_trait::async_trait]
impl OutputStream for MeteredStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        let len = bytes.len() as u64;
        let booked = self.book(len)?;
        let r = self.inner.write(bytes);
        self.settle(len, booked, r.is_ok());
        r
    }

    async fn blocking_write_and_flush(&mut self, bytes: Bytes) -> StreamResult<()> {
        // A write still in flight would make the size below stale.
        self.inner.ready().await;
        let len = bytes.len() as u64;
        let booked = self.book(len)?;
        let r = self.inner.blocking_write_and_flush(bytes).await;
        self.settle(len, booked, r.is_ok());
        r
    }

    fn write_zeroes(&mut self, nelem: usize) -> StreamResult<()> {
        let booked = self.book(nelem as u64)?;
        let r = self.inner.write_zeroes(nelem);
        self.settle(nelem as u64, booked, r.is_ok());
        r
    }

    fn flush(&mut self) -> StreamResult<()> {
        self.inner.flush()
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        self.inner.check_write()
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await
    }
}
