//! Prints how long importing a 10,000-account file takes for each JSON-based format added for
//! issue 15 (Proton, Authy desktop list, Authy XML, Stratum, Steam, Duo, LastPass, FreeOTP XML,
//! TOTP Authenticator XML). The files are generated in memory with distinct secrets; each is
//! imported five times and the best and median times are printed (the budget is 1 s each).
//!
//! Run: `cargo run --release -p tessera-core --example import_timing`

use std::time::{Duration, Instant};

use data_encoding::{BASE32_NOPAD, BASE64};
use serde_json::{Value, json};
use tessera_core::transfer::{Format, import};

const ACCOUNTS: usize = 10_000;

fn secret(i: usize) -> Vec<u8> {
    format!("tessera-bench-{i:08}").into_bytes()
}

fn b32(i: usize) -> String {
    BASE32_NOPAD.encode(&secret(i))
}

fn xml_string(name: &str, value: &str) -> String {
    let escaped = value.replace('&', "&amp;").replace('<', "&lt;").replace('"', "&quot;");
    format!("<string name=\"{name}\">{escaped}</string>")
}

fn files() -> Vec<(Format, Vec<u8>)> {
    let range = 0..ACCOUNTS;
    let proton: Vec<Value> = range
        .clone()
        .map(|i| {
            json!({"id": format!("id-{i}"), "content": {
                "uri": format!("otpauth://totp/Service%20{i}:user{i}%40example.com?secret={}&issuer=Service%20{i}&algorithm=SHA1&digits=6&period=30", b32(i)),
                "entry_type": "Totp", "name": format!("user{i}@example.com")}, "note": null})
        })
        .collect();
    let authy: Vec<Value> = range
        .clone()
        .map(|i| json!({"name": format!("user{i}"), "issuer": format!("Service {i}"), "secret": b32(i), "digits": 6}))
        .collect();
    let authy_xml: Vec<Value> = range
        .clone()
        .map(|i| {
            json!({"accountType": "authenticator", "name": format!("Service {i}: user{i}"),
            "originalIssuer": format!("Service {i}"), "decryptedSecret": b32(i), "digits": 6})
        })
        .collect();
    let stratum: Vec<Value> = range
        .clone()
        .map(|i| {
            json!({"Type": 2, "Issuer": format!("Service {i}"), "Username": format!("user{i}"),
            "Secret": b32(i), "Algorithm": 0, "Digits": 6, "Period": 30, "Counter": 0})
        })
        .collect();
    let steam: serde_json::Map<String, Value> = range
        .clone()
        .map(|i| (format!("7656119{i:010}"), json!({"shared_secret": BASE64.encode(&secret(i)), "account_name": format!("gamer{i}")})))
        .collect();
    let duo: Vec<Value> = range
        .clone()
        .map(|i| json!({"name": format!("Service {i}"), "otpGenerator": {"otpSecret": b32(i)}}))
        .collect();
    let lastpass: Vec<Value> = range
        .clone()
        .map(|i| json!({"issuerName": format!("Service {i}"), "userName": format!("user{i}"), "secret": b32(i),
            "timeStep": 30, "digits": 6, "algorithm": "SHA1", "isFavorite": false}))
        .collect();
    let freeotp: Vec<String> = range
        .clone()
        .map(|i| {
            let bytes: Vec<i64> = secret(i).iter().map(|b| i64::from(*b)).collect();
            let token = json!({"issuerExt": format!("Service {i}"), "label": format!("user{i}"), "type": "TOTP",
                "algo": "SHA1", "digits": 6, "period": 30, "secret": bytes});
            xml_string(&format!("Service {i}:user{i}"), &token.to_string())
        })
        .collect();
    let totp_auth: Vec<Value> = range
        .map(|i| json!({"issuer": format!("Service {i}"), "name": format!("user{i}"), "key": b32(i), "base": 32}))
        .collect();
    let json = |v: Value| v.to_string().into_bytes();
    vec![
        (Format::Proton, json(json!({"version": 1, "entries": proton}))),
        (Format::AuthyJson, json(Value::Array(authy))),
        (
            Format::Authy,
            format!(
                "<map>{}</map>",
                xml_string(
                    "com.authy.storage.tokens.authenticator.key",
                    &Value::Array(authy_xml).to_string()
                )
            )
            .into_bytes(),
        ),
        (Format::Stratum, json(json!({"Authenticators": stratum, "Categories": []}))),
        (Format::Steam, json(json!({"accounts": steam}))),
        (Format::Duo, json(Value::Array(duo))),
        (Format::LastPass, json(json!({"version": 3, "accounts": lastpass}))),
        (Format::FreeOtp, format!("<map>{}</map>", freeotp.concat()).into_bytes()),
        (
            Format::TotpAuthenticator,
            format!(
                "<map>{}</map>",
                xml_string("STATIC_TOTP_CODES_LIST", &Value::Array(totp_auth).to_string())
            )
            .into_bytes(),
        ),
    ]
}

fn main() {
    println!(
        "importing {ACCOUNTS} accounts per file, format detected from the content, 5 runs each"
    );
    println!("{:<22} {:>9} {:>10} {:>10}", "format", "size", "best", "median");
    for (format, bytes) in files() {
        let mut times: Vec<Duration> = (0..5)
            .map(|_| {
                let start = Instant::now();
                let report = import(&bytes, None, None).expect("the generated file imports");
                let took = start.elapsed();
                assert_eq!(report.format, format, "detected as {format}");
                assert_eq!(
                    report.accounts.len(),
                    ACCOUNTS,
                    "{format}: {:?}",
                    report.problems.first()
                );
                took
            })
            .collect();
        times.sort();
        println!(
            "{:<22} {:>7} kB {:>7.1} ms {:>7.1} ms",
            format.name(),
            bytes.len() / 1024,
            times[0].as_secs_f64() * 1000.0,
            times[2].as_secs_f64() * 1000.0
        );
    }
}
