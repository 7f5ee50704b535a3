//! What a process counts for `/metrics`: requests by route and status with their latency,
//! and the deliveries its worker made. Gauges read from the database (the outbox) are added
//! at scrape time, so every process reports the same queue.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 11] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

#[derive(Default)]
struct Latency {
    /// Requests at or under each bound (cumulative when written), then the total.
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    /// (route, method, status) → requests.
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Latency>>,
    sent: AtomicU64,
    deferred: AtomicU64,
    failed: AtomicU64,
    /// When this process's delivery worker last finished a pass (ms), 0 before the first.
    worker_pass_at: AtomicI64,
}

impl Metrics {
    pub fn record_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        if let Ok(mut requests) = self.requests.lock() {
            *requests.entry((route.to_string(), method.to_string(), status)).or_default() += 1;
        }
        if let Ok(mut latency) = self.latency.lock() {
            let entry = latency.entry(route.to_string()).or_default();
            if let Some(i) = BUCKETS.iter().position(|bound| seconds <= *bound) {
                entry.counts[i] += 1;
            }
            entry.count += 1;
            entry.sum += seconds;
        }
    }

    pub fn record_deliveries(&self, sent: usize, deferred: usize, failed: usize) {
        self.sent.fetch_add(sent as u64, Ordering::Relaxed);
        self.deferred.fetch_add(deferred as u64, Ordering::Relaxed);
        self.failed.fetch_add(failed as u64, Ordering::Relaxed);
    }

    pub fn worker_finished_pass(&self, at_ms: i64) {
        self.worker_pass_at.store(at_ms, Ordering::Relaxed);
    }

    /// When the worker last finished a pass, if it has.
    pub fn worker_pass_at(&self) -> Option<i64> {
        Some(self.worker_pass_at.load(Ordering::Relaxed)).filter(|at| *at > 0)
    }

    /// This process's counters in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let label = |value: &str| value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
        let _ = writeln!(out, "# HELP beckon_http_requests_total Requests answered, by route, method and status.");
        let _ = writeln!(out, "# TYPE beckon_http_requests_total counter");
        if let Ok(requests) = self.requests.lock() {
            for ((route, method, status), count) in requests.iter() {
                let _ = writeln!(out, "beckon_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {count}", label(route), label(method));
            }
        }
        let _ = writeln!(out, "# HELP beckon_http_request_duration_seconds Time to answer a request, by route.");
        let _ = writeln!(out, "# TYPE beckon_http_request_duration_seconds histogram");
        if let Ok(latency) = self.latency.lock() {
            for (route, l) in latency.iter() {
                let route = label(route);
                let mut cumulative = 0;
                for (bound, count) in BUCKETS.iter().zip(l.counts) {
                    cumulative += count;
                    let _ = writeln!(out, "beckon_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}");
                }
                let _ = writeln!(out, "beckon_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}", l.count);
                let _ = writeln!(out, "beckon_http_request_duration_seconds_sum{{route=\"{route}\"}} {}", l.sum);
                let _ = writeln!(out, "beckon_http_request_duration_seconds_count{{route=\"{route}\"}} {}", l.count);
            }
        }
        let _ = writeln!(out, "# HELP beckon_deliveries_total Messages this process's worker settled, by outcome.");
        let _ = writeln!(out, "# TYPE beckon_deliveries_total counter");
        for (outcome, counter) in [("sent", &self.sent), ("deferred", &self.deferred), ("failed", &self.failed)] {
            let _ = writeln!(out, "beckon_deliveries_total{{outcome=\"{outcome}\"}} {}", counter.load(Ordering::Relaxed));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_latencies_render_as_prometheus_text() {
        let metrics = Metrics::default();
        metrics.record_request("/users", "GET", 200, 0.004);
        metrics.record_request("/users", "GET", 200, 0.3);
        metrics.record_request("/api/sign_in", "POST", 422, 0.09);
        metrics.record_deliveries(3, 1, 0);
        let mut text = String::new();
        metrics.render(&mut text);
        assert!(text.contains("beckon_http_requests_total{route=\"/users\",method=\"GET\",status=\"200\"} 2"), "{text}");
        assert!(text.contains("beckon_http_request_duration_seconds_bucket{route=\"/users\",le=\"0.005\"} 1"), "{text}");
        assert!(text.contains("beckon_http_request_duration_seconds_bucket{route=\"/users\",le=\"0.5\"} 2"), "{text}");
        assert!(text.contains("beckon_http_request_duration_seconds_count{route=\"/users\"} 2"), "{text}");
        assert!(text.contains("beckon_deliveries_total{outcome=\"sent\"} 3"), "{text}");
    }
}
