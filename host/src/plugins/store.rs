//! The state of one plugin instance's store: the empty WASI context, the
//! `wasi:http` context and their resource table, the memory [`Limiter`]
//! (one budget for all memories and tables, remembering when it was hit),
//! and the call context the imports use. The latest WIT version's imports are served here, on [`State`];
//! older versions' in their `since_v0_x` modules.

use super::bindings::latest::wacme::dns::{dns, http, log, types};
use super::host::CallCtx;
use super::limits::{MAX_INSTANCES, MAX_MEMORIES, MAX_TABLES, TABLE_ELEMENT_BYTES};
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::WasiHttpCtx;

/// Per-store state: the empty WASI context, the memory limiter, and the
/// context of the current call for the `http`, `dns` and `log` imports and
/// for `wasi:http`.
pub(crate) struct State {
    pub(crate) wasi: WasiCtx,
    /// `wasi:http`'s settings; its requests go through `call`
    /// ([`super::wasi_http`]).
    pub(crate) http: WasiHttpCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: Limiter,
    pub(crate) call: CallCtx,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// One memory budget for a store: all linear memories and tables together.
/// Records that the budget was hit.
pub(crate) struct Limiter {
    budget: usize,
    used: usize,
    pub(crate) hit: bool,
}

impl Limiter {
    pub(crate) fn new(budget: usize) -> Self {
        Limiter {
            budget,
            used: 0,
            hit: false,
        }
    }

    /// Takes `bytes` more from the budget, or fails (and remembers it).
    fn take(&mut self, bytes: usize) -> wasmtime::Result<bool> {
        match self.used.checked_add(bytes) {
            Some(total) if total <= self.budget => {
                self.used = total;
                Ok(true)
            }
            _ => {
                self.hit = true;
                Err(wasmtime::Error::from(MemoryLimitReached))
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("memory limit reached")]
pub(crate) struct MemoryLimitReached;

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.take(desired.saturating_sub(current))
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.take(
            desired
                .saturating_sub(current)
                .saturating_mul(TABLE_ELEMENT_BYTES),
        )
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }
    fn tables(&self) -> usize {
        MAX_TABLES
    }
    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

impl http::Host for State {
    async fn send(&mut self, request: http::Request) -> Result<http::Response, http::HttpError> {
        self.call.send(request).await
    }
}

impl dns::Host for State {
    async fn exchange(
        &mut self,
        server: String,
        message: Vec<u8>,
    ) -> Result<Vec<u8>, dns::DnsError> {
        self.call.exchange(server, message).await
    }
}

impl log::Host for State {
    async fn log(&mut self, level: log::Level, message: String) {
        self.call.log(level, message)
    }
}

impl types::Host for State {}
