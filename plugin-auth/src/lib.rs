//! Request signing and authentication helpers shared by wacme's provider
//! plugins. Pure Rust, so it builds for `wasm32-wasip2` and natively (for
//! unit tests and the fake APIs).

pub mod sigv4;
