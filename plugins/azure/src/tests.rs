use super::*;

fn config(pairs: &[(&str, &str)]) -> Config {
    Config::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

fn base() -> Vec<(&'static str, &'static str)> {
    vec![
        ("tenant_id", "72f988bf-86f1-41af-91ab-2d7cd011db47"),
        ("client_id", "00001111-aaaa-2222-bbbb-3333cccc4444"),
        ("client_secret", "s3cr3t~value"),
        ("subscription_id", "12345678-1234-1234-1234-123456789abc"),
    ]
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn metadata_is_consistent() {
    let m = AzureDns::metadata();
    assert_eq!(m.name, "azure");
    let secret: Vec<&str> = m
        .config
        .iter()
        .filter(|f| f.secret)
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(secret, ["client_secret"]);
    let aliases = |name: &str| {
        m.config
            .iter()
            .find(|f| f.name == name)
            .unwrap()
            .env_aliases
            .clone()
    };
    assert_eq!(aliases("client_id"), ["AZURE_CLIENT_ID", "AZUREDNS_APPID"]);
    assert_eq!(
        aliases("subscription_id"),
        ["AZURE_SUBSCRIPTION_ID", "AZUREDNS_SUBSCRIPTIONID"]
    );
    assert_eq!(m.allowed_hosts, ["{endpoint}", "{authority_host}"]);
}

#[test]
fn urls_for_the_public_and_sovereign_clouds() {
    // https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow#first-case-access-token-request-with-a-shared-secret
    let s = Settings::from_config(&config(&base())).unwrap();
    assert_eq!(
        s.token_url(),
        "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token"
    );
    assert_eq!(s.scope(), "https://management.azure.com/.default");
    // https://learn.microsoft.com/rest/api/dns/record-sets/get
    let mut pairs = base();
    pairs.push(("resource_group", "dns-rg"));
    pairs.push(("endpoint", "https://management.usgovcloudapi.net/"));
    pairs.push(("authority_host", "https://login.microsoftonline.us"));
    let s = Settings::from_config(&config(&pairs)).unwrap();
    let zone = zone_url_in(&s, "dns-rg", "Example.com.");
    assert_eq!(
        zone,
        "https://management.usgovcloudapi.net/subscriptions/12345678-1234-1234-1234-123456789abc\
         /resourceGroups/dns-rg/providers/Microsoft.Network/dnsZones/example.com"
    );
    assert_eq!(
        record_url(&zone, "_acme-challenge.www"),
        format!("{zone}/TXT/_acme-challenge.www?api-version=2018-05-01")
    );
    assert_eq!(
        record_url(&zone, "@"),
        format!("{zone}/TXT/@?api-version=2018-05-01")
    );
    assert_eq!(s.scope(), "https://management.usgovcloudapi.net/.default");
    assert!(
        s.token_url()
            .starts_with("https://login.microsoftonline.us/")
    );
    let mut pairs = base();
    pairs.push(("endpoint", "management.azure.com"));
    assert!(matches!(
        Settings::from_config(&config(&pairs)),
        Err(Error::InvalidConfig(m)) if m.contains("`endpoint`")
    ));
}

/// A record set as https://learn.microsoft.com/rest/api/dns/record-sets/get
/// shows it.
fn record_set(values: &[&str]) -> RecordSet {
    let records: Vec<serde_json::Value> = values
        .iter()
        .map(|v| serde_json::json!({"value": [v]}))
        .collect();
    serde_json::from_value(serde_json::json!({
        "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/dnszones/example.com/TXT/_acme-challenge",
        "name": "_acme-challenge",
        "type": "Microsoft.Network/dnszones/TXT",
        "etag": "0b9e2ef5-7c8e-4a0c-8cbd-8e3e23b4d7a1",
        "properties": {
            "metadata": {"key1": "value1"},
            "TTL": 3600,
            "fqdn": "_acme-challenge.example.com.",
            "provisioningState": "Succeeded",
            "TXTRecords": records,
        }
    }))
    .unwrap()
}

#[test]
fn present_merges_into_the_whole_set() {
    let body = plan_present(None, &strings(&["a", "b", "a"]), 60).unwrap();
    assert_eq!(
        serde_json::to_value(&body).unwrap(),
        serde_json::json!({"properties": {"TTL": 60, "TXTRecords": [{"value": ["a"]}, {"value": ["b"]}]}})
    );
    let current = record_set(&["foreign"]);
    let body = plan_present(Some(&current), &strings(&["a"]), 60).unwrap();
    assert_eq!(
        serde_json::to_value(&body).unwrap(),
        serde_json::json!({"properties": {"TTL": 60, "metadata": {"key1": "value1"},
            "TXTRecords": [{"value": ["foreign"]}, {"value": ["a"]}]}})
    );
    assert_eq!(
        plan_present(Some(&record_set(&["a", "b"])), &strings(&["b"]), 60),
        None
    );
}

#[test]
fn cleanup_removes_only_its_values() {
    let current = record_set(&["foreign", "a", "b"]);
    match plan_cleanup(&current, &strings(&["a", "x"])) {
        Cleanup::Put(body) => assert_eq!(
            body.properties.txt_records,
            [TxtRecord::of("foreign"), TxtRecord::of("b")]
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(plan_cleanup(&current, &strings(&["x"])), Cleanup::Nothing);
    assert_eq!(
        plan_cleanup(&record_set(&["a"]), &strings(&["a"])),
        Cleanup::Delete
    );
}

#[test]
fn long_values_are_split_into_255_byte_strings() {
    let long = "x".repeat(600);
    let record = TxtRecord::of(&long);
    assert_eq!(
        record.value.iter().map(String::len).collect::<Vec<_>>(),
        [255, 255, 90]
    );
    assert_eq!(record.joined(), long);
}

#[test]
fn zone_list_is_parsed() {
    // https://learn.microsoft.com/rest/api/dns/zones/list
    let list: ZoneList = serde_json::from_str(
        r#"{"value":[{"id":"/subscriptions/s/resourceGroups/rg1/providers/Microsoft.Network/dnszones/example.com","name":"example.com","type":"Microsoft.Network/dnszones","location":"global","properties":{"maxNumberOfRecordSets":5000}}],
           "nextLink":"https://management.azure.com/subscriptions/s/providers/Microsoft.Network/dnszones?api-version=2018-05-01&$skipToken=x"}"#,
    )
    .unwrap();
    assert_eq!(list.value[0].name, "example.com");
    assert!(list.next_link.unwrap().contains("skipToken"));
}

#[test]
fn errors_map_to_wit_cases() {
    // ARM's error envelope: https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/common-deployment-errors
    let invalid_token = br#"{"error":{"code":"InvalidAuthenticationToken","message":"The access token is invalid."}}"#;
    match api_error(401, None, invalid_token, "example.com") {
        Error::Authentication(m) => assert!(m.contains("InvalidAuthenticationToken"), "{m}"),
        e => panic!("{e:?}"),
    }
    let forbidden = br#"{"error":{"code":"AuthorizationFailed","message":"The client 'x' with object id 'y' does not have authorization to perform action 'Microsoft.Network/dnszones/TXT/write'."}}"#;
    assert!(matches!(
        api_error(403, None, forbidden, "example.com"),
        Error::Authentication(m) if m.contains("AuthorizationFailed")
    ));
    let throttled =
        br#"{"error":{"code":"TooManyRequests","message":"The request is being throttled."}}"#;
    match api_error(429, Some("17"), throttled, "example.com") {
        Error::RateLimited(r) => assert_eq!(r.retry_after_secs, Some(17)),
        e => panic!("{e:?}"),
    }
    let parent = br#"{"error":{"code":"ParentResourceNotFound","message":"Can not perform requested operation on nested resource. Parent resource 'example.com' not found."}}"#;
    assert!(!is_missing_record(404, parent));
    assert!(matches!(
        api_error(404, None, parent, "example.com"),
        Error::ZoneNotFound(_)
    ));
    let record = br#"{"code":"NotFound","message":"The resource record '_acme-challenge' does not exist in resource group 'rg' of subscription 's'."}"#;
    assert!(is_missing_record(404, record));
    assert!(!is_missing_record(200, b"{}"));
    let precondition = br#"{"error":{"code":"PreconditionFailed","message":"The condition '\"e1\"' in the If-Match header was not satisfied. The current was '\"e2\"'."}}"#;
    assert!(matches!(
        api_error(412, None, precondition, "example.com"),
        Error::Transient(_)
    ));
    assert!(matches!(
        api_error(500, None, b"oops", "example.com"),
        Error::Transient(m) if m.contains("oops")
    ));
}
