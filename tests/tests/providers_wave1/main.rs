//! The wave-1 DNS provider plugins, each held to the same battery
//! (`wacme_tests::provider_suite`) against its fake API.

mod route53;
