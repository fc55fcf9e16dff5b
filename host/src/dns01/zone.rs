//! Where a challenge record lives: CNAME following from
//! `_acme-challenge.<domain>` to the effective record name, and the zone
//! that holds it (found by an SOA walk up the labels, cached for the run, or
//! given explicitly for split-horizon setups).

use super::dns::{DnsConfig, DnsError, name, text};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use std::collections::HashMap;
use std::sync::Mutex;

/// Most CNAME hops followed from `_acme-challenge.<domain>`.
pub const MAX_CNAME_HOPS: usize = 10;

/// Why a zone or an effective name could not be found.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ZoneError {
    #[error("no zone found for {name}: no SOA record at any level (resolvers: {resolvers})")]
    NotFound { name: String, resolvers: String },
    #[error("{name} is not inside the zone {zone} given by --dns-zone")]
    OutsideExplicitZone { name: String, zone: String },
    #[error("CNAME chain from {start} is a loop or longer than {MAX_CNAME_HOPS} hops: {chain}")]
    CnameLoop { start: String, chain: String },
    #[error(transparent)]
    Dns(#[from] DnsError),
}

/// A record's place: its effective name and the zone that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// `_acme-challenge.<domain>` after CNAMEs (lower case, no trailing dot).
    pub fqdn: String,
    /// The zone apex.
    pub zone: String,
    /// The CNAME hops followed, if any (for messages).
    pub via: Vec<String>,
}

impl Placement {
    /// `fqdn` relative to `zone`, `@` at the apex.
    pub fn relative_name(&self) -> String {
        relative(&self.fqdn, &self.zone)
    }
}

/// `fqdn` relative to `zone` (`@` when equal).
pub fn relative(fqdn: &str, zone: &str) -> String {
    if fqdn == zone {
        return "@".into();
    }
    fqdn.strip_suffix(zone)
        .and_then(|s| s.strip_suffix('.'))
        .unwrap_or(fqdn)
        .to_string()
}

/// Finds zones and effective names, remembering each name's zone for the run.
pub struct ZoneFinder {
    dns: DnsConfig,
    explicit_zone: Option<String>,
    follow_cnames: bool,
    cache: Mutex<HashMap<String, String>>,
}

impl ZoneFinder {
    pub fn new(dns: DnsConfig, explicit_zone: Option<String>, follow_cnames: bool) -> Self {
        let explicit_zone = explicit_zone.map(|z| z.trim_end_matches('.').to_ascii_lowercase());
        ZoneFinder {
            dns,
            explicit_zone,
            follow_cnames,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The effective record name and zone for `record` (e.g.
    /// `_acme-challenge.www.example.com`).
    pub async fn place(&self, record: &str) -> Result<Placement, ZoneError> {
        let (fqdn, via) = if self.follow_cnames && self.explicit_zone.is_none() {
            self.follow_cname(record).await?
        } else {
            (record.to_string(), Vec::new())
        };
        let zone = self.zone_of(&fqdn).await?;
        Ok(Placement { fqdn, zone, via })
    }

    /// Follows CNAMEs from `start` (bounded, loop-safe).
    async fn follow_cname(&self, start: &str) -> Result<(String, Vec<String>), ZoneError> {
        let mut current = start.to_string();
        let mut via: Vec<String> = Vec::new();
        loop {
            let answer = self
                .dns
                .recursive(&name(&current)?, RecordType::CNAME)
                .await?;
            let qname = name(&current)?;
            let target = answer.answers.iter().find_map(|r| match &r.data {
                RData::CNAME(c) if r.name == qname => Some(text(&c.0)),
                _ => None,
            });
            let Some(target) = target else {
                return Ok((current, via));
            };
            if target == start || via.contains(&target) || via.len() >= MAX_CNAME_HOPS {
                via.push(target);
                return Err(ZoneError::CnameLoop {
                    start: start.to_string(),
                    chain: via.join(" → "),
                });
            }
            via.push(target.clone());
            current = target;
        }
    }

    /// The zone holding `fqdn`: the explicit zone, or the closest enclosing
    /// name with an SOA record.
    pub async fn zone_of(&self, fqdn: &str) -> Result<String, ZoneError> {
        if let Some(zone) = &self.explicit_zone {
            if fqdn == zone || fqdn.ends_with(&format!(".{zone}")) {
                return Ok(zone.clone());
            }
            return Err(ZoneError::OutsideExplicitZone {
                name: fqdn.into(),
                zone: zone.clone(),
            });
        }
        if let Some(zone) = self.cached(fqdn) {
            return Ok(zone);
        }
        let mut candidate: Name = name(fqdn)?;
        loop {
            let answer = self.dns.recursive(&candidate, RecordType::SOA).await?;
            // An SOA owned by the name itself: it is a zone apex.
            if answer.rcode == ResponseCode::NoError
                && answer
                    .answers
                    .iter()
                    .any(|r| matches!(r.data, RData::SOA(_)) && r.name == candidate)
            {
                return Ok(self.remember(fqdn, text(&candidate)));
            }
            // A negative answer carries the enclosing zone's SOA in authority.
            if let Some(owner) = answer.authorities.iter().find_map(|r| match r.data {
                RData::SOA(_) if r.name.zone_of(&candidate) => Some(text(&r.name)),
                _ => None,
            }) && !owner.is_empty()
            {
                return Ok(self.remember(fqdn, owner));
            }
            if candidate.num_labels() <= 1 {
                return Err(ZoneError::NotFound {
                    name: fqdn.into(),
                    resolvers: self
                        .dns
                        .resolvers
                        .iter()
                        .map(|r| r.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            candidate = candidate.base_name();
        }
    }

    fn cached(&self, fqdn: &str) -> Option<String> {
        self.cache.lock().unwrap().get(fqdn).cloned()
    }

    fn remember(&self, fqdn: &str, zone: String) -> String {
        self.cache
            .lock()
            .unwrap()
            .insert(fqdn.to_string(), zone.clone());
        zone
    }

    /// Authoritative nameservers of `zone` (names, through the resolvers).
    pub async fn nameservers(&self, zone: &str) -> Result<Vec<Name>, ZoneError> {
        let answer = self.dns.recursive(&name(zone)?, RecordType::NS).await?;
        let mut out: Vec<Name> = answer
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::NS(ns) => Some(ns.0.clone()),
                _ => None,
            })
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_names() {
        assert_eq!(
            relative("_acme-challenge.www.example.com", "example.com"),
            "_acme-challenge.www"
        );
        assert_eq!(
            relative("_acme-challenge.example.com", "example.com"),
            "_acme-challenge"
        );
        assert_eq!(relative("example.com", "example.com"), "@");
    }
}
