//! Helpers for the batch exports (`present_many` / `cleanup_many`): the one
//! zone a batch is in, and its sets merged per record name.
//!
//! Names are compared as the provider writes them: each function takes the
//! provider's own normalisation (lower case without trailing dot, an
//! absolute name with it, a decoded escape form…).

use crate::{Error, Result, TxtSet};

/// One record name of a batch with every value it must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    /// As the provider's normalisation gives it.
    pub name: String,
    /// In the order the sets give them, each once.
    pub values: Vec<String>,
    /// The TTL the host passed (the name's first set's).
    pub ttl: u32,
}

/// The zone every set of a batch is in, `None` for an empty batch; an error
/// when the sets name several zones (the host never sends such a batch).
pub fn zone(sets: &[TxtSet], normalize: impl Fn(&str) -> String) -> Result<Option<&str>> {
    let Some(first) = sets.first() else {
        return Ok(None);
    };
    let zone = normalize(&first.zone);
    if let Some(other) = sets.iter().find(|s| normalize(&s.zone) != zone) {
        return Err(Error::Permanent(format!(
            "a batch must stay in one zone: {} and {}",
            first.zone, other.zone
        )));
    }
    Ok(Some(first.zone.as_str()))
}

/// The sets of a batch merged per record name (values in order, each once),
/// in the order the names first appear.
pub fn merge(sets: &[TxtSet], normalize: impl Fn(&str) -> String) -> Vec<Name> {
    let mut names: Vec<Name> = Vec::new();
    for set in sets {
        let name = normalize(&set.fqdn);
        let index = match names.iter().position(|n| n.name == name) {
            Some(i) => i,
            None => {
                names.push(Name {
                    name,
                    values: Vec::new(),
                    ttl: set.ttl,
                });
                names.len() - 1
            }
        };
        for v in &set.values {
            if !names[index].values.contains(v) {
                names[index].values.push(v.clone());
            }
        }
    }
    names
}
