//! The ACME directory (RFC 8555 §7.1.1): the CA's endpoint URLs and `meta`
//! (terms of service, website, CAA identities, EAB requirement, profiles).
//! Unknown keys are ignored — CAs add random ones on purpose.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use url::Url;

/// The endpoints and metadata a CA advertises.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Directory {
    #[serde(with = "super::serde_url")]
    pub new_nonce: Url,
    #[serde(with = "super::serde_url")]
    pub new_account: Url,
    #[serde(with = "super::serde_url")]
    pub new_order: Url,
    #[serde(
        default,
        with = "super::serde_url::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub new_authz: Option<Url>,
    #[serde(
        default,
        with = "super::serde_url::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub revoke_cert: Option<Url>,
    #[serde(
        default,
        with = "super::serde_url::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub key_change: Option<Url>,
    /// ARI (RFC 9773).
    #[serde(
        default,
        with = "super::serde_url::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub renewal_info: Option<Url>,
    #[serde(default)]
    pub meta: Meta,
}

/// The directory's `meta` object.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms_of_service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caa_identities: Vec<String>,
    /// dns-persist-01 draft -02: the issuer domain names the CA accepts.
    #[serde(
        rename = "issuerDomainNames",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub issuer_domain_names: Vec<String>,
    /// dns-persist-01 draft -02: where the CA's hashed account URIs live
    /// (e.g. `https://ca.example/account-hash/`); a CA serving -02 must
    /// advertise it, so its presence says the CA speaks -02.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_hash_prefix: Option<String>,
    #[serde(default)]
    pub external_account_required: bool,
    /// Certificate profiles offered: name → description.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub profiles: BTreeMap<String, String>,
}

impl Meta {
    /// The dns-persist-01 draft the directory announces: -02 when it
    /// advertises `accountHashPrefix` (which every -02 CA must, and no
    /// earlier draft defines), else -00/-01.
    pub fn persist_draft(&self) -> super::persist::Draft {
        match self.account_hash_prefix {
            Some(_) => super::persist::Draft::V02,
            None => super::persist::Draft::Early,
        }
    }
}

impl Directory {
    /// Parses a directory document, with a message naming what is missing
    /// when the JSON is not an ACME directory.
    pub fn parse(body: &[u8]) -> Result<Directory, String> {
        let value: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| format!("the directory is not valid JSON ({e})"))?;
        let Some(obj) = value.as_object() else {
            return Err("the directory is not a JSON object".into());
        };
        let missing: Vec<&str> = ["newNonce", "newAccount", "newOrder"]
            .into_iter()
            .filter(|k| !obj.get(*k).is_some_and(|v| v.is_string()))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "not an ACME directory: missing {} (is the URL the CA's directory?)",
                missing.join(", ")
            ));
        }
        // Lenient about optional members of the wrong shape: drop them
        // rather than refuse the whole directory.
        let mut value = value;
        let obj = value.as_object_mut().expect("checked above");
        for key in ["newAuthz", "revokeCert", "keyChange", "renewalInfo"] {
            if obj
                .get(key)
                .is_some_and(|v| !v.is_string() || Url::parse(v.as_str().unwrap_or("")).is_err())
            {
                obj.remove(key);
            }
        }
        if obj.get("meta").is_some_and(|m| !m.is_object()) {
            obj.remove("meta");
        }
        if let Some(meta) = obj.get_mut("meta").and_then(|m| m.as_object_mut()) {
            normalize_meta(meta);
        }
        let dir: Directory =
            serde_json::from_value(value).map_err(|e| format!("bad ACME directory: {e}"))?;
        Ok(dir)
    }
}

/// Drops `meta` members of the wrong type; profile descriptions that are
/// not strings are kept as their JSON text.
fn normalize_meta(meta: &mut serde_json::Map<String, serde_json::Value>) {
    use serde_json::Value;
    for key in ["termsOfService", "website", "accountHashPrefix"] {
        if meta.get(key).is_some_and(|v| !v.is_string()) {
            meta.remove(key);
        }
    }
    if meta
        .get("externalAccountRequired")
        .is_some_and(|v| !v.is_boolean())
    {
        meta.remove("externalAccountRequired");
    }
    for key in ["caaIdentities", "issuerDomainNames"] {
        match meta.get_mut(key) {
            Some(Value::Array(items)) => items.retain(|v| v.is_string()),
            Some(_) => {
                meta.remove(key);
            }
            None => {}
        }
    }
    match meta.get_mut("profiles") {
        Some(Value::Object(profiles)) => {
            for v in profiles.values_mut() {
                if !v.is_string() {
                    *v = Value::String(v.to_string());
                }
            }
        }
        Some(_) => {
            meta.remove("profiles");
        }
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lets_encrypt_style_directory_with_random_keys() {
        let body = br#"{
            "keyChange": "https://acme.example/acme/key-change",
            "meta": {
                "caaIdentities": ["letsencrypt.org"],
                "profiles": {"classic": "The same profile", "shortlived": "Short"},
                "termsOfService": "https://acme.example/tos.pdf",
                "website": "https://acme.example"
            },
            "newAccount": "https://acme.example/acme/new-acct",
            "newNonce": "https://acme.example/acme/new-nonce",
            "newOrder": "https://acme.example/acme/new-order",
            "renewalInfo": "https://acme.example/acme/renewal-info",
            "revokeCert": "https://acme.example/acme/revoke-cert",
            "xK3j8Qh2Lw": "https://community.letsencrypt.org/t/adding-random-entries-to-the-directory/33417"
        }"#;
        let d = Directory::parse(body).unwrap();
        assert_eq!(d.new_nonce.as_str(), "https://acme.example/acme/new-nonce");
        assert_eq!(
            d.renewal_info.unwrap().as_str(),
            "https://acme.example/acme/renewal-info"
        );
        assert_eq!(d.meta.caa_identities, ["letsencrypt.org"]);
        assert_eq!(d.meta.profiles.len(), 2);
        assert!(!d.meta.external_account_required);
        assert_eq!(
            d.meta.terms_of_service.as_deref(),
            Some("https://acme.example/tos.pdf")
        );
    }

    #[test]
    fn pebble_directory() {
        let body = br#"{"keyChange":"https://localhost:14000/rollover-account-key","meta":{"externalAccountRequired":true,"termsOfService":"data:text/plain,Do%20what%20thou%20wilt"},"newAccount":"https://localhost:14000/sign-me-up","newNonce":"https://localhost:14000/nonce-plz","newOrder":"https://localhost:14000/order-plz","revokeCert":"https://localhost:14000/revoke-cert"}"#;
        let d = Directory::parse(body).unwrap();
        assert!(d.meta.external_account_required);
        assert!(d.renewal_info.is_none());
        assert!(d.meta.profiles.is_empty());
    }

    #[test]
    fn rejects_non_directories() {
        let e = Directory::parse(br#"{"hello":"world"}"#).unwrap_err();
        assert!(
            e.contains("not an ACME directory: missing newNonce, newAccount, newOrder"),
            "{e}"
        );
        assert!(
            Directory::parse(b"[1,2]")
                .unwrap_err()
                .contains("not a JSON object")
        );
        assert!(
            Directory::parse(br#"{"newNonce":"https://a/"#)
                .unwrap_err()
                .contains("not valid JSON")
        );
        let e = Directory::parse(
            br#"{"newNonce":"nope","newAccount":"https://a/","newOrder":"https://a/"}"#,
        )
        .unwrap_err();
        assert!(e.contains("bad ACME directory"), "{e}");
    }

    #[test]
    fn tolerates_odd_optional_members() {
        let body = br#"{"newNonce":"https://a/n","newAccount":"https://a/a","newOrder":"https://a/o",
            "keyChange": 5, "meta": {"profiles": {"x": 1}, "caaIdentities": "ca.example", "website": 3}}"#;
        let d = Directory::parse(body).unwrap();
        assert!(d.key_change.is_none());
        assert_eq!(d.meta.profiles.get("x").map(String::as_str), Some("1"));
        assert!(d.meta.caa_identities.is_empty());
        assert!(d.meta.website.is_none());
        let body =
            br#"{"newNonce":"https://a/n","newAccount":"https://a/a","newOrder":"https://a/o",
            "meta": {"accountHashPrefix": 7, "issuerDomainNames": ["ca.example", 3]}}"#;
        let d = Directory::parse(body).unwrap();
        assert!(d.meta.account_hash_prefix.is_none());
        assert_eq!(d.meta.issuer_domain_names, ["ca.example"]);
    }

    #[test]
    fn dns_persist_draft_02_meta() {
        use crate::acme::persist::Draft;
        // draft-ietf-acme-dns-persist-02 §10.3, Figure 6.
        let body =
            br#"{"newNonce":"https://a/n","newAccount":"https://a/a","newOrder":"https://a/o",
            "meta": {"accountHashPrefix": "https://ca.example/account-hash/",
                     "issuerDomainNames": ["authority.example", "ca.example.net"]}}"#;
        let d = Directory::parse(body).unwrap();
        assert_eq!(
            d.meta.account_hash_prefix.as_deref(),
            Some("https://ca.example/account-hash/")
        );
        assert_eq!(
            d.meta.issuer_domain_names,
            ["authority.example", "ca.example.net"]
        );
        assert_eq!(d.meta.persist_draft(), Draft::V02);
        let d = Directory::parse(
            br#"{"newNonce":"https://a/n","newAccount":"https://a/a","newOrder":"https://a/o",
            "meta": {"caaIdentities": ["ca.example"]}}"#,
        )
        .unwrap();
        assert_eq!(d.meta.persist_draft(), Draft::Early);
    }
}
