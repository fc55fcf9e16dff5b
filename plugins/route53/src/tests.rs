use super::*;

fn config(extra: &[(&str, &str)]) -> Config {
    let mut pairs = vec![
        ("access_key_id", "AKIDEXAMPLE"),
        (
            "secret_access_key",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        ),
    ];
    pairs.extend_from_slice(extra);
    Config::new(pairs)
}

fn response(status: u16, body: &str) -> Response {
    Response {
        status,
        headers: vec![("x-amzn-requestid".into(), "r".into())],
        body: body.as_bytes().to_vec(),
    }
}

fn error(status: u16, body: &str) -> ChangeError {
    api_error(&response(status, body))
}

fn error_response(code: &str, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>Sender</Type>\
         <Code>{code}</Code><Message>{message}</Message></Error>\
         <RequestId>7eb28fd5-9ce6-11e4-a8e8-9f105805808f</RequestId></ErrorResponse>"
    )
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

#[test]
fn config_defaults_and_checks() {
    let api = Api::from_config(&config(&[])).unwrap();
    assert_eq!(
        (
            api.endpoint.as_str(),
            api.authority.as_str(),
            api.region.as_str()
        ),
        (
            "https://route53.amazonaws.com",
            "route53.amazonaws.com",
            "us-east-1"
        )
    );
    assert!(!api.private_zone && api.hosted_zone_id.is_none());
    assert_eq!(api.wait_insync, 30);
    let api = Api::from_config(&config(&[
        ("endpoint", "http://127.0.0.1:5000/"),
        ("hosted_zone_id", "/hostedzone/Z1D633PJN98FT9"),
        ("private_zone", "true"),
        ("session_token", "tok"),
        ("wait_insync", "0"),
        ("ttl", "120"),
    ]))
    .unwrap();
    assert_eq!(api.authority, "127.0.0.1:5000");
    assert_eq!(api.hosted_zone_id.as_deref(), Some("Z1D633PJN98FT9"));
    assert!(api.private_zone);
    assert_eq!(api.credentials.session_token.as_deref(), Some("tok"));
    assert_eq!((api.wait_insync, api.ttl), (0, Some(120)));
    let api = Api::from_config(&config(&[("endpoint", "https://Route53.example:443")])).unwrap();
    assert_eq!(api.authority, "route53.example");
    for bad in [
        vec![("endpoint", "route53.amazonaws.com")],
        vec![("endpoint", "https://x/2013-04-01")],
        vec![("private_zone", "maybe")],
        vec![("hosted_zone_id", "Z1/../x")],
        vec![("ttl", "ten")],
        vec![("wait_insync", "-1")],
    ] {
        assert!(
            matches!(
                Api::from_config(&config(&bad)),
                Err(Error::InvalidConfig(_))
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        Api::from_config(&Config::new([("access_key_id", "id")])),
        Err(Error::InvalidConfig(m)) if m.contains("secret_access_key")
    ));
}

#[test]
fn present_adds_only_missing_values_and_keeps_foreign_ones_verbatim() {
    let current = RrSet {
        ttl: 300,
        values: strings(&["\"foreign\" \"split\"", "\"v1\""]),
    };
    assert_eq!(plan_present(Some(&current), &strings(&["v1"])), None);
    assert_eq!(
        plan_present(Some(&current), &strings(&["v1", "v2"])),
        Some(strings(&["\"foreign\" \"split\"", "\"v1\"", "\"v2\""]))
    );
    assert_eq!(
        plan_present(None, &strings(&["a", "b"])),
        Some(strings(&["\"a\"", "\"b\""]))
    );
}

#[test]
fn cleanup_keeps_the_rest_or_deletes_what_it_read() {
    let current = RrSet {
        ttl: 300,
        values: strings(&["\"foreign\"", "\"v1\"", "\"v2\""]),
    };
    assert_eq!(plan_cleanup(&current, &strings(&["x"])), Cleanup::Nothing);
    assert_eq!(
        plan_cleanup(&current, &strings(&["v1", "v2"])),
        Cleanup::Keep(strings(&["\"foreign\""]))
    );
    assert_eq!(
        plan_cleanup(&current, &strings(&["v1", "v2", "foreign"])),
        Cleanup::Delete
    );
}

#[test]
fn change_batch_is_the_documented_document() {
    let values = strings(&["\"a&b\"", "\"<c>\""]);
    let body = change_batch(&[(Action::Delete, "_acme-challenge.example.com", 60, &values)]);
    let doc = xml::parse(&body).unwrap();
    assert_eq!(doc.name, "ChangeResourceRecordSetsRequest");
    assert!(body.contains(&format!("xmlns=\"{XMLNS}\"")));
    let change = doc.at(&["ChangeBatch", "Changes", "Change"]).unwrap();
    assert_eq!(change.text_at(&["Action"]), Some("DELETE"));
    let set = change.child("ResourceRecordSet").unwrap();
    assert_eq!(set.text_at(&["Name"]), Some("_acme-challenge.example.com."));
    assert_eq!(set.text_at(&["Type"]), Some("TXT"));
    assert_eq!(set.text_at(&["TTL"]), Some("60"));
    let read: Vec<&str> = set
        .child("ResourceRecords")
        .unwrap()
        .all("ResourceRecord")
        .map(|r| r.text_at(&["Value"]).unwrap())
        .collect();
    assert_eq!(read, ["\"a&b\"", "\"<c>\""]);
    assert!(
        body.contains("<Value>&quot;a&amp;b&quot;</Value>"),
        "{body}"
    );
}

#[test]
fn names_are_normalized() {
    assert_eq!(
        normalize("_Acme-Challenge.Example.COM."),
        "_acme-challenge.example.com"
    );
    assert_eq!(normalize("\\052.example.com."), "*.example.com");
    assert_eq!(normalize("a\\05"), "a\\05");
    assert_eq!(absolute("example.com"), "example.com.");
    assert!(listing_key("example.com") < listing_key("_acme-challenge.example.com"));
    assert!(listing_key("b.example.com") < listing_key("a.c.example.com"));
    assert!(listing_key("z.example.com") < listing_key("example.org"));
    assert_eq!(absolute("example.com."), "example.com.");
}

#[test]
fn requests_are_signed_for_route53_in_us_east_1() {
    let api = Api::from_config(&config(&[("session_token", "tok")])).unwrap();
    let query = vec![
        (
            "name".to_string(),
            "_acme-challenge.example.com.".to_string(),
        ),
        ("type".to_string(), "TXT".to_string()),
    ];
    let request = api.signed_request(
        "GET",
        "/2013-04-01/hostedzone/Z1/rrset",
        &query,
        "",
        "20150830T123600Z",
    );
    let text = format!("{request:?}");
    assert!(
        text.contains(
            "https://route53.amazonaws.com/2013-04-01/hostedzone/Z1/rrset?name=_acme-challenge.example.com.&type=TXT"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/route53/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature="
        ),
        "{text}"
    );
    assert!(
        text.contains("(\"x-amz-security-token\", \"tok\")"),
        "{text}"
    );
    assert!(!text.contains("(\"host\""), "the host sets Host: {text}");
    // The same signature from the parts, as a verifier would compute it.
    let headers = vec![
        ("host".to_string(), "route53.amazonaws.com".to_string()),
        (
            "x-amz-content-sha256".to_string(),
            sigv4::EMPTY_SHA256.to_string(),
        ),
    ];
    let expected = sigv4::sign(
        &sigv4::AWS,
        &api.credentials,
        "us-east-1",
        "route53",
        &sigv4::Request {
            method: "GET",
            path: "/2013-04-01/hostedzone/Z1/rrset",
            query: &query,
            headers: &headers,
            payload_hash: sigv4::EMPTY_SHA256,
        },
        "20150830T123600Z",
    );
    assert!(
        text.contains(&format!("Signature={}", expected.signature)),
        "{text}"
    );
    assert!(
        expected
            .canonical_request
            .starts_with("GET\n/2013-04-01/hostedzone/Z1/rrset\nname=_acme-challenge.example.com.&type=TXT\nhost:route53.amazonaws.com\nx-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\nx-amz-date:20150830T123600Z\nx-amz-security-token:tok\n"),
        "{}",
        expected.canonical_request
    );

    let post = api.signed_request(
        "POST",
        "/2013-04-01/hostedzone/Z1/rrset",
        &[],
        "<x/>",
        "20150830T123600Z",
    );
    let text = format!("{post:?}");
    assert!(
        text.contains("(\"content-type\", \"application/xml\")"),
        "{text}"
    );
}

#[test]
fn errors_map_to_wit_cases() {
    let auth = |code: &str, message: &str| match error(403, &error_response(code, message)) {
        ChangeError::Other(Error::Authentication(m)) => m,
        other => panic!("{code}: {other:?}"),
    };
    let m = auth(
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
    );
    assert!(
        m.contains("SignatureDoesNotMatch") && m.contains("RequestId"),
        "{m}"
    );
    auth(
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
    );
    auth(
        "AccessDenied",
        "User: arn:aws:iam::123456789012:user/acme is not authorized to perform: route53:ChangeResourceRecordSets",
    );
    auth(
        "ExpiredToken",
        "The security token included in the request is expired",
    );

    for (status, code) in [(400, "Throttling"), (400, "PriorRequestNotComplete")] {
        assert!(
            matches!(
                error(status, &error_response(code, "Rate exceeded")),
                ChangeError::Other(Error::RateLimited(_))
            ),
            "{code}"
        );
    }
    let limited = api_error(&Response {
        status: 429,
        headers: vec![("retry-after".into(), "3".into())],
        body: Vec::new(),
    });
    assert!(matches!(
        limited,
        ChangeError::Other(Error::RateLimited(RateLimit {
            retry_after_secs: Some(3),
            ..
        }))
    ));

    // boto/boto#2887: a DELETE of a set that is gone.
    assert!(matches!(
        error(
            400,
            &error_response(
                "InvalidChangeBatch",
                "Tried to delete resource record set [name='k.example.net.', type='TXT'] but it was not found"
            )
        ),
        ChangeError::NotFound
    ));
    assert!(matches!(
        error(
            400,
            &error_response(
                "InvalidChangeBatch",
                "Tried to delete resource record set [name='x.example.net.', type='TXT'] but the values provided do not match the current values"
            )
        ),
        ChangeError::Other(Error::Transient(_))
    ));
    // The multi-message document.
    let batch = format!(
        "<?xml version=\"1.0\"?>\n<InvalidChangeBatch xmlns=\"{XMLNS}\"><Messages><Message>Invalid \
         Resource Record: FATAL problem: TXTRDATATooLong encountered at \"aaa\"</Message>\
         </Messages><RequestId>b25f48e8-84fd-11e6-80d9-574e0c4664cb</RequestId></InvalidChangeBatch>"
    );
    match error(400, &batch) {
        ChangeError::Other(Error::Permanent(m)) => {
            assert!(
                m.contains("TXTRDATATooLong") && m.contains("b25f48e8"),
                "{m}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        error(
            404,
            &error_response("NoSuchHostedZone", "No hosted zone found with ID: Z1")
        ),
        ChangeError::Other(Error::ZoneNotFound(_))
    ));
    assert!(matches!(
        error(400, &error_response("RequestExpired", "Request has expired.")),
        ChangeError::Other(Error::Permanent(m)) if m.contains("clock")
    ));
    assert!(matches!(
        error(
            503,
            &error_response("ServiceUnavailable", "Service Unavailable")
        ),
        ChangeError::Other(Error::Transient(_))
    ));
    assert!(matches!(
        error(502, "<html>bad gateway</html>"),
        ChangeError::Other(Error::Transient(_))
    ));
    assert!(matches!(
        error(400, &error_response("InvalidInput", "Invalid request")),
        ChangeError::Other(Error::Permanent(_))
    ));
}

/// The documented `ListHostedZonesByName` and `ListResourceRecordSets`
/// answers parse into what the plugin reads.
#[test]
fn documented_answers_parse() {
    let zones = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListHostedZonesByNameResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">
   <HostedZones>
      <HostedZone>
         <Id>/hostedzone/Z111111QQQQQQQ</Id>
         <Name>example2.com.</Name>
         <CallerReference>MyUniqueIdentifier2</CallerReference>
         <Config>
            <Comment>This is my second hosted zone.</Comment>
            <PrivateZone>false</PrivateZone>
         </Config>
         <ResourceRecordSetCount>42</ResourceRecordSetCount>
      </HostedZone>
   </HostedZones>
   <DNSName>example2.com</DNSName>
   <IsTruncated>true</IsTruncated>
   <NextDNSName>example3.com.</NextDNSName>
   <NextHostedZoneId>Z222222VVVVVVV</NextHostedZoneId>
   <MaxItems>1</MaxItems>
</ListHostedZonesByNameResponse>"#;
    let doc = xml::parse(zones).unwrap();
    let zone = doc.at(&["HostedZones", "HostedZone"]).unwrap();
    assert_eq!(zone.text_at(&["Id"]), Some("/hostedzone/Z111111QQQQQQQ"));
    assert_eq!(zone.text_at(&["Config", "PrivateZone"]), Some("false"));
    assert_eq!(doc.text_at(&["NextHostedZoneId"]), Some("Z222222VVVVVVV"));

    let sets = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListResourceRecordSetsResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">
   <ResourceRecordSets>
      <ResourceRecordSet>
         <Name>_acme-challenge.example.com.</Name>
         <Type>TXT</Type>
         <TTL>300</TTL>
         <ResourceRecords>
            <ResourceRecord><Value>"abc"</Value></ResourceRecord>
            <ResourceRecord><Value>"de" "f"</Value></ResourceRecord>
         </ResourceRecords>
      </ResourceRecordSet>
   </ResourceRecordSets>
   <IsTruncated>false</IsTruncated>
   <MaxItems>100</MaxItems>
</ListResourceRecordSetsResponse>"#;
    let doc = xml::parse(sets).unwrap();
    let set = doc
        .at(&["ResourceRecordSets", "ResourceRecordSet"])
        .unwrap();
    let values: Vec<String> = set
        .child("ResourceRecords")
        .unwrap()
        .all("ResourceRecord")
        .map(|r| txt::unquote(r.text_at(&["Value"]).unwrap()))
        .collect();
    assert_eq!(values, ["abc", "def"]);
}

#[test]
fn metadata() {
    let m = Route53::metadata();
    assert_eq!(m.name, "route53");
    assert_eq!(m.allowed_hosts, ["{endpoint}"]);
    assert_eq!((m.default_ttl, m.min_ttl), (DEFAULT_TTL, MIN_TTL));
    let field = |name: &str| m.config.iter().find(|f| f.name == name).unwrap();
    let secret = field("secret_access_key");
    assert!(secret.required && secret.secret);
    assert_eq!(secret.env_aliases, ["AWS_SECRET_ACCESS_KEY"]);
    assert_eq!(field("access_key_id").env_aliases, ["AWS_ACCESS_KEY_ID"]);
    assert!(field("session_token").secret);
    assert_eq!(field("session_token").env_aliases, ["AWS_SESSION_TOKEN"]);
    assert_eq!(field("hosted_zone_id").env_aliases, ["AWS_HOSTED_ZONE_ID"]);
    assert_eq!(field("private_zone").default.as_deref(), Some("false"));
    assert_eq!(field("endpoint").default.as_deref(), Some(DEFAULT_ENDPOINT));
    assert_eq!(field("region").default.as_deref(), Some("us-east-1"));
    assert!(m.hints.batch, "one change batch takes many names");
    assert_eq!(m.hints.zone_write_concurrency, 1);
}

#[test]
fn an_expired_signature_points_at_the_clock() {
    let body = error_response(
        "SignatureDoesNotMatch",
        "Signature expired: 20150830T123600Z is now earlier than 20150830T124600Z (20150830T125100Z - 5 min.)",
    );
    assert!(matches!(
        error(403, &body),
        ChangeError::Other(Error::Permanent(m)) if m.contains("clock")
    ));
}

#[test]
fn the_nested_error_form_is_read_too() {
    let body = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<ErrorResponse><Errors><Error><Code>\
                SignatureDoesNotMatch</Code><Message>The request signature we calculated does not \
                match the signature you provided.</Message><Type>Sender</Type></Error></Errors>\
                </ErrorResponse>";
    assert!(matches!(
        error(403, body),
        ChangeError::Other(Error::Authentication(m)) if m.contains("check secret_access_key")
    ));
}

fn txt_set(fqdn: &str, values: &[&str]) -> TxtSet {
    TxtSet {
        zone: "example.com".into(),
        fqdn: fqdn.into(),
        relative_name: fqdn.trim_end_matches(".example.com").into(),
        values: strings(values),
        ttl: 60,
    }
}

fn name(n: &str, values: &[&str]) -> Name {
    Name {
        name: n.into(),
        values: strings(values),
        ttl: 60,
    }
}

#[test]
fn batches_stay_in_one_zone_and_merge_per_name() {
    assert_eq!(batch_zone(&[]).unwrap(), None);
    let sets = [
        txt_set("A.example.com.", &["1", "2"]),
        txt_set("b.example.com", &["3"]),
        txt_set("a.example.com", &["2", "4"]),
    ];
    assert_eq!(batch_zone(&sets).unwrap(), Some("example.com"));
    assert_eq!(
        merge_names(&sets),
        [
            name("a.example.com", &["1", "2", "4"]),
            name("b.example.com", &["3"])
        ]
    );
    let mut other = txt_set("x.example.net", &["1"]);
    other.zone = "example.net".into();
    assert!(matches!(
        batch_zone(&[sets[0].clone(), other]),
        Err(Error::Permanent(_))
    ));
}

#[test]
fn present_many_upserts_each_name_that_misses_a_value() {
    let names = [
        name("a.example.com", &["a1"]),
        name("b.example.com", &["b1"]),
        name("c.example.com", &["c1", "c2"]),
    ];
    let current = [
        Some(RrSet {
            ttl: 300,
            values: strings(&["\"foreign\""]),
        }),
        Some(RrSet {
            ttl: 60,
            values: strings(&["\"b1\""]),
        }),
        None,
    ];
    assert_eq!(
        plan_present_many(&names, &current, None),
        [
            Planned {
                action: Action::Upsert,
                name: "a.example.com".into(),
                ttl: 60,
                values: strings(&["\"foreign\"", "\"a1\""]),
            },
            Planned {
                action: Action::Upsert,
                name: "c.example.com".into(),
                ttl: 60,
                values: strings(&["\"c1\"", "\"c2\""]),
            },
        ]
    );
    let with_ttl = plan_present_many(&names[2..], &current[2..], Some(30));
    assert_eq!(with_ttl[0].ttl, 30);
}

#[test]
fn cleanup_many_keeps_foreign_values_and_deletes_sets_as_read() {
    let names = [
        name("a.example.com", &["a1"]),
        name("b.example.com", &["b1", "b2"]),
        name("c.example.com", &["c1"]),
        name("d.example.com", &["d1"]),
    ];
    let current = [
        Some(RrSet {
            ttl: 300,
            values: strings(&["\"foreign\"", "\"a1\""]),
        }),
        Some(RrSet {
            ttl: 120,
            values: strings(&["\"b1\"", "\"b2\""]),
        }),
        Some(RrSet {
            ttl: 60,
            values: strings(&["\"other\""]),
        }),
        None,
    ];
    assert_eq!(
        plan_cleanup_many(&names, &current),
        [
            Planned {
                action: Action::Upsert,
                name: "a.example.com".into(),
                ttl: 300,
                values: strings(&["\"foreign\""]),
            },
            Planned {
                action: Action::Delete,
                name: "b.example.com".into(),
                ttl: 120,
                values: strings(&["\"b1\"", "\"b2\""]),
            },
        ]
    );
}

#[test]
fn change_batch_carries_one_change_per_name() {
    let a = strings(&["\"foreign\"", "\"a1\""]);
    let b = strings(&["\"b1\""]);
    let body = change_batch(&[
        (Action::Upsert, "a.example.com", 60, &a),
        (Action::Delete, "b.example.com", 120, &b),
    ]);
    let doc = xml::parse(&body).unwrap();
    let changes: Vec<(&str, &str, &str, usize)> = doc
        .at(&["ChangeBatch", "Changes"])
        .unwrap()
        .all("Change")
        .map(|c| {
            let set = c.child("ResourceRecordSet").unwrap();
            (
                c.text_at(&["Action"]).unwrap(),
                set.text_at(&["Name"]).unwrap(),
                set.text_at(&["TTL"]).unwrap(),
                set.child("ResourceRecords")
                    .unwrap()
                    .all("ResourceRecord")
                    .count(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("UPSERT", "a.example.com.", "60", 2),
            ("DELETE", "b.example.com.", "120", 1)
        ]
    );
}

#[test]
fn batches_split_at_route53_limits() {
    let planned = |action, values: usize, len: usize| Planned {
        action,
        name: "x.example.com".into(),
        ttl: 60,
        values: (0..values).map(|_| "v".repeat(len)).collect(),
    };
    let sizes = |changes: &[Planned]| {
        split_batches(changes)
            .iter()
            .map(|b| b.len())
            .collect::<Vec<_>>()
    };
    assert!(split_batches(&[]).is_empty());
    // 100 changes at most.
    let small: Vec<Planned> = (0..250).map(|_| planned(Action::Delete, 1, 45)).collect();
    assert_eq!(sizes(&small), [100, 100, 50]);
    // 1000 records, an UPSERT counting twice: 50 upserts of 10 values.
    let upserts: Vec<Planned> = (0..300).map(|_| planned(Action::Upsert, 2, 10)).collect();
    assert_eq!(sizes(&upserts), [100, 100, 100]);
    let records: Vec<Planned> = (0..60).map(|_| planned(Action::Upsert, 10, 10)).collect();
    assert_eq!(sizes(&records), [50, 10]);
    // 32000 characters of values, an UPSERT counting twice.
    let long: Vec<Planned> = (0..5).map(|_| planned(Action::Upsert, 2, 4000)).collect();
    assert_eq!(sizes(&long), [2, 2, 1]);
    let long: Vec<Planned> = (0..5).map(|_| planned(Action::Delete, 2, 4000)).collect();
    assert_eq!(sizes(&long), [4, 1]);
    // A change too large alone still goes (Route 53 says why it refuses).
    let huge = [
        planned(Action::Upsert, 600, 1),
        planned(Action::Delete, 1, 1),
    ];
    assert_eq!(sizes(&huge), [1, 1]);
}

#[test]
fn listing_pages_show_the_simple_txt_sets() {
    let page = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListResourceRecordSetsResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">
   <ResourceRecordSets>
      <ResourceRecordSet>
         <Name>_acme-challenge.example.com.</Name><Type>TXT</Type><TTL>300</TTL>
         <ResourceRecords><ResourceRecord><Value>"abc"</Value></ResourceRecord></ResourceRecords>
      </ResourceRecordSet>
      <ResourceRecordSet>
         <Name>_ACME-challenge.a.example.com.</Name><Type>TXT</Type><TTL>60</TTL>
         <ResourceRecords><ResourceRecord><Value>"x"</Value></ResourceRecord>
         <ResourceRecord><Value>"y"</Value></ResourceRecord></ResourceRecords>
      </ResourceRecordSet>
      <ResourceRecordSet>
         <Name>_acme-challenge.b.example.com.</Name><Type>TXT</Type>
         <SetIdentifier>w1</SetIdentifier><Weight>1</Weight><TTL>60</TTL>
         <ResourceRecords><ResourceRecord><Value>"w"</Value></ResourceRecord></ResourceRecords>
      </ResourceRecordSet>
      <ResourceRecordSet>
         <Name>b.example.com.</Name><Type>A</Type><TTL>60</TTL>
         <ResourceRecords><ResourceRecord><Value>192.0.2.1</Value></ResourceRecord></ResourceRecords>
      </ResourceRecordSet>
   </ResourceRecordSets>
   <IsTruncated>false</IsTruncated>
   <MaxItems>100</MaxItems>
</ListResourceRecordSetsResponse>"#;
    let doc = xml::parse(page).unwrap();
    assert_eq!(
        simple_txt_sets(&doc),
        [
            (
                "_acme-challenge.example.com".to_string(),
                RrSet {
                    ttl: 300,
                    values: strings(&["\"abc\""])
                }
            ),
            (
                "_acme-challenge.a.example.com".to_string(),
                RrSet {
                    ttl: 60,
                    values: strings(&["\"x\"", "\"y\""])
                }
            ),
        ]
    );
}
