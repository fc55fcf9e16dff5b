//! Host bindings generated from `wit/dns.wit` (world `dns-provider`).

wasmtime::component::bindgen!({
    path: "../wit",
    world: "wacme:dns/dns-provider@0.1.0",
    imports: { default: async },
    exports: { default: async },
});
