//! Host bindings, one set per WIT version this host loads: [`v0_1`] from
//! `wit/v0.1/dns.wit` and [`v0_2`] from `wit/v0.2/dns.wit` (world
//! `dns-provider` of each). The latest version is the host's own vocabulary;
//! [`super::since_v0_1`] adapts the older one to it.

/// `wacme:dns@0.1.0`: HTTP and log imports; `metadata`, `present`, `cleanup`.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1",
        world: "wacme:dns/dns-provider@0.1.0",
        imports: { default: async },
        exports: { default: async },
    });
}

/// `wacme:dns@0.2.0`: adds the `dns` import, provider hints, DNS servers in
/// the metadata, and the batch exports.
pub mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../wit/v0.2",
        world: "wacme:dns/dns-provider@0.2.0",
        imports: { default: async },
        exports: { default: async },
    });
}

/// The version the host speaks internally.
pub use v0_2 as latest;
