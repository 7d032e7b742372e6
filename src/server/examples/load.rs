//! Load benchmark (loopback only, bounded): N simulated devices long-poll running
//! tessera-server instances while a relying party creates logins at a fixed rate, each for a
//! different device. Prints p50/p99 from login creation to the device receiving it,
//! throughput, and the privacyIDEA poll-only baseline (its app polls every 3 s: a login waits
//! 1.5 s on average) as a ratio. Run it through `scripts/load-bench.sh`, which starts the
//! server(s) and adds their RSS.
//!
//! With several `--server` URLs (instances sharing one PostgreSQL database), device `i` polls
//! instance `i mod n` and its login is created on instance `(i / n) mod n`: with two
//! instances half the logins are created on the instance the device is not polling, so the
//! wake-up must cross instances (LISTEN/NOTIFY). Figures are printed for all logins and for
//! the cross-instance ones alone.
//!
//! The privacyIDEA baseline is measured in the same run, not assumed: a second, smaller set
//! of devices polls every 3 s without holding the request (privacyIDEA's app), while the
//! long-polling devices still wait, and gets logins the same way.
//!
//! `load --server URL [--server URL ...] --api-key-file FILE [--devices N] [--rate PER_S]
//! [--seconds S]`
//!
//! The measured logins start once the servers hold the long-polls (a sentinel device per
//! server, polling after all the others, has been served; the time it took is printed) and
//! 2 s more, so they measure wake-ups, not how long 10,000 polls take to arrive.
//!
//! With `LOAD_TIMELINE=FILE` in the environment, each delivered login of the long-poll phase
//! is also written to FILE as one line, `MS_SINCE_FIRST_LOGIN LATENCY_MS`: where in the run
//! the slow ones were (a stall of the whole server shows as a run of them; issue 13).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tessera_core::push::DeviceKey;
use tessera_core::push::tessera::{self, PendingResponse, TesseraEnrolment};
use tokio::sync::mpsc;

struct Args {
    servers: Vec<String>,
    key: String,
    devices: usize,
    rate: u64,
    seconds: u64,
}

fn args() -> Args {
    let mut a =
        Args { servers: Vec::new(), key: String::new(), devices: 1000, rate: 100, seconds: 10 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().expect("every flag takes a value");
        match flag.as_str() {
            "--server" => a.servers.push(value.trim_end_matches('/').to_owned()),
            "--api-key-file" => {
                a.key = std::fs::read_to_string(value).expect("api key file").trim().to_owned();
            }
            "--devices" => a.devices = value.parse().expect("--devices N"),
            "--rate" => a.rate = value.parse().expect("--rate N"),
            "--seconds" => a.seconds = value.parse().expect("--seconds N"),
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(!a.servers.is_empty(), "give at least one --server http://127.0.0.1:PORT");
    assert!(
        a.servers.iter().all(|s| s.starts_with("http://127.0.0.1")),
        "loopback only: --server http://127.0.0.1:PORT"
    );
    a.seconds = a.seconds.min(120);
    a
}

impl Args {
    /// The instance device `i` long-polls.
    fn device_server(&self, i: usize) -> &str {
        &self.servers[i % self.servers.len()]
    }

    /// The instance the login for device `i` is created on.
    fn login_server(&self, i: usize) -> &str {
        &self.servers[(i / self.servers.len()) % self.servers.len()]
    }
}

fn now_ms() -> u64 {
    u64::try_from(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis(),
    )
    .unwrap()
}

/// A simulated device: its index picks the instances it polls and gets its login from.
struct Device {
    index: usize,
    user: String,
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

async fn enrol(client: &reqwest::Client, a: &Args, index: usize, user: String) -> Device {
    let reply: Value = client
        .post(format!("{}/rp/v1/users/{user}/enrol", a.login_server(index)))
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
    let d = Device { index, user, id: e.device, key: DeviceKey::generate_p256().unwrap() };
    let body = serde_json::to_vec(&json!({"credential": e.credential, "public_key": tessera::b64(&d.key.p256_public_key().unwrap())})).unwrap();
    let status = signed(client, a.device_server(index), &d, "POST", "/device/v1/enrol", body)
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "enrolment failed: {status}");
    d
}

/// Enrols devices `range`, named `PREFIX-INDEX`, 64 at a time.
async fn enrol_all(
    client: &reqwest::Client,
    a: &Arc<Args>,
    range: std::ops::Range<usize>,
    prefix: &str,
) -> Vec<Device> {
    let mut devices = Vec::with_capacity(range.len());
    let mut set = tokio::task::JoinSet::new();
    for i in range {
        let (client, a, user) = (client.clone(), a.clone(), format!("{prefix}-{i}"));
        set.spawn(async move { enrol(&client, &a, i, user).await });
        if set.len() >= 64 {
            devices.push(set.join_next().await.unwrap().unwrap());
        }
    }
    while let Some(d) = set.join_next().await {
        devices.push(d.unwrap());
    }
    devices.sort_by_key(|d| d.index);
    devices
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// How the devices of a phase ask for their logins.
#[derive(Clone, Copy)]
enum Poll {
    /// Tessera: hold the request up to 25 s, re-poll at once.
    Long,
    /// privacyIDEA's app: ask without waiting every this often, at a random phase.
    Every(Duration),
}

/// What a phase measured: per delivered login, milliseconds and whether it crossed instances.
struct Phase {
    created: usize,
    elapsed: f64,
    latencies: Vec<(f64, bool)>,
}

/// Starts `devices` polling, waits until all are polling (with `sentinels`, until the servers
/// hold the polls: [`wait_until_held`]), creates one login for each of the first `logins`
/// devices at `rate` per second, and collects when each device received it.
// A phase's whole setup; a struct for it would be built and read in this one place.
#[allow(clippy::too_many_arguments)]
async fn run_phase(
    client: &reqwest::Client,
    a: &Arc<Args>,
    devices: Vec<Device>,
    poll: Poll,
    rate: u64,
    logins: usize,
    sentinels: Vec<Device>,
    errors: &Arc<AtomicUsize>,
) -> Phase {
    let count = devices.len();
    let targets: Vec<(usize, String)> =
        devices.iter().take(logins).map(|d| (d.index, d.user.clone())).collect();
    let waiting = Arc::new(AtomicUsize::new(0));
    let (tx, mut rx) = mpsc::unbounded_channel::<(String, Instant)>();
    for d in devices {
        let (client, a, tx, waiting, errors) =
            (client.clone(), a.clone(), tx.clone(), waiting.clone(), errors.clone());
        tokio::spawn(async move {
            let server = a.device_server(d.index);
            let path = match poll {
                Poll::Long => "/device/v1/pending?wait=25",
                Poll::Every(period) => {
                    // A random phase, as independent phones would have.
                    let mut b = [0u8; 8];
                    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
                        .unwrap();
                    let ms = u64::from_le_bytes(b) % u64::try_from(period.as_millis()).unwrap();
                    waiting.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    "/device/v1/pending?wait=0"
                }
            };
            let mut counted = matches!(poll, Poll::Every(_));
            loop {
                let started = tokio::time::Instant::now();
                let fut = signed(&client, server, &d, "GET", path, Vec::new()).send();
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
                if let Poll::Every(period) = poll {
                    tokio::time::sleep_until(started + period).await;
                }
            }
        });
    }
    drop(tx);
    while waiting.load(Ordering::Relaxed) < count {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if !sentinels.is_empty() {
        let started = Instant::now();
        wait_until_held(client, a, sentinels).await;
        println!(
            "servers held the polls: {:.1} s after the last was handed to the HTTP client",
            started.elapsed().as_secs_f64()
        );
    }
    // Give the last polls time to reach the server and park.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let created =
        Arc::new(std::sync::Mutex::new(Vec::<(String, Instant, bool)>::with_capacity(logins)));
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let rp_start = Instant::now();
    let mut rp = tokio::task::JoinSet::new();
    for (index, user) in targets {
        ticker.tick().await;
        let (client, a, created, errors) =
            (client.clone(), a.clone(), created.clone(), errors.clone());
        rp.spawn(async move {
            let cross = a.login_server(index) != a.device_server(index);
            let t0 = Instant::now();
            let reply = client
                .post(format!("{}/rp/v1/logins", a.login_server(index)))
                .bearer_auth(&a.key)
                .json(&json!({"user": user, "rp": "load"}))
                .send()
                .await;
            match reply {
                Ok(r) if r.status().is_success() => {
                    let v: Value = r.json().await.unwrap();
                    created.lock().unwrap().push((v["id"].as_str().unwrap().to_owned(), t0, cross));
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
    let elapsed = rp_start.elapsed().as_secs_f64();

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
    if let Some(path) = std::env::var_os("LOAD_TIMELINE").filter(|_| matches!(poll, Poll::Long)) {
        let lines: Vec<String> = created
            .iter()
            .filter_map(|(id, t0, _)| {
                received.get(id).map(|at| {
                    let since = t0.duration_since(rp_start).as_secs_f64() * 1000.0;
                    format!("{since:.1} {:.1}", at.duration_since(*t0).as_secs_f64() * 1000.0)
                })
            })
            .collect();
        std::fs::write(path, lines.join("\n")).expect("LOAD_TIMELINE names a writable file");
    }
    let latencies = created
        .iter()
        .filter_map(|(id, t0, cross)| {
            received.get(id).map(|at| (at.duration_since(*t0).as_secs_f64() * 1000.0, *cross))
        })
        .collect();
    Phase { created: created.len(), elapsed, latencies }
}

/// Waits until each server holds the polls started before: a sentinel device per server
/// starts its long-poll after all the others and gets one login; a server answers polls
/// about in the order they came, so once every sentinel has its login, the servers have
/// taken in the polls before it. A fixed wait cannot know this: 10,000 polls each cost a
/// server a signature check and three statements, seconds on a loaded 2-core machine, and
/// logins created meanwhile measured how long their device's poll took to arrive (issue 13:
/// PostgreSQL's p99 of 1-3 s was the first 2-3 s of logins).
async fn wait_until_held(client: &reqwest::Client, a: &Arc<Args>, sentinels: Vec<Device>) {
    let mut set = tokio::task::JoinSet::new();
    for d in sentinels {
        let (client, a) = (client.clone(), a.clone());
        set.spawn(async move {
            let server = a.device_server(d.index);
            let poll =
                signed(&client, server, &d, "GET", "/device/v1/pending?wait=25", Vec::new()).send();
            let create = client
                .post(format!("{}/rp/v1/logins", a.login_server(d.index)))
                .bearer_auth(&a.key)
                .json(&json!({"user": d.user, "rp": "load"}))
                .send();
            let (poll, create) = tokio::join!(poll, create);
            assert!(create.unwrap().status().is_success(), "sentinel login refused");
            let mut reply: PendingResponse = poll.unwrap().json().await.unwrap();
            while reply.challenges.is_empty() {
                reply =
                    signed(&client, server, &d, "GET", "/device/v1/pending?wait=25", Vec::new())
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
            }
        });
    }
    while let Some(done) = set.join_next().await {
        done.unwrap();
    }
}

/// Sorted latencies of the delivered logins that `keep` selects.
fn sorted(phase: &Phase, keep: impl Fn(bool) -> bool) -> Vec<f64> {
    let mut v: Vec<f64> =
        phase.latencies.iter().filter(|(_, cross)| keep(*cross)).map(|(ms, _)| *ms).collect();
    v.sort_by(f64::total_cmp);
    v
}

#[tokio::main]
async fn main() {
    // reqwest is built without a default TLS provider: use ring, as the server does.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let a = Arc::new(args());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let logins = usize::try_from(a.rate * a.seconds).unwrap().min(a.devices);
    // The baseline: a few hundred poll-only devices are enough for its percentiles.
    let baseline_devices = a.devices.min(300);
    let baseline_rate = a.rate.min(100);
    let n = a.servers.len();
    println!("enrolling {} + {baseline_devices} devices on {n} instance(s) ...", a.devices);
    let started = Instant::now();
    let devices = enrol_all(&client, &a, 0..a.devices, "load").await;
    let baseline = enrol_all(&client, &a, a.devices..a.devices + baseline_devices, "poll3s").await;
    // One per server: device `i` polls server `i mod n` (see [`wait_until_held`]).
    let first = a.devices + baseline_devices;
    let sentinels = enrol_all(&client, &a, first..first + n, "sentinel").await;
    println!("enrolled in {:.1} s", started.elapsed().as_secs_f64());

    let errors = Arc::new(AtomicUsize::new(0));
    println!("{} devices long-polling; creating {logins} logins at {}/s", a.devices, a.rate);
    let main =
        run_phase(&client, &a, devices, Poll::Long, a.rate, logins, sentinels, &errors).await;
    let all = sorted(&main, |_| true);
    let cross = sorted(&main, |c| c);
    let same = sorted(&main, |c| !c);
    let (p50, p99) = (percentile(&all, 0.5), percentile(&all, 0.99));
    println!("devices waiting:        {} on {n} instance(s)", a.devices);
    println!(
        "logins created:         {} in {:.2} s ({:.0}/s achieved, {}/s asked)",
        main.created,
        main.elapsed,
        main.created as f64 / main.elapsed,
        a.rate
    );
    println!("delivered to devices:   {}", all.len());
    println!("creation -> device p50: {p50:.1} ms");
    println!("creation -> device p99: {p99:.1} ms");
    println!("creation -> device max: {:.1} ms", all.last().copied().unwrap_or(f64::NAN));
    if n > 1 {
        println!(
            "cross-instance share:   {:.0}% ({} of {} delivered logins were created on another \
             instance than the one the device polls)",
            100.0 * cross.len() as f64 / all.len().max(1) as f64,
            cross.len(),
            all.len()
        );
        println!(
            "  cross-instance:       p50 {:.1} ms, p99 {:.1} ms",
            percentile(&cross, 0.5),
            percentile(&cross, 0.99)
        );
        println!(
            "  same instance:        p50 {:.1} ms, p99 {:.1} ms",
            percentile(&same, 0.5),
            percentile(&same, 0.99)
        );
    }

    // privacyIDEA's app polls every 3 s; measured on the same server(s) while the remaining
    // long-polling devices still wait.
    let period = Duration::from_secs(3);
    let base = run_phase(
        &client,
        &a,
        baseline,
        Poll::Every(period),
        baseline_rate,
        baseline_devices,
        Vec::new(),
        &errors,
    )
    .await;
    let base_all = sorted(&base, |_| true);
    let (b50, b99) = (percentile(&base_all, 0.5), percentile(&base_all, 0.99));
    println!(
        "privacyIDEA poll-only baseline (measured: {} devices polling every 3 s, {} logins at \
         {baseline_rate}/s, {} delivered): p50 {b50:.0} ms, p99 {b99:.0} ms",
        baseline_devices,
        base.created,
        base_all.len()
    );
    println!("errors:                 {}", errors.load(Ordering::Relaxed));
    println!("speed-up vs baseline:   p50 {:.0}x, p99 {:.0}x", b50 / p50, b99 / p99);
}
