//! The wave-2 DNS provider plugins, each held to the same battery
//! (`wacme_tests::provider_suite`) against its fake API mirroring into
//! PowerDNS.

mod baiducloud;
mod dnspod;
mod huaweicloud;
mod tencentcloud;
mod volcengine;
