//! Unit tests of the RFC 2136 provider's pure functions. TSIG MACs are
//! checked against hickory-proto's own TSIG implementation (ring HMAC), a
//! dev-dependency only.

use super::*;
use hickory_proto::op::UpdateMessage;
use hickory_proto::rr::DNSClass;
use hickory_proto::rr::TSigner;
use hickory_proto::rr::rdata::tsig::{TSIG, TsigAlgorithm, TsigError, make_tsig_record};

const SECRET: &str = "e5jUUHqOWrxQKn6EjHyCN0B27IpLFLK3vI7Ux28r9Es=";
const VALUE: &str = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";

fn set(values: &[&str]) -> TxtSet {
    TxtSet {
        zone: "example.test".into(),
        fqdn: "_acme-challenge.www.example.test".into(),
        relative_name: "_acme-challenge.www".into(),
        values: values.iter().map(|v| v.to_string()).collect(),
        ttl: 60,
    }
}

fn key(algorithm: Algorithm) -> Key {
    Key::new("wacme-key", algorithm, SECRET).unwrap()
}

fn invalid(result: Result<impl std::fmt::Debug>) -> String {
    match result {
        Err(Error::InvalidConfig(m)) => m,
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[test]
fn metadata_declares_the_server_template() {
    let m = Rfc2136::metadata();
    assert_eq!(m.name, "rfc2136");
    assert_eq!(m.dns_servers, ["{server}:{port}"]);
    assert!(m.allowed_hosts.is_empty());
    assert_eq!((m.default_ttl, m.min_ttl), (60, 1));
    assert!(m.hints.can_delete && m.hints.max_values_per_name.is_none());
    let field = |n: &str| m.config.iter().find(|f| f.name == n).unwrap();
    assert!(field("server").required);
    assert_eq!(
        field("server").env_aliases,
        ["RFC2136_NAMESERVER", "NSUPDATE_SERVER"]
    );
    assert_eq!(field("port").default.as_deref(), Some("53"));
    assert_eq!(field("port").env_aliases, ["NSUPDATE_SERVER_PORT"]);
    assert_eq!(field("tsig_key_name").env_aliases, ["RFC2136_TSIG_KEY"]);
    assert_eq!(
        field("tsig_algorithm").env_aliases,
        ["RFC2136_TSIG_ALGORITHM"]
    );
    assert!(field("tsig_algorithm").default.is_none());
    assert!(field("tsig_secret").secret);
    assert_eq!(field("tsig_secret").env_aliases, ["RFC2136_TSIG_SECRET"]);
    assert!(field("tsig_key").secret);
    assert!(!field("tsig").required && field("ttl").default.is_none());
}

#[test]
fn server_addresses() {
    for (server, port, want) in [
        ("ns1.example.test", Some("53"), "ns1.example.test:53"),
        ("ns1.example.test.", None, "ns1.example.test:53"),
        (" 192.0.2.53 ", Some("5353"), "192.0.2.53:5353"),
        ("192.0.2.53:5353", Some("53"), "192.0.2.53:5353"),
        ("192.0.2.53:5353", Some("5353"), "192.0.2.53:5353"),
        ("2001:db8::53", Some("53"), "[2001:db8::53]:53"),
        ("2001:db8::53", Some("5353"), "[2001:db8::53]:5353"),
        ("[2001:db8::53]", Some("5353"), "[2001:db8::53]:5353"),
        ("[2001:db8::53]:5300", Some("53"), "[2001:db8::53]:5300"),
        ("::1", None, "[::1]:53"),
    ] {
        assert_eq!(
            server_address(server, port).unwrap(),
            want,
            "{server} {port:?}"
        );
    }
    for (server, port) in [
        ("", None),
        (":53", None),
        ("ns1:0", None),
        ("ns1:http", None),
        ("ns1:5353", Some("5300")),
        ("[2001:db8::53]:5353", Some("5300")),
        ("[2001:db8::53", None),
        ("[ns1]:53", None),
        ("[2001:db8::53]x", None),
        ("ns 1", None),
        ("https://ns1", None),
        ("ns1", Some("65536")),
        ("ns1", Some("x")),
    ] {
        invalid(server_address(server, port));
    }
    let m = invalid(server_address("ns1:5353", Some("5300")));
    assert!(m.contains("5353") && m.contains("5300"), "{m}");
}

#[test]
fn keys_from_separate_fields() {
    let k = key_from_config(&Config::new([
        ("tsig_key_name", "wacme-key."),
        ("tsig_secret", SECRET),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(k, key(Algorithm::HmacSha256));
    for (text, alg) in [
        ("hmac-sha256.", Algorithm::HmacSha256),
        ("HMAC-SHA512", Algorithm::HmacSha512),
        ("hmac-sha384", Algorithm::HmacSha384),
        ("hmac-md5", Algorithm::HmacMd5),
        ("HMAC-MD5.SIG-ALG.REG.INT.", Algorithm::HmacMd5),
    ] {
        let k = key_from_config(&Config::new([
            ("tsig_key_name", "wacme-key"),
            ("tsig_secret", SECRET),
            ("tsig_algorithm", text),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(k.algorithm, alg, "{text}");
    }
    for alg in ["hmac-sha1", "hmac-sha224", "gss-tsig"] {
        let m = invalid(key_from_config(&Config::new([
            ("tsig_key_name", "k"),
            ("tsig_secret", SECRET),
            ("tsig_algorithm", alg),
        ])));
        assert!(m.contains("hmac-sha256, hmac-sha384, hmac-sha512"), "{m}");
    }
    let m = invalid(key_from_config(&Config::new([("tsig_key_name", "k")])));
    assert!(m.contains("tsig_secret"), "{m}");
    let m = invalid(key_from_config(&Config::new([("tsig_secret", SECRET)])));
    assert!(m.contains("tsig_key_name"), "{m}");
    let m = invalid(key_from_config(&Config::new([
        ("tsig_key_name", "k"),
        ("tsig_secret", "not base64!"),
    ])));
    assert!(m.contains("base64") && !m.contains(SECRET), "{m}");
}

#[test]
fn keys_from_a_key_file() {
    let file = format!(
        "# generated by tsig-keygen\nkey \"wacme-key\" {{\n\talgorithm hmac-sha512;\n\tsecret \
         \"{SECRET}\";\n}};\n"
    );
    let k = key_from_config(&Config::new([("tsig_key", file.as_str())]))
        .unwrap()
        .unwrap();
    assert_eq!(k, key(Algorithm::HmacSha512));
    for field in ["tsig_key_name", "tsig_secret", "tsig_algorithm"] {
        let m = invalid(key_from_config(&Config::new([
            ("tsig_key", file.as_str()),
            (field, "hmac-sha512"),
        ])));
        assert!(m.contains("tsig_key") && m.contains(field), "{m}");
    }
    let m = invalid(key_from_config(&Config::new([(
        "tsig_key",
        "/etc/bind/wacme.key",
    )])));
    assert!(m.contains("not its path"), "{m}");
    let m = invalid(key_from_config(&Config::new([(
        "tsig_key",
        "key \"k\" { };",
    )])));
    assert!(
        m.starts_with("`tsig_key`: ") && m.contains("algorithm"),
        "{m}"
    );
}

#[test]
fn unsigned_updates_must_be_asked_for() {
    let m = invalid(key_from_config(&Config::new([("server", "ns1")])));
    assert!(m.contains("tsig=none") && m.contains("tsig_key"), "{m}");
    assert_eq!(
        key_from_config(&Config::new([("tsig", "none")])).unwrap(),
        None
    );
    assert_eq!(
        key_from_config(&Config::new([("tsig", " NONE ")])).unwrap(),
        None
    );
    let m = invalid(key_from_config(&Config::new([
        ("tsig", "none"),
        ("tsig_secret", SECRET),
    ])));
    assert!(m.contains("tsig_secret"), "{m}");
    invalid(key_from_config(&Config::new([("tsig", "yes")])));
}

#[test]
fn settings_from_config() {
    let s = Settings::from_config(&Config::new([
        ("server", "127.0.0.1"),
        ("port", "5353"),
        ("tsig_key_name", "wacme-key"),
        ("tsig_secret", SECRET),
        ("ttl", "30"),
    ]))
    .unwrap();
    assert_eq!(s.server, "127.0.0.1:5353");
    assert_eq!(s.key, Some(key(Algorithm::HmacSha256)));
    assert_eq!(s.ttl, Some(30));
    let m = invalid(Settings::from_config(&Config::new([("tsig", "none")])));
    assert!(m.contains("server"), "{m}");
    for ttl in ["0", "-1", "x"] {
        invalid(Settings::from_config(&Config::new([
            ("server", "ns1"),
            ("tsig", "none"),
            ("ttl", ttl),
        ])));
    }
}

fn txt_strings(record: &hickory_proto::rr::Record) -> Vec<Vec<u8>> {
    match &record.data {
        RData::TXT(txt) => txt.txt_data.iter().map(|s| s.to_vec()).collect(),
        other => panic!("not TXT: {other:?}"),
    }
}

#[test]
fn add_messages() {
    let message = build_update(&set(&[VALUE, "second"]), Change::Add { ttl: 60 }).unwrap();
    let parsed = Message::from_vec(&message.to_vec().unwrap()).unwrap();
    assert_eq!(parsed.metadata.op_code, OpCode::Update);
    assert_eq!(parsed.metadata.id, message.metadata.id);
    let zones = parsed.zones();
    assert_eq!(zones.len(), 1);
    assert_eq!(zones[0].name().to_ascii(), "example.test.");
    assert_eq!(zones[0].query_type(), RecordType::SOA);
    assert_eq!(zones[0].query_class(), DNSClass::IN);
    assert!(parsed.prerequisites().is_empty());
    assert!(parsed.additionals.is_empty() && parsed.edns.is_none());
    let updates = parsed.updates();
    assert_eq!(updates.len(), 2);
    for u in updates {
        assert_eq!(u.name.to_ascii(), "_acme-challenge.www.example.test.");
        assert_eq!(u.dns_class, DNSClass::IN);
        assert_eq!(u.ttl, 60);
    }
    let mut values: Vec<_> = updates.iter().map(txt_strings).collect();
    values.sort();
    assert_eq!(
        values,
        [vec![VALUE.as_bytes().to_vec()], vec![b"second".to_vec()]]
    );
}

#[test]
fn one_message_carries_every_name_of_a_batch() {
    let mut other = set(&["other"]);
    other.fqdn = "_acme-challenge.example.test".into();
    other.relative_name = "_acme-challenge".into();
    for change in [Change::Add { ttl: 60 }, Change::Delete] {
        let messages = vec![
            build_update(&set(&[VALUE, "second"]), change).unwrap(),
            build_update(&other, change).unwrap(),
        ];
        let merged = merge(messages);
        let parsed = Message::from_vec(&merged.to_vec().unwrap()).unwrap();
        assert_eq!(parsed.zones().len(), 1, "one zone section");
        let mut names: Vec<(String, Vec<Vec<u8>>)> = parsed
            .updates()
            .iter()
            .map(|u| (u.name.to_ascii(), txt_strings(u)))
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                (
                    "_acme-challenge.example.test.".into(),
                    vec![b"other".to_vec()]
                ),
                (
                    "_acme-challenge.www.example.test.".into(),
                    vec![VALUE.as_bytes().to_vec()]
                ),
                (
                    "_acme-challenge.www.example.test.".into(),
                    vec![b"second".to_vec()]
                ),
            ]
        );
        let class = if matches!(change, Change::Delete) {
            DNSClass::NONE
        } else {
            DNSClass::IN
        };
        assert!(parsed.updates().iter().all(|u| u.dns_class == class));
    }
}

#[test]
fn delete_messages_remove_exactly_the_values() {
    let message = build_update(&set(&[VALUE]), Change::Delete).unwrap();
    let parsed = Message::from_vec(&message.to_vec().unwrap()).unwrap();
    assert_eq!(parsed.zones()[0].name().to_ascii(), "example.test.");
    assert!(parsed.prerequisites().is_empty());
    let updates = parsed.updates();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].dns_class, DNSClass::NONE);
    assert_eq!(updates[0].ttl, 0);
    assert_eq!(updates[0].record_type(), RecordType::TXT);
    assert_eq!(txt_strings(&updates[0]), [VALUE.as_bytes().to_vec()]);
}

#[test]
fn long_values_are_split_and_ids_vary() {
    let long = "x".repeat(600);
    let rdata = txt_rdata(&long);
    let lens: Vec<usize> = rdata.txt_data.iter().map(|s| s.len()).collect();
    assert_eq!(lens, [255, 255, 90]);
    assert_eq!(txt_rdata("").txt_data.len(), 0);
    let ids: std::collections::HashSet<u16> = (0..16)
        .map(|_| {
            build_update(&set(&[VALUE]), Change::Delete)
                .unwrap()
                .metadata
                .id
        })
        .collect();
    assert!(ids.len() > 1, "message IDs are not random: {ids:?}");
}

#[test]
fn names_outside_the_zone_are_refused() {
    let mut s = set(&[VALUE]);
    s.fqdn = "_acme-challenge.other.test".into();
    assert!(matches!(
        build_update(&s, Change::Delete),
        Err(Error::Permanent(_))
    ));
    s.fqdn = "bad..name".into();
    assert!(build_update(&s, Change::Delete).is_err());
}

fn hickory_algorithm(algorithm: Algorithm) -> TsigAlgorithm {
    match algorithm {
        Algorithm::HmacSha256 => TsigAlgorithm::HmacSha256,
        Algorithm::HmacSha384 => TsigAlgorithm::HmacSha384,
        Algorithm::HmacSha512 => TsigAlgorithm::HmacSha512,
        Algorithm::HmacMd5 => TsigAlgorithm::HmacMd5,
    }
}

fn signer(k: &Key) -> TSigner {
    TSigner::new(
        k.secret.clone(),
        hickory_algorithm(k.algorithm),
        Name::from_ascii(&k.name).unwrap(),
        tsig::FUDGE,
    )
    .unwrap()
}

#[test]
fn signed_requests_verify_with_hickory() {
    for algorithm in [
        Algorithm::HmacSha256,
        Algorithm::HmacSha384,
        Algorithm::HmacSha512,
    ] {
        let k = key(algorithm);
        let message = build_update(&set(&[VALUE, "x"]), Change::Add { ttl: 60 }).unwrap();
        let (bytes, mac) = encode(&message, Some(&k), 1_700_000_000).unwrap();
        let (hmac, time, range) = signer(&k)
            .verify_message_byte(&bytes, None, true)
            .unwrap_or_else(|e| panic!("{algorithm:?}: {e}"));
        assert_eq!(Some(hmac), mac);
        assert_eq!(time, 1_700_000_000);
        assert!(range.contains(&1_700_000_100));
        // hickory reads the same message back, TSIG last.
        let parsed = Message::from_vec(&bytes).unwrap();
        assert_eq!(parsed.signature().unwrap().name.to_ascii(), "wacme-key.");

        // Signed by hickory, the same message gives the same MAC.
        let mut copy = message.clone();
        copy.finalize(&signer(&k), 1_700_000_000).unwrap();
        assert_eq!(copy.to_vec().unwrap(), bytes, "{algorithm:?}");

        // A wrong secret does not verify.
        let wrong = Key::new("wacme-key", algorithm, "AAAA").unwrap();
        let (bytes, _) = encode(&message, Some(&wrong), 1_700_000_000).unwrap();
        assert!(signer(&k).verify_message_byte(&bytes, None, true).is_err());
    }
    let (plain, mac) = encode(
        &build_update(&set(&[VALUE]), Change::Delete).unwrap(),
        None,
        0,
    )
    .unwrap();
    assert!(mac.is_none());
    assert!(Message::from_vec(&plain).unwrap().signature().is_none());
}

/// A response to an UPDATE with `id`, signed the way hickory's server side
/// signs (RFC 8945 §4.3.1) when `sign` holds the key and request MAC.
fn response(id: u16, rcode: ResponseCode, sign: Option<(&Key, &[u8], u64)>) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Response, OpCode::Update);
    m.metadata.response_code = rcode;
    let mut zone = hickory_proto::op::Query::new();
    zone.set_name(Name::from_ascii("example.test.").unwrap())
        .set_query_type(RecordType::SOA);
    m.add_zone(zone);
    let Some((k, request_mac, time)) = sign else {
        return m.to_vec().unwrap();
    };
    let signer = signer(k);
    let stub = TSIG::new(
        hickory_algorithm(k.algorithm),
        time,
        tsig::FUDGE,
        Vec::new(),
        id,
        None,
        Vec::new(),
    );
    let tbs = signer
        .encode_response_tbs(request_mac, &m.to_vec().unwrap(), &stub)
        .unwrap();
    let mac = signer.sign(&tbs).unwrap();
    m.set_signature(Box::new(make_tsig_record(
        Name::from_ascii(&k.name).unwrap(),
        stub.set_mac(mac),
    )));
    m.to_vec().unwrap()
}

/// An error answer carrying an unsigned TSIG with `error`, as a server
/// sends for BADSIG and BADKEY (RFC 8945 §5.3.2).
fn tsig_error_response(id: u16, error: TsigError, other: Vec<u8>) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Response, OpCode::Update);
    m.metadata.response_code = ResponseCode::NotAuth;
    m.set_signature(Box::new(make_tsig_record(
        Name::from_ascii("wacme-key").unwrap(),
        TSIG::new(
            TsigAlgorithm::HmacSha256,
            1_700_000_000,
            300,
            Vec::new(),
            id,
            Some(error),
            other,
        ),
    )));
    m.to_vec().unwrap()
}

#[test]
fn signed_answers_are_verified() {
    let k = key(Algorithm::HmacSha256);
    let s = set(&[VALUE]);
    let message = build_update(&s, Change::Add { ttl: 60 }).unwrap();
    let id = message.metadata.id;
    let (_, mac) = encode(&message, Some(&k), 1_700_000_000).unwrap();
    let mac = mac.unwrap();
    let check =
        |bytes: &[u8], now| check_response(bytes, id, Some((&k, &mac)), now, &s, "127.0.0.1:53");

    let good = response(id, ResponseCode::NoError, Some((&k, &mac, 1_700_000_001)));
    check(&good, 1_700_000_002).unwrap();

    let unsigned = response(id, ResponseCode::NoError, None);
    let Err(Error::Permanent(m)) = check(&unsigned, 1_700_000_002) else {
        panic!("unsigned NOERROR accepted")
    };
    assert!(
        m.contains("no TSIG signature") && m.contains("cannot be trusted"),
        "{m}"
    );
    // Without a key, an unsigned answer is what the server sends.
    check_response(&unsigned, id, None, 0, &s, "ns1:53").unwrap();

    let other_request = response(
        id,
        ResponseCode::NoError,
        Some((&k, &[7; 32], 1_700_000_001)),
    );
    assert!(
        matches!(check(&other_request, 1_700_000_002), Err(Error::Transient(m)) if m.contains("signature is wrong"))
    );

    let Err(Error::Permanent(m)) = check(&good, 1_700_001_000) else {
        panic!("stale answer accepted")
    };
    assert!(m.contains("tolerance is 300 s"), "{m}");

    let wrong_id = response(id.wrapping_add(1), ResponseCode::NoError, None);
    assert!(matches!(check(&wrong_id, 0), Err(Error::Transient(_))));
    assert!(matches!(check(b"\x00\x01", 0), Err(Error::Transient(_))));
}

#[test]
fn error_answers_map_to_wit_cases() {
    let k = key(Algorithm::HmacSha256);
    let s = set(&[VALUE]);
    let id = 0x4242;
    let mac = [1u8; 32];
    let check = |bytes: &[u8]| {
        check_response(
            bytes,
            id,
            Some((&k, &mac)),
            1_700_000_000,
            &s,
            "127.0.0.1:53",
        )
    };

    let Err(Error::Authentication(m)) = check(&tsig_error_response(id, TsigError::BadSig, vec![]))
    else {
        panic!("BADSIG")
    };
    assert!(
        m.contains("NOTAUTH (TSIG error BADSIG)") && m.contains("secret is wrong"),
        "{m}"
    );
    let Err(Error::Authentication(m)) = check(&tsig_error_response(id, TsigError::BadKey, vec![]))
    else {
        panic!("BADKEY")
    };
    assert!(m.contains("TSIG error BADKEY"), "{m}");
    let server_time = 1_700_000_900u64.to_be_bytes()[2..].to_vec();
    let Err(Error::Authentication(m)) =
        check(&tsig_error_response(id, TsigError::BadTime, server_time))
    else {
        panic!("BADTIME")
    };
    assert!(
        m.contains("BADTIME") && m.contains("clocks") && m.contains("1700000900"),
        "{m}"
    );

    let Err(Error::Authentication(m)) = check(&response(id, ResponseCode::Refused, None)) else {
        panic!("REFUSED")
    };
    assert!(m.contains("REFUSED") && m.contains("update-policy"), "{m}");
    let Err(Error::Authentication(m)) = check_response(
        &response(id, ResponseCode::Refused, None),
        id,
        None,
        0,
        &s,
        "ns1:53",
    ) else {
        panic!("REFUSED unsigned")
    };
    assert!(m.contains("TSIG key"), "{m}");
    assert!(
        matches!(check(&response(id, ResponseCode::NotAuth, None)), Err(Error::Authentication(m)) if m.contains("not authoritative"))
    );
    assert!(
        matches!(check(&response(id, ResponseCode::NotZone, None)), Err(Error::ZoneNotFound(m)) if m.contains("example.test"))
    );
    assert!(matches!(
        check(&response(id, ResponseCode::ServFail, None)),
        Err(Error::Transient(_))
    ));
    for (rcode, name) in [
        (ResponseCode::FormErr, "FORMERR"),
        (ResponseCode::NotImp, "NOTIMP"),
        (ResponseCode::YXDomain, "YXDOMAIN"),
        (ResponseCode::NXRRSet, "NXRRSET"),
    ] {
        let Err(Error::Permanent(m)) = check(&response(id, rcode, None)) else {
            panic!("{name}")
        };
        assert!(m.contains(name), "{m}");
    }
}

/// Bytes exchanged with BIND 9.18 (`named`, zone `example.test`,
/// `update-policy { grant wacme-key zonesub TXT; }`), with a throwaway
/// `tsig-keygen -a hmac-sha256 wacme-key` key.
mod bind {
    pub const SECRET: &str = "6+rhYx+4QI5qqP+8holxYqcmf+p1SO2RUnJ5zqLojrA=";
    /// Signed at this time (0x6b0fcf39).
    pub const TIME: u64 = 1_796_198_201;
    /// Adds "fixture-value" to _acme-challenge.example.test, ID 0x8fbd.
    pub const REQUEST: &str = "8fbd28000001000000010001076578616d706c65047465737400000600010f5f61636d652d6368616c6c656e6765c00c001000010000003c000e0d666978747572652d76616c7565097761636d652d6b65790000fa00ff00000000003d0b686d61632d7368613235360000006b0fcf39012c002024858e4d5913143d4cd29cc6d3859ca26a84ae0d5746e7da0b97cd59d145135d8fbd00000000";
    /// NOERROR, signed by named.
    pub const ANSWER: &str = "8fbda8000001000000000001076578616d706c6504746573740000060001097761636d652d6b65790000fa00ff00000000003d0b686d61632d7368613235360000006b0fcf39012c00202e4f299da1885b571376005a85200c0fe386ff739c2416b9bd4029d70fc468168fbd00000000";
    /// NOTAUTH with TSIG error BADSIG (a wrong secret), ID 0xcaf2.
    pub const BADSIG: &str = "caf2a8090001000000000001076578616d706c6504746573740000060001097761636d652d6b65790000fa00ff00000000001d0b686d61632d7368613235360000006b0fcf34012c0000caf200100000";
    /// NOTAUTH with TSIG error BADKEY (a key named unknown-key), ID 0x7afa.
    pub const BADKEY: &str = "7afaa8090001000000000001076578616d706c65047465737400000600010b756e6b6e6f776e2d6b65790000fa00ff00000000001d0b686d61632d7368613235360000006b0fcf34012c00007afa00110000";

    pub fn bytes(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }
}

#[test]
fn bind_answers() {
    let k = Key::new("wacme-key", Algorithm::HmacSha256, bind::SECRET).unwrap();
    let s = TxtSet {
        fqdn: "_acme-challenge.example.test".into(),
        ..set(&["fixture-value"])
    };
    let request = bind::bytes(bind::REQUEST);
    // The request named accepted is what this crate builds and signs: same
    // sections, same MAC.
    let parsed = Message::from_vec(&request).unwrap();
    let mut rebuilt = build_update(&s, Change::Add { ttl: 60 }).unwrap();
    rebuilt.metadata.id = parsed.metadata.id;
    let (bytes, mac) = encode(&rebuilt, Some(&k), bind::TIME).unwrap();
    assert_eq!(bytes, request);
    let mac = mac.unwrap();

    let answer = bind::bytes(bind::ANSWER);
    let check =
        |bytes: &[u8], id, now| check_response(bytes, id, Some((&k, &mac)), now, &s, "bind");
    check(&answer, 0x8fbd, bind::TIME + 1).unwrap();
    let mut tampered = answer.clone();
    tampered[2] ^= 0x04; // the AA flag
    assert!(matches!(
        check(&tampered, 0x8fbd, bind::TIME),
        Err(Error::Transient(_))
    ));

    let Err(Error::Authentication(m)) = check(&bind::bytes(bind::BADSIG), 0xcaf2, bind::TIME)
    else {
        panic!("BADSIG")
    };
    assert!(m.contains("NOTAUTH (TSIG error BADSIG)"), "{m}");
    let Err(Error::Authentication(m)) = check(&bind::bytes(bind::BADKEY), 0x7afa, bind::TIME)
    else {
        panic!("BADKEY")
    };
    assert!(m.contains("NOTAUTH (TSIG error BADKEY)"), "{m}");
}
