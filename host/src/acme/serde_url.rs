//! Serde helpers for `url::Url` fields (as strings), used by the ACME
//! resource types.

use serde::{Deserialize, Deserializer, Serializer};
use url::Url;

pub fn serialize<S: Serializer>(url: &Url, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(url.as_str())
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Url, D::Error> {
    let text = String::deserialize(d)?;
    Url::parse(&text).map_err(|e| serde::de::Error::custom(format!("bad URL {text:?}: {e}")))
}

/// For `Option<Url>`.
pub mod opt {
    use super::*;

    pub fn serialize<S: Serializer>(url: &Option<Url>, s: S) -> Result<S::Ok, S::Error> {
        match url {
            Some(u) => s.serialize_some(u.as_str()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Url>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(text) => Url::parse(&text)
                .map(Some)
                .map_err(|e| serde::de::Error::custom(format!("bad URL {text:?}: {e}"))),
            None => Ok(None),
        }
    }
}

/// For `Vec<Url>`.
pub mod vec {
    use super::*;
    use serde::ser::SerializeSeq;

    pub fn serialize<S: Serializer>(urls: &[Url], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(urls.len()))?;
        for u in urls {
            seq.serialize_element(u.as_str())?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Url>, D::Error> {
        Vec::<String>::deserialize(d)?
            .into_iter()
            .map(|text| {
                Url::parse(&text)
                    .map_err(|e| serde::de::Error::custom(format!("bad URL {text:?}: {e}")))
            })
            .collect()
    }
}
