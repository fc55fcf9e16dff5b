//! Wave-1 DNS providers through the shared battery (`provider_suite`), each
//! against its fake API mirroring into PowerDNS.

mod azure;
mod gcloud;
