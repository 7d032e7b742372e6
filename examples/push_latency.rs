//! How fast a login reaches the desktop app: the app's own push worker (its threads, as in the
//! shipped app) against a running tessera-server, measured from the moment the relying party's
//! "create login" call returns to the worker reporting the request. Run twice in one go: the
//! app's long poll, and the same worker polling every 3 s without holding (what privacyIDEA's
//! poll-only app does) as the baseline; prints both and their ratio.
//!
//! `cargo run --example push_latency -- --server URL --api-key-file FILE [--logins N]`
//! (scripts/push-latency.sh starts a throwaway server and runs this).

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{Value, json};
use tessera::push_worker::{Command, Engine, PushWorker, Report};
use tessera_core::clock::{Clock, SystemClock};
use tessera_core::push::tessera::{TesseraBackend, TesseraEnrolment};
use tessera_core::push::{Decision, PushAccount, PushBackend, ScheduleConfig, random_seed};
use tessera_core::uri::{self, Payload};

#[derive(Parser)]
struct Args {
    /// The server's base URL.
    #[arg(long)]
    server: String,
    /// File holding a relying-party API key.
    #[arg(long)]
    api_key_file: std::path::PathBuf,
    /// Logins to time per mode.
    #[arg(long, default_value_t = 20)]
    logins: usize,
}

struct Rp {
    http: reqwest::blocking::Client,
    server: String,
    key: String,
}

impl Rp {
    fn post(&self, path: &str, body: &Value) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.server))
            .bearer_auth(&self.key)
            .json(body)
            .send()
            .unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.json().unwrap()
    }

    /// Enrols a new device for `user` as the app does, from the enrolment URI.
    fn device(&self, user: &str) -> PushAccount {
        let reply = self.post(&format!("/rp/v1/users/{user}/enrol"), &json!({}));
        let link = reply["uri"].as_str().unwrap();
        let Ok(Payload::Account(account)) = uri::classify(link) else { panic!("{link}") };
        let enrolment = TesseraEnrolment::from_extra(&account.extra).unwrap().unwrap();
        let now = SystemClock.now();
        let enrolment = enrolment.to_enrolment(&account.issuer, &account.account);
        TesseraBackend::new().unwrap().enrol(&enrolment, now, now).unwrap()
    }
}

/// Times `logins` logins for `user` through a worker over `backend`; returns milliseconds.
fn measure(
    rp: &Rp,
    user: &str,
    backend: TesseraBackend,
    config: ScheduleConfig,
    logins: usize,
) -> Vec<f64> {
    let account = rp.device(user);
    let engine =
        Engine::new(vec![Arc::new(backend) as Arc<dyn PushBackend>], Arc::new(SystemClock), config);
    let (tx, rx) = mpsc::channel();
    let mut worker = PushWorker::spawn(engine, move |reports| {
        for report in reports {
            let _ = tx.send((Instant::now(), report));
        }
    });
    worker.send(Command::Start(vec![account]));
    let mut times = Vec::with_capacity(logins);
    for _ in 0..logins {
        // Land at random points of a poll interval: the previous arrival happened at a poll,
        // so wait 1 s plus a random part of the whole 3 s interval.
        std::thread::sleep(Duration::from_millis(1000 + random_seed() % 3000));
        let created = rp
            .post("/rp/v1/logins", &json!({ "user": user, "context": { "app": "push_latency" } }));
        let returned = Instant::now();
        let id = created["id"].as_str().unwrap().to_owned();
        let arrived = loop {
            let (at, report) = rx.recv_timeout(Duration::from_secs(30)).expect("login arrives");
            if matches!(&report, Report::Arrived(r) if r.id == id) {
                break at;
            }
        };
        times.push(arrived.saturating_duration_since(returned).as_secs_f64() * 1000.0);
        worker.send(Command::Answer { id, decision: Decision::Deny, proof: None });
    }
    worker.send(Command::Stop);
    times
}

fn summary(name: &str, times: &mut [f64]) -> f64 {
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name}: n={} p50 {:.1} ms, p90 {:.1} ms, min {:.1} ms, max {:.1} ms",
        times.len(),
        at(0.5),
        at(0.9),
        times[0],
        times[times.len() - 1]
    );
    at(0.5)
}

fn main() {
    let args = Args::parse();
    tessera_core::push::install_crypto_provider();
    let rp = Rp {
        http: reqwest::blocking::Client::new(),
        server: args.server.trim_end_matches('/').to_owned(),
        key: std::fs::read_to_string(&args.api_key_file).unwrap().trim().to_owned(),
    };
    let config = ScheduleConfig::default();
    let long = TesseraBackend::new().unwrap().with_long_poll(25);
    let mut long_times = measure(&rp, "latency-long-poll", long, config, args.logins);
    let poll_only = TesseraBackend::new().unwrap();
    let mut poll_times = measure(&rp, "latency-poll-only", poll_only, config, args.logins);
    let a = summary("app long poll (tessera-server)", &mut long_times);
    let b = summary("baseline: 3 s poll, no hold (privacyIDEA's app)", &mut poll_times);
    println!("median ratio baseline / long poll: {:.0}x", b / a.max(0.001));
}
