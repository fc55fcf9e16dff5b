//! DNS-01: from authorizations to published, verified, cleaned-up TXT records.
//!
//! - [`dns`]: one question to one server (recursion on or off), no cache.
//! - [`journal`]: what a run presented, for cleanup after a crash.
//! - [`zone`]: CNAME following and zone discovery.
//! - [`propagation`]: waiting until every authoritative server (or resolver)
//!   serves every value.
//! - [`records`]: the TXT sets this process publishes, owned per name, so
//!   orders in flight at once never drop each other's values.
//! - [`solver`]: an order's challenges end to end, cleanup always (and
//!   checked).
//! - [`persist`]: dns-persist-01, the standing record checked on the
//!   authoritative servers and the challenges answered, nothing published.

pub mod dns;
pub mod journal;
pub mod persist;
pub mod propagation;
pub mod records;
pub mod solver;
pub mod zone;
