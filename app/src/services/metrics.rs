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

/// One route's answers and their latency.
#[derive(Default)]
struct RouteStats {
    /// (method, status) → requests, in that order.
    answers: Vec<(String, u16, u64)>,
    latency: Latency,
}

#[derive(Default)]
pub struct Metrics {
    /// By route. Only a route, method or status seen for the first time allocates: this
    /// is counted on every request.
    routes: Mutex<BTreeMap<String, RouteStats>>,
    sent: AtomicU64,
    deferred: AtomicU64,
    failed: AtomicU64,
    hard_bounces: AtomicU64,
    soft_bounces: AtomicU64,
    /// When this process's delivery worker last finished a pass (ms), 0 before the first.
    worker_pass_at: AtomicI64,
}

impl Metrics {
    pub fn record_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let Ok(mut routes) = self.routes.lock() else { return };
        let stats = match routes.get_mut(route) {
            Some(stats) => stats,
            None => routes.entry(route.to_string()).or_default(),
        };
        match stats.answers.binary_search_by(|(m, s, _)| (m.as_str(), *s).cmp(&(method, status))) {
            Ok(i) => stats.answers[i].2 += 1,
            Err(i) => stats.answers.insert(i, (method.to_string(), status, 1)),
        }
        let latency = &mut stats.latency;
        if let Some(i) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            latency.counts[i] += 1;
        }
        latency.count += 1;
        latency.sum += seconds;
    }

    pub fn record_deliveries(&self, sent: usize, deferred: usize, failed: usize) {
        self.sent.fetch_add(sent as u64, Ordering::Relaxed);
        self.deferred.fetch_add(deferred as u64, Ordering::Relaxed);
        self.failed.fetch_add(failed as u64, Ordering::Relaxed);
    }

    pub fn record_bounce(&self, kind: shared::mail::BounceKind) {
        let counter = match kind {
            shared::mail::BounceKind::Hard => &self.hard_bounces,
            shared::mail::BounceKind::Soft => &self.soft_bounces,
        };
        counter.fetch_add(1, Ordering::Relaxed);
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
        let routes = self.routes.lock();
        if let Ok(routes) = &routes {
            for (route, stats) in routes.iter() {
                for (method, status, count) in &stats.answers {
                    let _ = writeln!(out, "beckon_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {count}", label(route), label(method));
                }
            }
        }
        let _ = writeln!(out, "# HELP beckon_http_request_duration_seconds Time to answer a request, by route.");
        let _ = writeln!(out, "# TYPE beckon_http_request_duration_seconds histogram");
        if let Ok(routes) = &routes {
            for (route, RouteStats { latency: l, .. }) in routes.iter() {
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
        let _ = writeln!(out, "# HELP beckon_bounces_total Bounces this process's listener recorded, by kind.");
        let _ = writeln!(out, "# TYPE beckon_bounces_total counter");
        for (kind, counter) in [("hard", &self.hard_bounces), ("soft", &self.soft_bounces)] {
            let _ = writeln!(out, "beckon_bounces_total{{kind=\"{kind}\"}} {}", counter.load(Ordering::Relaxed));
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
        metrics.record_request("/users", "GET", 304, 0.001);
        metrics.record_request("/users", "HEAD", 200, 0.001);
        metrics.record_deliveries(3, 1, 0);
        let mut text = String::new();
        metrics.render(&mut text);
        let users = [("GET", 200, 2), ("GET", 304, 1), ("HEAD", 200, 1)]
            .map(|(method, status, n)| format!("beckon_http_requests_total{{route=\"/users\",method=\"{method}\",status=\"{status}\"}} {n}\n"));
        assert!(text.contains(&users.concat()), "one line per method and status, in order: {text}");
        assert!(text.contains("beckon_http_requests_total{route=\"/api/sign_in\",method=\"POST\",status=\"422\"} 1"), "{text}");
        assert!(text.contains("beckon_http_request_duration_seconds_bucket{route=\"/users\",le=\"0.001\"} 2"), "{text}");
        assert!(text.contains("beckon_http_request_duration_seconds_bucket{route=\"/users\",le=\"0.005\"} 3"), "{text}");
        assert!(text.contains("beckon_http_request_duration_seconds_bucket{route=\"/users\",le=\"0.5\"} 4"), "{text}");
        assert!(text.contains("beckon_http_request_duration_seconds_count{route=\"/users\"} 4"), "{text}");
        assert!(text.contains("beckon_deliveries_total{outcome=\"sent\"} 3"), "{text}");
    }
}
