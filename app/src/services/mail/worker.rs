//! The delivery worker: claims due messages, sends them (several at once, up to the SMTP
//! pool size), records each server reply, and retries transient failures with exponential
//! backoff and jitter until `max_attempts`.

use super::outbox::{self, Claimed, Sender, Settlement};
use super::templates;
use super::transport::{Outcome, Outgoing, Transport};
use crate::services::invitations::link;
use crate::services::AppState;
use futures::StreamExt;
use lettre::message::Mailbox;
use rand::Rng;
use shared::mail::{DeliveryState, MessageKind};
use std::collections::HashMap;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct DeliveryConfig {
    pub max_attempts: i64,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// How long a claimed message is reserved for this worker before another may take it.
    pub lease: Duration,
    pub batch_size: i64,
    pub concurrency: usize,
    /// The sender address when the account sets none.
    pub default_from: String,
    pub poll_interval: Duration,
    /// How long a message held up by the operator's configuration waits before the next try.
    pub misconfigured_retry: Duration,
    /// The lease holder this worker writes (see [`WorkerId`]).
    pub worker: WorkerId,
    /// The people of a job done in one transaction (the write lock is held that long).
    pub job_batch: i64,
    /// Where bounces come back: each message's own return path at this domain (VERP).
    pub bounce_domain: Option<String>,
    /// Sign every message with the deployment's DKIM key (`mail::dkim`).
    pub dkim: bool,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            max_attempts: 8,
            base_backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(3600),
            lease: Duration::from_secs(120),
            batch_size: 100,
            concurrency: 4,
            default_from: "beckon@localhost".into(),
            poll_interval: Duration::from_secs(5),
            misconfigured_retry: Duration::from_secs(300),
            worker: WorkerId::this_process(process_started_ms()),
            job_batch: 100,
            bounce_domain: None,
            dkim: false,
        }
    }
}

/// Who holds a lease: this machine, this process, this start. A worker that starts again
/// on the same machine after a crash recognises its earlier run's leases (the same process
/// id with another start, or a process id no longer running here) and takes them back at
/// once; leases of live processes and of other machines keep their timeout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerId {
    pub host: String,
    pub pid: u32,
    pub started_ms: i64,
}

impl WorkerId {
    /// This process, started at `started_ms`. Its `host` names one process table: the host
    /// name, the boot and the process-id namespace (two containers may share a host name
    /// and both be process 1). Where that cannot be read, a name no other process has, so
    /// nothing is ever taken back on a guess.
    pub fn this_process(started_ms: i64) -> WorkerId {
        let read = |path: &str| std::fs::read_to_string(path).ok().map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
        let name = read("/proc/sys/kernel/hostname").or_else(|| std::env::var("HOSTNAME").ok()).unwrap_or_default();
        let boot = read("/proc/sys/kernel/random/boot_id");
        let namespace = std::fs::read_link("/proc/self/ns/pid").ok().map(|link| link.display().to_string());
        let host = match (boot, namespace) {
            (Some(boot), Some(namespace)) => format!("{name}:{boot}:{}", namespace.trim_start_matches("pid:")),
            _ => format!("unknown:{}", uuid::Uuid::new_v4().simple()),
        }
        .replace('/', "-");
        WorkerId { host, pid: std::process::id(), started_ms }
    }

    pub fn parse(text: &str) -> Option<WorkerId> {
        let mut parts = text.rsplitn(3, '/');
        let started_ms = parts.next()?.parse().ok()?;
        let pid = parts.next()?.parse().ok()?;
        Some(WorkerId { host: parts.next()?.to_string(), pid, started_ms })
    }

    /// Whether `holder` is an earlier run on this machine that is gone.
    pub fn outlived(&self, holder: &WorkerId) -> bool {
        holder.host == self.host && holder != self && (holder.pid == self.pid || !process_runs(holder.pid))
    }
}

impl std::fmt::Display for WorkerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.host, self.pid, self.started_ms)
    }
}

/// Whether a process with this id runs on this machine; where that cannot be told, yes
/// (its leases then simply run out).
fn process_runs(pid: u32) -> bool {
    let proc = std::path::Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}

/// Takes back, at once, the messages leased by earlier runs of this worker on this
/// machine (see [`WorkerId`]); returns how many.
pub async fn take_back_abandoned(state: &AppState, me: &WorkerId) -> Result<u64, sqlx::Error> {
    let now = state.clock.now_ms();
    let mut taken = 0;
    for (holder, _) in outbox::lease_holders(&state.db, now).await? {
        if WorkerId::parse(&holder).is_some_and(|h| me.outlived(&h)) {
            taken += outbox::release_leases(&state.db, &holder, now).await?;
        }
    }
    if taken > 0 {
        tracing::info!(messages = taken, "took back the messages an earlier run of this worker had leased");
    }
    Ok(taken)
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: usize,
    pub deferred: usize,
    pub failed: usize,
}

/// The wait before attempt `attempts + 1`: doubling from the base, capped, ±20 % jitter
/// so that many deferred messages do not come back at the same instant.
pub fn backoff(config: &DeliveryConfig, attempts: i64) -> Duration {
    let exponent = (attempts.max(1) - 1).min(20) as u32;
    let raw = config.base_backoff.saturating_mul(2u32.saturating_pow(exponent)).min(config.max_backoff);
    let jitter = rand::thread_rng().gen_range(0.8..1.2);
    raw.mul_f64(jitter)
}

fn mailbox(name: Option<&str>, address: &str) -> Option<Mailbox> {
    let address = address.parse().ok()?;
    Some(Mailbox::new(name.map(|n| n.replace(['\r', '\n'], " ")).filter(|n| !n.trim().is_empty()), address))
}

/// Puts the current link of what the message is about (an invitation, a password reset)
/// where the template left its placeholder. The link is made here, at send time, so the
/// outbox never holds a usable link.
async fn with_link(state: &AppState, message: &Claimed) -> Result<(String, String), Outcome> {
    let unchanged = || Ok((message.text_body.clone(), message.html_body.clone()));
    if !message.text_body.contains(templates::LINK_PLACEHOLDER) && !message.html_body.contains(templates::LINK_PLACEHOLDER) {
        return unchanged();
    }
    let unreadable = |e: sqlx::Error| Outcome::Transient(format!("cannot read what the message links to: {e}"));
    let url = match (&message.invitation_id, &message.password_reset_id) {
        (Some(invitation_id), _) => {
            let mut conn = state.db.pool.acquire().await.map_err(unreadable)?;
            let version = crate::services::store::invitations::link_version(&mut conn, invitation_id).await.map_err(unreadable)?;
            let version = version.ok_or_else(|| Outcome::Permanent("the invitation no longer exists".into()))?;
            link::url(&state.public_url, invitation_id, &state.link_key.token(invitation_id, version))
        }
        (None, Some(reset_id)) => {
            let mut conn = state.db.pool.acquire().await.map_err(unreadable)?;
            let reset = crate::services::store::password_resets::get(&mut conn, reset_id).await.map_err(unreadable)?;
            let reset = reset.ok_or_else(|| Outcome::Permanent("the password reset no longer exists".into()))?;
            link::reset_url(&state.public_url, reset_id, &state.link_key.reset_token(reset_id, reset.auth_version))
        }
        (None, None) => return unchanged(),
    };
    Ok((message.text_body.replace(templates::LINK_PLACEHOLDER, &url), message.html_body.replace(templates::LINK_PLACEHOLDER, &templates::escape(&url))))
}

/// Sends one message; returns how it went, for the caller to record with its round's others.
async fn deliver(
    state: &AppState,
    transport: &Transport,
    config: &DeliveryConfig,
    message: Claimed,
    sender: &Sender,
    signer: Option<&super::dkim::Signer>,
) -> Settlement {
    let (db, clock) = (&state.db, state.clock.as_ref());
    let sender_name = sender.sender_name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| sender.account_name.clone());
    let address = sender.sender_address.clone().filter(|a| !a.is_empty()).unwrap_or_else(|| config.default_from.clone());
    let bodies = with_link(state, &message).await;
    let outcome = match (mailbox(Some(&sender_name), &address), bodies) {
        (_, Err(outcome)) => outcome,
        (None, _) => Outcome::Permanent(format!("the sender address {address} is not valid")),
        (Some(from), Ok((text, html))) => {
            let reply_to = sender.reply_to.as_deref().filter(|r| !r.is_empty()).and_then(|r| mailbox(None, r));
            let outgoing = Outgoing {
                id: &message.id,
                from,
                reply_to,
                to: &message.recipient,
                subject: &message.subject,
                text: &text,
                html: &html,
                created_at_ms: message.created_at,
                return_path: config.bounce_domain.as_deref().map(|domain| super::bounces::return_path(&state.link_key, &message.id, domain)),
                // Unsigned rather than not at all: a key that cannot sign is in the log.
                dkim: signer
                    .and_then(|s| s.config(super::dkim::domain_of(&address)).map_err(|error| tracing::warn!(%error, "sending without a DKIM signature")).ok()),
            };
            transport.send(outgoing).await
        }
    };
    if matches!(outcome, Outcome::Sent(_)) {
        state.checkpoints.reach(crate::services::checkpoints::points::DELIVERY_SENT).await;
    }
    let now = clock.now_ms();
    let settlement = |state, reply: &String, next_attempt_at, refund_attempt| Settlement {
        id: message.id.clone(),
        state,
        reply: reply.clone(),
        next_attempt_at,
        refund_attempt,
        at: now,
    };
    let settlement = match &outcome {
        Outcome::Sent(reply) => settlement(DeliveryState::Sent, reply, None, false),
        Outcome::Transient(reply) if message.attempts < config.max_attempts => {
            let next = now + backoff(config, message.attempts).as_millis() as i64;
            settlement(DeliveryState::Deferred, reply, Some(next), false)
        }
        // A test email is there to show the problem: it ends at once.
        Outcome::Misconfigured(reply) if message.kind == MessageKind::TestEmail => settlement(DeliveryState::Failed, reply, None, false),
        // Real mail waits for the operator's fix without using up its attempts.
        Outcome::Misconfigured(reply) => settlement(DeliveryState::Deferred, reply, Some(now + config.misconfigured_retry.as_millis() as i64), true),
        Outcome::Transient(reply) | Outcome::Permanent(reply) => settlement(DeliveryState::Failed, reply, None, false),
    };
    if let Outcome::Misconfigured(problem) = &outcome {
        if let Err(error) = outbox::record_transport_problem(db, problem, now).await {
            tracing::error!(%error, "could not record the mail server problem");
        }
    }
    match &outcome {
        Outcome::Sent(_) => tracing::debug!(message_id = %message.id, "message sent"),
        Outcome::Transient(reply) => tracing::warn!(message_id = %message.id, attempts = message.attempts, reply = %reply, "delivery deferred"),
        Outcome::Permanent(reply) => tracing::warn!(message_id = %message.id, reply = %reply, "delivery failed"),
        Outcome::Misconfigured(reply) => {
            tracing::error!(message_id = %message.id, reply = %reply, "the mail server needs the operator: nothing is sent until it is fixed")
        }
    }
    settlement
}

/// When this process started (first asked), on the system clock: part of its [`WorkerId`].
fn process_started_ms() -> i64 {
    static STARTED: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *STARTED.get_or_init(|| crate::services::Clock::now_ms(&crate::services::SystemClock))
}

/// Sends everything due now and returns what happened. Tests call it to run the worker
/// deterministically.
///
/// Three things run side by side: claiming (a batch of a few rounds of the pool at a time,
/// the next one claimed while the one before is still being sent, so the pool never stands
/// waiting on the database between rounds), sending (as many at once as the pool), and
/// recording (what came back together, in one transaction).
pub async fn dispatch_pending(state: &AppState, transport: &Transport, config: &DeliveryConfig) -> Result<DeliveryReport, sqlx::Error> {
    let (db, clock) = (&state.db, state.clock.as_ref());
    // A few rounds of the pool at a time, not more: a message someone waits for, queued
    // behind a bulk job's thousands, is claimed with the next batch (bulk mail comes last).
    let claim_size = config.batch_size.min(12 * config.concurrency.max(1) as i64).max(1);
    let (claimed, mut waiting) = tokio::sync::mpsc::channel::<(Claimed, Sender, i64)>(claim_size as usize);
    // Read (or made) once a pass has something to send.
    let signer = tokio::sync::OnceCell::<Option<super::dkim::Signer>>::new();
    let signer = &signer;
    let claiming = async move {
        let mut senders: HashMap<String, Sender> = HashMap::new();
        loop {
            let now = clock.now_ms();
            let lease_until = now + config.lease.as_millis() as i64;
            let batch = outbox::claim(db, &config.worker.to_string(), now, lease_until, claim_size).await?;
            if batch.is_empty() {
                return Ok::<(), sqlx::Error>(());
            }
            if signer.get().is_none() {
                let made = match config.dkim {
                    false => None,
                    true => match super::dkim::signing_key(db, now).await {
                        Ok(key) => Some(super::dkim::Signer::new(key)),
                        Err(error) => {
                            tracing::warn!(%error, "no DKIM key to sign with: this pass sends unsigned");
                            None
                        }
                    },
                };
                let _ = signer.set(made);
            }
            for message in batch {
                if !senders.contains_key(&message.account_id) {
                    let sender = outbox::sender(db, &message.account_id).await?.unwrap_or_default();
                    senders.insert(message.account_id.clone(), sender);
                }
                let sender = senders.get(&message.account_id).cloned().unwrap_or_default();
                // Waits while a batch is queued already: the next claim comes as it drains.
                if claimed.send((message, sender, lease_until)).await.is_err() {
                    return Ok(());
                }
            }
        }
    };
    // What the messages became is written as they come back, those that came back
    // together in one transaction, beside the sending (never pausing it: a paused send
    // may hold a connection the write needs).
    let (done, mut came_back) = tokio::sync::mpsc::unbounded_channel::<Settlement>();
    // A message that waited here past half its lease (a slow server) is left for the next
    // claim, which may be this worker's own: sent now, it could be claimed and sent again
    // while its answer is awaited. Half the lease (60 s) is twice the SMTP timeout (30 s).
    let half_lease = config.lease.as_millis() as i64 / 2;
    let sending = futures::stream::poll_fn(move |cx| waiting.poll_recv(cx))
        .filter(move |(message, _, lease_until)| {
            let in_time = clock.now_ms() < lease_until - half_lease;
            if !in_time {
                tracing::warn!(message_id = %message.id, "a claimed message waited past half its lease: left for the next claim");
            }
            futures::future::ready(in_time)
        })
        .map(|(message, sender, _)| async move { deliver(state, transport, config, message, &sender, signer.get().and_then(Option::as_ref)).await })
        .buffer_unordered(config.concurrency.max(1))
        .for_each(move |settlement| {
            let _ = done.send(settlement);
            async {}
        });
    let recording = async move {
        let mut report = DeliveryReport::default();
        while let Some(first) = came_back.recv().await {
            let mut round = vec![first];
            while let Ok(next) = came_back.try_recv() {
                round.push(next);
            }
            match outbox::settle_all(db, &config.worker.to_string(), &round).await {
                Ok(()) => {
                    for _ in &round {
                        state.checkpoints.reach(crate::services::checkpoints::points::DELIVERY_RECORDED).await;
                    }
                }
                // The leases run out and another pass settles them; the mail may then go
                // out twice (at least once, never lost).
                Err(error) => tracing::error!(messages = round.len(), %error, "could not record delivery outcomes"),
            }
            for settlement in &round {
                match settlement.state {
                    DeliveryState::Sent => report.sent += 1,
                    DeliveryState::Failed => report.failed += 1,
                    DeliveryState::Deferred | DeliveryState::Queued | DeliveryState::Sending => report.deferred += 1,
                }
            }
        }
        report
    };
    let (claimed, (), report) = futures::join!(claiming, sending, recording);
    state.metrics.record_deliveries(report.sent, report.deferred, report.failed);
    if report.sent > 0 {
        outbox::clear_transport_problem(db).await?;
    }
    claimed.map(|()| report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_recognises_only_its_own_earlier_runs_on_this_machine() {
        let me = WorkerId { host: "box-1".into(), pid: std::process::id(), started_ms: 2_000 };
        assert_eq!(WorkerId::parse(&me.to_string()), Some(me.clone()));
        assert_eq!(WorkerId::parse("a/b/host/12/34"), Some(WorkerId { host: "a/b/host".into(), pid: 12, started_ms: 34 }));
        assert!(me.outlived(&WorkerId { started_ms: 1_000, ..me.clone() }), "the same process id, started earlier: a previous run");
        assert!(me.outlived(&WorkerId { pid: 4_194_400, ..me.clone() }), "a process id beyond any that can run");
        assert!(!me.outlived(&me), "its own leases are in use");
        assert!(!me.outlived(&WorkerId { pid: 1, ..me.clone() }), "a process that runs");
        assert!(!me.outlived(&WorkerId { host: "box-2".into(), started_ms: 1_000, ..me.clone() }), "another machine's");
    }

    #[test]
    fn backoff_doubles_with_jitter_and_stays_capped() {
        let config = DeliveryConfig::default();
        for (attempts, base) in [(1, 30.0), (2, 60.0), (3, 120.0)] {
            let wait = backoff(&config, attempts).as_secs_f64();
            assert!(wait >= base * 0.8 && wait <= base * 1.2, "{attempts}: {wait}");
        }
        assert!(backoff(&config, 30).as_secs_f64() <= 3600.0 * 1.2);
    }
}
