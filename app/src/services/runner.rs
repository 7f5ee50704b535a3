//! The one runner of durable work. Mail (the outbox), bulk jobs, webhook deliveries and work
//! due at a time (the automatic reminders and the expiry of invitations for webhooks, looked
//! for every minute) are kinds of work it runs,
//! each claimed under a lease held by this process's [`WorkerId`]: a worker that dies leaves
//! its leases to run out (or, on the same machine, to be taken back at once by its next
//! start), and the next claim takes the work over. Each kind runs in a lane of its own, so a
//! job of 10,000 people never holds up the mail it queues, nor a single invitation.
//!
//! Work arriving wakes the lanes: in this process through [`WorkSignal`], and in every other
//! process on PostgreSQL through `NOTIFY beckon_work`; each lane also looks every
//! `poll_interval`, in case a wake-up was lost.

use super::jobs;
use super::mail::transport::Transport;
use super::mail::worker::{self, DeliveryConfig, WorkerId};
use super::store::jobs as job_store;
use super::store::webhooks as webhook_store;
use super::webhooks;
use super::AppState;
use std::sync::Arc;
use tokio::sync::Notify;

/// How often the due lane looks for work due at a time (reminders are counted in days).
const DUE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// The PostgreSQL channel that tells the runners of every process that work arrived.
pub const CHANNEL: &str = "beckon_work";

/// Wakes the runner's lanes after work is committed.
#[derive(Default)]
pub struct WorkSignal {
    mail: Notify,
    jobs: Notify,
    webhooks: Notify,
    /// On PostgreSQL, where the other processes' runners are told.
    others: Option<sqlx::AnyPool>,
}

impl WorkSignal {
    /// A signal that also tells other processes, through `pool` (PostgreSQL).
    pub fn telling_others(pool: sqlx::AnyPool) -> WorkSignal {
        WorkSignal { others: Some(pool), ..WorkSignal::default() }
    }

    /// Work was committed: every lane looks now, here and (PostgreSQL) in other processes.
    pub fn wake(&self) {
        self.wake_here();
        if let Some(pool) = self.others.clone() {
            // Off the request's path: the request answered already, and a lost NOTIFY is
            // made good by the other runners' poll.
            tokio::spawn(async move {
                if let Err(error) = sqlx::query(&format!("NOTIFY {CHANNEL}")).execute(&pool).await {
                    tracing::debug!(%error, "could not notify the other runners");
                }
            });
        }
    }

    /// Wakes this process's lanes only (a NOTIFY from another process arrived).
    pub fn wake_here(&self) {
        self.mail.notify_one();
        self.jobs.notify_one();
        self.webhooks.notify_one();
    }
}

/// Takes back, at once, the work earlier runs of this worker on this machine had leased.
pub async fn take_back_abandoned(state: &AppState, me: &WorkerId) -> Result<u64, sqlx::Error> {
    let mut taken = worker::take_back_abandoned(state, me).await?;
    let now = state.clock.now_ms();
    for holder in job_store::lease_holders(&state.db, now).await? {
        if WorkerId::parse(&holder).is_some_and(|h| me.outlived(&h)) {
            taken += job_store::release_leases(&state.db, &holder, now).await?;
        }
    }
    for holder in webhook_store::lease_holders(&state.db, now).await? {
        if WorkerId::parse(&holder).is_some_and(|h| me.outlived(&h)) {
            taken += webhook_store::release_leases(&state.db, &holder, now).await?;
        }
    }
    Ok(taken)
}

/// Runs until `shutdown` resolves: the mail lane and the jobs lane, each doing what is due
/// and then waiting for a wake-up or the poll interval.
pub async fn run(state: AppState, transport: Transport, config: DeliveryConfig, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    tracing::info!(transport = %transport.describe(), worker = %config.worker, "runner started");
    if let Err(error) = take_back_abandoned(&state, &config.worker).await {
        tracing::warn!(%error, "could not look for work an earlier run had leased");
    }
    let listener = listen_for_other_processes(&state);
    // Each lane a task of its own: a bulk job's batches are made on one thread while the
    // mail they queue is sent from another.
    let mail = {
        let (state, config) = (state.clone(), config.clone());
        tokio::spawn(async move {
            loop {
                match worker::dispatch_pending(&state, &transport, &config).await {
                    Ok(_) => state.metrics.worker_finished_pass(state.clock.now_ms()),
                    Err(error) => tracing::error!(%error, "delivery pass failed"),
                }
                tokio::select! {
                    _ = state.work_signal.mail.notified() => {}
                    _ = tokio::time::sleep(config.poll_interval) => {}
                }
            }
        })
    };
    let jobs = {
        let (state, jobs_config, poll_interval) = (state.clone(), jobs::JobsConfig::from(&config), config.poll_interval);
        tokio::spawn(async move {
            loop {
                if let Err(error) = jobs::run_due(&state, &jobs_config, None).await {
                    tracing::error!(%error, "jobs pass failed");
                }
                tokio::select! {
                    _ = state.work_signal.jobs.notified() => {}
                    _ = tokio::time::sleep(poll_interval) => {}
                }
            }
        })
    };
    let hooks = {
        let (state, hooks_config, poll_interval) = (state.clone(), webhooks::delivery::LaneConfig::new(config.worker.to_string()), config.poll_interval);
        tokio::spawn(async move {
            // Woken by this process's commits that wrote events, by the signal, or the poll.
            let mut commits = webhooks::events::commits();
            loop {
                if let Err(error) = webhooks::delivery::run_due(&state, &hooks_config).await {
                    tracing::error!(%error, "webhook pass failed");
                }
                tokio::select! {
                    _ = commits.changed() => {}
                    _ = state.work_signal.webhooks.notified() => {}
                    _ = tokio::time::sleep(poll_interval) => {}
                }
            }
        })
    };
    // Work due at a time: the automatic reminders, and invitations expiring for webhooks.
    let due = {
        let state = state.clone();
        tokio::spawn(async move {
            loop {
                if let Err(error) = super::invitations::reminders::run_due(&state).await {
                    tracing::error!(%error, "due work pass failed");
                }
                if let Err(error) = webhooks::events::sweep_expired(&state).await {
                    tracing::error!(%error, "expiry sweep for webhooks failed");
                }
                tokio::time::sleep(DUE_EVERY).await;
            }
        })
    };
    let mut lanes = [mail, jobs, hooks, due];
    // A lane ends only by panicking: the others are stopped and the panic goes on to the
    // caller, as it did when the lanes were one task.
    let ended = tokio::select! {
        (ended, _, _) = futures::future::select_all(lanes.iter_mut()) => Some(ended),
        _ = &mut shutdown => None,
    };
    // Stopped before this returns, as a dropped lane would be.
    for lane in lanes {
        lane.abort();
        let _ = lane.await;
    }
    if let Some(Err(error)) = ended {
        if error.is_panic() {
            tracing::error!("a lane of the runner panicked: the runner stops");
            std::panic::resume_unwind(error.into_panic());
        }
    }
    if let Some(listener) = listener {
        listener.abort();
    }
    tracing::info!("runner stopped");
}

/// On PostgreSQL, a task that wakes this process's lanes whenever another process says work
/// arrived (reconnecting by itself when the connection drops).
fn listen_for_other_processes(state: &AppState) -> Option<tokio::task::JoinHandle<()>> {
    let url = state.db.postgres_url()?;
    let signal: Arc<WorkSignal> = state.work_signal.clone();
    Some(tokio::spawn(async move {
        loop {
            match sqlx::postgres::PgListener::connect(&url).await {
                Ok(mut listener) => {
                    if let Err(error) = listener.listen(CHANNEL).await {
                        tracing::warn!(%error, "could not listen for work from other processes");
                    } else {
                        // Work may have arrived while nobody listened.
                        signal.wake_here();
                        // `recv` reconnects by itself after a dropped connection.
                        while listener.recv().await.is_ok() {
                            signal.wake_here();
                        }
                    }
                }
                Err(error) => tracing::debug!(%error, "cannot listen for work from other processes yet"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    }))
}
