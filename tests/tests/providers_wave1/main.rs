//! The wave-1 DNS provider plugins, each held to the same battery
//! (`wacme_tests::provider_suite`) against its fake API mirroring into
//! PowerDNS.

mod acmedns;
mod azure;
mod cloudflare;
mod desec;
mod digitalocean;
mod gandi;
mod gcloud;
mod godaddy;
mod hetzner;
mod linode;
mod namecheap;
mod ovh;
mod porkbun;
mod route53;
mod vultr;
