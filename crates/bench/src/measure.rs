//! Latency distributions, and the two ways of offering load: closed loop (each client sends its
//! next request when the last one answered: measures throughput) and open loop (requests leave at
//! a fixed rate whatever the answers do, and latency counts from the intended send time, so a slow
//! server cannot hide its backlog: no coordinated omission).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::sync::Mutex;

/// A latency distribution in microseconds, 1 µs to 60 s at 3 significant digits.
#[derive(Clone)]
pub struct Latencies(Histogram<u64>);

impl Default for Latencies {
    fn default() -> Self {
        Self(Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds"))
    }
}

/// The summary of a distribution, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Summary {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest sample.
    pub max_ms: f64,
}

impl Latencies {
    /// Adds one sample.
    pub fn record(&mut self, latency: Duration) {
        let micros = (latency.as_micros() as u64).clamp(1, 60_000_000);
        self.0.record(micros).expect("value within bounds");
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &Latencies) {
        self.0.add(&other.0).expect("same bounds");
    }

    /// Percentiles in milliseconds.
    pub fn summary(&self) -> Summary {
        let ms = |q: f64| self.0.value_at_quantile(q) as f64 / 1_000.0;
        Summary {
            count: self.0.len(),
            p50_ms: ms(0.50),
            p95_ms: ms(0.95),
            p99_ms: ms(0.99),
            max_ms: self.0.max() as f64 / 1_000.0,
        }
    }

    /// (percentile, milliseconds) points of the distribution, for charts.
    pub fn curve(&self) -> Vec<(f64, f64)> {
        [
            0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 100.0,
        ]
        .iter()
        .map(|p| (*p, self.0.value_at_quantile(p / 100.0) as f64 / 1_000.0))
        .collect()
    }
}

/// Runs `clients` clients for `duration`, each calling `request(client, n)` again as soon as the
/// previous call returned; returns every call's latency and the wall time.
pub async fn closed_loop<F, Fut>(
    clients: usize,
    duration: Duration,
    request: F,
) -> (Latencies, Duration)
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let request = Arc::new(request);
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let request = request.clone();
            tokio::spawn(async move {
                let mut latencies = Latencies::default();
                let mut n = 0;
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    request(client, n).await;
                    latencies.record(sent.elapsed());
                    n += 1;
                }
                latencies
            })
        })
        .collect();
    let mut all = Latencies::default();
    for task in tasks {
        all.merge(&task.await.expect("client task"));
    }
    (all, started.elapsed())
}

/// Sends `count` requests at `rate` per second, each at its intended time whatever earlier ones
/// are doing, and measures each from that intended time. `request(n, intended)` runs in its own
/// task.
pub async fn open_loop<F, Fut>(rate: f64, count: u64, request: F) -> Latencies
where
    F: Fn(u64, Instant) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let request = Arc::new(request);
    let latencies = Arc::new(Mutex::new(Latencies::default()));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(count as usize);
    for n in 0..count {
        let intended = start + Duration::from_secs_f64(n as f64 / rate);
        tokio::time::sleep_until(intended.into()).await;
        let request = request.clone();
        let latencies = latencies.clone();
        tasks.push(tokio::spawn(async move {
            request(n, intended).await;
            latencies.lock().await.record(intended.elapsed());
        }));
    }
    for task in tasks {
        task.await.expect("request task");
    }
    let latencies = latencies.lock().await.clone();
    latencies
}
