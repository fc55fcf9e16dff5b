//! Sends one of the plugin's UPDATE messages to a real server over UDP, with
//! the plugin's signing and answer checks, outside the wacme host: a manual
//! check against BIND, Knot or PowerDNS.
//!
//! ```text
//! cargo run -p wacme-plugin-rfc2136 --example update -- \
//!     127.0.0.1:5353 example.test _acme-challenge.example.test add VALUE key.conf
//! ```
//!
//! `add` or `delete`; the last argument is a BIND key file, or `none` for an
//! unsigned update. Prints the request and the answer in hex, and the answer's check.

use std::net::UdpSocket;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wacme_plugin_auth::tsig;
use wacme_plugin_rfc2136::{Change, build_update, check_response, encode};
use wacme_plugin_sdk::TxtSet;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [server, zone, fqdn, op, value, key] = &args[..] else {
        eprintln!("usage: update SERVER ZONE FQDN add|delete VALUE KEYFILE|none");
        std::process::exit(2);
    };
    let key = (key != "none").then(|| {
        tsig::parse_key_file(&std::fs::read_to_string(key).expect("read key file"))
            .expect("parse key file")
    });
    let set = TxtSet {
        zone: zone.clone(),
        fqdn: fqdn.clone(),
        relative_name: String::new(),
        values: vec![value.clone()],
        ttl: 60,
    };
    let change = match op.as_str() {
        "add" => Change::Add { ttl: 60 },
        "delete" => Change::Delete,
        _ => panic!("add or delete"),
    };
    let message = build_update(&set, change).expect("build");
    let now = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let (bytes, mac) = encode(&message, key.as_ref(), now()).expect("encode");
    let hex = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
    println!("request: {}", hex(&bytes));
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    socket.send_to(&bytes, server.as_str()).expect("send");
    let mut buf = [0u8; 4096];
    let (n, _) = socket.recv_from(&mut buf).expect("no answer");
    let answer = &buf[..n];
    println!("answer: {}", hex(answer));
    let result = check_response(
        answer,
        message.metadata.id,
        key.as_ref().zip(mac.as_deref()),
        now(),
        &set,
        server,
    );
    println!("result: {result:?}");
    if result.is_err() {
        std::process::exit(1);
    }
}
