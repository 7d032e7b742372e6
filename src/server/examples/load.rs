//! Load benchmark (loopback only, bounded): N simulated devices long-poll a running
//! tessera-server while a relying party creates logins at a fixed rate, each for a different
//! device. Prints p50/p99 from login creation to the device receiving it, throughput, and
//! the privacyIDEA poll-only baseline (its app polls every 3 s: a login waits 1.5 s on
//! average) as a ratio. Run it through `scripts/load-bench.sh`, which starts the server and
//! adds its RSS.
//!
//! `load --server URL --api-key-file FILE [--devices N] [--rate PER_S] [--seconds S]`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tessera_core::push::DeviceKey;
use tessera_core::push::tessera::{self, PendingResponse, TesseraEnrolment};
use tokio::sync::mpsc;

struct Args {
    server: String,
    key: String,
    devices: usize,
    rate: u64,
    seconds: u64,
}

fn args() -> Args {
    let mut a =
        Args { server: String::new(), key: String::new(), devices: 1000, rate: 100, seconds: 10 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().expect("every flag takes a value");
        match flag.as_str() {
            "--server" => a.server = value,
            "--api-key-file" => {
                a.key = std::fs::read_to_string(value).expect("api key file").trim().to_owned();
            }
            "--devices" => a.devices = value.parse().expect("--devices N"),
            "--rate" => a.rate = value.parse().expect("--rate N"),
            "--seconds" => a.seconds = value.parse().expect("--seconds N"),
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(
        a.server.starts_with("http://127.0.0.1"),
        "loopback only: --server http://127.0.0.1:PORT"
    );
    a.seconds = a.seconds.min(120);
    a
}

fn now_ms() -> u64 {
    u64::try_from(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis(),
    )
    .unwrap()
}

struct Device {
    id: String,
    key: DeviceKey,
}

fn signed(
    client: &reqwest::Client,
    base: &str,
    d: &Device,
    method: &str,
    path: &str,
    body: Vec<u8>,
) -> reqwest::RequestBuilder {
    let ts = now_ms();
    let nonce = tessera::random_hex(16).unwrap();
    let sig =
        d.key.sign_p256(&tessera::request_message(method, path, &d.id, ts, &nonce, &body)).unwrap();
    client
        .request(method.parse().unwrap(), format!("{base}{path}"))
        .header(tessera::HEADER_DEVICE, &d.id)
        .header(tessera::HEADER_TIMESTAMP, ts.to_string())
        .header(tessera::HEADER_NONCE, nonce)
        .header(tessera::HEADER_SIGNATURE, tessera::b64(&sig))
        .body(body)
}

async fn enrol(client: &reqwest::Client, a: &Args, user: &str) -> Device {
    let reply: Value = client
        .post(format!("{}/rp/v1/users/{user}/enrol", a.server))
        .bearer_auth(&a.key)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let uri = tessera_core::uri::OtpUri::parse(reply["uri"].as_str().unwrap()).unwrap();
    let e = TesseraEnrolment::from_extra(&uri.extra).unwrap().unwrap();
    let d = Device { id: e.device, key: DeviceKey::generate_p256().unwrap() };
    let body = serde_json::to_vec(&json!({"credential": e.credential, "public_key": tessera::b64(&d.key.p256_public_key().unwrap())})).unwrap();
    let status = signed(client, &a.server, &d, "POST", "/device/v1/enrol", body)
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "enrolment failed: {status}");
    d
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main]
async fn main() {
    tessera_core::push::install_crypto_provider();
    let a = Arc::new(args());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let logins = usize::try_from(a.rate * a.seconds).unwrap().min(a.devices);
    println!("enrolling {} devices ...", a.devices);
    let started = Instant::now();
    let mut devices = Vec::with_capacity(a.devices);
    let mut set = tokio::task::JoinSet::new();
    for i in 0..a.devices {
        let (client, a) = (client.clone(), a.clone());
        set.spawn(async move { (i, enrol(&client, &a, &format!("load-{i}")).await) });
        if set.len() >= 64 {
            devices.push(set.join_next().await.unwrap().unwrap());
        }
    }
    while let Some(d) = set.join_next().await {
        devices.push(d.unwrap());
    }
    devices.sort_by_key(|(i, _)| *i);
    println!("enrolled in {:.1} s", started.elapsed().as_secs_f64());

    // Every device long-polls until it receives its one login.
    let waiting = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let (tx, mut rx) = mpsc::unbounded_channel::<(String, Instant)>();
    for (_, d) in devices {
        let (client, a, tx, waiting, errors) =
            (client.clone(), a.clone(), tx.clone(), waiting.clone(), errors.clone());
        tokio::spawn(async move {
            let mut counted = false;
            loop {
                let request =
                    signed(&client, &a.server, &d, "GET", "/device/v1/pending?wait=25", Vec::new());
                let fut = request.send();
                if !counted {
                    waiting.fetch_add(1, Ordering::Relaxed);
                    counted = true;
                }
                let reply = match fut.await {
                    Ok(r) if r.status().is_success() => r.json::<PendingResponse>().await,
                    Ok(r) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        eprintln!("poll refused: {}", r.status());
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        continue;
                    }
                    Err(e) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        eprintln!("poll failed: {e}");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        continue;
                    }
                };
                if let Ok(reply) = reply
                    && let Some(c) = reply.challenges.first()
                {
                    let _ = tx.send((c.challenge.id.clone(), Instant::now()));
                    return;
                }
            }
        });
    }
    drop(tx);
    while waiting.load(Ordering::Relaxed) < a.devices {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Give the last polls time to reach the server and park.
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!("{} devices waiting; creating {logins} logins at {}/s", a.devices, a.rate);

    let created = Arc::new(std::sync::Mutex::new(Vec::<(String, Instant)>::with_capacity(logins)));
    let interval = Duration::from_secs_f64(1.0 / a.rate as f64);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let rp_start = Instant::now();
    let mut rp = tokio::task::JoinSet::new();
    for i in 0..logins {
        ticker.tick().await;
        let (client, a, created, errors) =
            (client.clone(), a.clone(), created.clone(), errors.clone());
        rp.spawn(async move {
            let t0 = Instant::now();
            let reply = client
                .post(format!("{}/rp/v1/logins", a.server))
                .bearer_auth(&a.key)
                .json(&json!({"user": format!("load-{i}"), "rp": "load"}))
                .send()
                .await;
            match reply {
                Ok(r) if r.status().is_success() => {
                    let v: Value = r.json().await.unwrap();
                    created.lock().unwrap().push((v["id"].as_str().unwrap().to_owned(), t0));
                }
                Ok(r) => {
                    errors.fetch_add(1, Ordering::Relaxed);
                    eprintln!("create refused: {}", r.status());
                }
                Err(e) => {
                    errors.fetch_add(1, Ordering::Relaxed);
                    eprintln!("create failed: {e}");
                }
            }
        });
    }
    while rp.join_next().await.is_some() {}
    let rp_elapsed = rp_start.elapsed().as_secs_f64();

    let mut received = std::collections::HashMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while received.len() < created.lock().unwrap().len() {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((id, at))) => {
                received.insert(id, at);
            }
            _ => break,
        }
    }
    let created = created.lock().unwrap().clone();
    let mut latencies: Vec<f64> = created
        .iter()
        .filter_map(|(id, t0)| {
            received.get(id).map(|at| at.duration_since(*t0).as_secs_f64() * 1000.0)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));
    println!("devices waiting:        {}", a.devices);
    println!(
        "logins created:         {} in {rp_elapsed:.2} s ({:.0}/s achieved, {}/s asked)",
        created.len(),
        created.len() as f64 / rp_elapsed,
        a.rate
    );
    println!("delivered to devices:   {}", latencies.len());
    println!("errors:                 {}", errors.load(Ordering::Relaxed));
    println!("creation -> device p50: {p50:.1} ms");
    println!("creation -> device p99: {p99:.1} ms");
    println!("creation -> device max: {:.1} ms", latencies.last().copied().unwrap_or(f64::NAN));
    // privacyIDEA poll-only: the app polls every 3 s, so a login waits U(0, 3 s): p50 1500 ms,
    // p99 2970 ms (plus the request time, ignored here in its favour).
    println!("privacyIDEA poll-only baseline (3 s polling): p50 1500 ms, p99 2970 ms");
    println!("speed-up vs baseline:   p50 {:.0}x, p99 {:.0}x", 1500.0 / p50, 2970.0 / p99);
}
