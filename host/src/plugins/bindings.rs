//! Host bindings generated from `wit/v0.1/dns.wit` (world `dns-provider`).

wasmtime::component::bindgen!({
    path: "../wit/v0.1",
    world: "wacme:dns/dns-provider@0.1.0",
    imports: { default: async },
    exports: { default: async },
});
