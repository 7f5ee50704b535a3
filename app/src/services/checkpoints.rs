//! Named points in the services where a test can hold a request, to make a chosen
//! interleaving of concurrent requests happen (an accept that has checked its link but not
//! yet claimed it, while a cancel commits). Nothing is installed outside tests: `reach`
//! then returns at once.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

type Hook = dyn Fn(&'static str) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync;

#[derive(Clone, Default)]
pub struct Checkpoints(Option<Arc<Hook>>);

impl Checkpoints {
    pub fn new(hook: impl Fn(&'static str) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync + 'static) -> Checkpoints {
        Checkpoints(Some(Arc::new(hook)))
    }

    pub async fn reach(&self, name: &'static str) {
        if let Some(hook) = &self.0 {
            hook(name).await;
        }
    }
}

/// The points, named once so services and tests agree.
pub mod points {
    /// An accept has read the link's invitation and invitee, and goes on to check its form.
    pub const ACCEPT_AFTER_RESOLVE: &str = "accept.after_resolve";
    /// An accept has verified its link and form, and is about to claim the invitation.
    pub const ACCEPT_BEFORE_CLAIM: &str = "accept.before_claim";
    /// An action on an invitation (resend, cancel, …) is about to open its transaction.
    pub const ACT_BEFORE_BEGIN: &str = "act.before_begin";
    /// "Invite people" has written its batch and checked the daily budget; it commits next.
    pub const INVITE_BEFORE_COMMIT: &str = "invite.before_commit";
    /// An archiving holds its places and is about to count what is open in them.
    pub const ARCHIVE_AFTER_LOCK: &str = "archive.after_lock";
    /// "Manage invitation" has removed roles and is about to commit.
    pub const MANAGE_BEFORE_COMMIT: &str = "manage.before_commit";
    /// An accept has read, in its transaction, the roles the invitation offers.
    pub const ACCEPT_AFTER_OFFERS: &str = "accept.after_offers";
    /// A set-up has checked that none exists yet and is about to write the owner.
    pub const SETUP_BEFORE_WRITE: &str = "setup.before_write";
    /// A request is about to load who is signed in (the first step of every admin page's data).
    pub const ACTOR_LOADING: &str = "auth.actor_loading";
    /// The Users page's list is being read.
    pub const USERS_LISTING: &str = "users.listing";
    /// The tree of places is being read.
    pub const PLACES_READING: &str = "places.reading";
    /// A sign-in attempt is about to be counted.
    pub const SIGN_IN_BEFORE_COUNT: &str = "sign_in.before_count";
    /// A sign-in attempt for an address that failed too often from everywhere is being slowed.
    pub const SIGN_IN_SLOWED: &str = "sign_in.slowed";
    /// The mail server accepted a message; the outbox does not know it yet.
    pub const DELIVERY_SENT: &str = "delivery.sent";
    /// A message's outcome is in the outbox (reached once per message, after its round's commit).
    pub const DELIVERY_RECORDED: &str = "delivery.recorded";
    /// A batch of a bulk job has done its people and is about to commit.
    pub const JOB_BATCH_BEFORE_COMMIT: &str = "job.batch_before_commit";
    /// An import's last batch is staged; its rows are about to go live.
    pub const IMPORT_BEFORE_PUBLISH: &str = "import.before_publish";
    /// A batch of a bulk job has committed.
    pub const JOB_BATCH_COMMITTED: &str = "job.batch_committed";
    /// An API request has claimed its Idempotency-Key and is about to be done.
    pub const API_IDEMPOTENCY_CLAIMED: &str = "api.idempotency_claimed";
}
