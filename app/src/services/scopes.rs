//! The account's places: organisational units (which may nest), and the waiting areas and
//! meeting rooms inside them. Browsing them, their people, and creating, renaming,
//! archiving and restoring them.

use super::audit::{self, AuditEvent};
use super::error::{internal, Step};
use super::store::scopes::{self as store, NewScope, ScopeRecord};
use super::store::user_list;
use super::store::{is_unique_violation, new_id, Conn};
use super::{users, Actor, AppState};
use shared::audit::AuditAction;
use shared::names::PlaceName;
use shared::permissions::{Denied, Permission};
use shared::scopes::ScopeKind;
use shared::views::{ScopeDetail, ScopeMember, ScopeNode, ScopeTree};
use shared::AppError;
use std::collections::HashMap;

/// What the Organisation page asks for.
#[derive(Clone, Debug, Default)]
pub struct TreeQuery {
    pub search: String,
    pub kind: Option<ScopeKind>,
    pub include_archived: bool,
}

/// The account's places in tree order (each after its parent, siblings by name), with
/// their depth and counts.
async fn all_nodes(conn: &mut Conn, account_id: &str) -> Result<(String, Vec<ScopeNode>), AppError> {
    let records = store::all(conn, account_id).await.step("scopes::all")?;
    let counts: HashMap<String, (i64, i64)> = store::place_counts(conn, account_id)
        .await
        .step("scopes::place_counts")?
        .into_iter()
        .map(|(id, members, invitations)| (id, (members, invitations)))
        .collect();
    let account_scope = records.iter().find(|r| r.kind == ScopeKind::Account).map(|r| r.id.clone()).step("the account scope must exist")?;
    let mut children: HashMap<Option<String>, Vec<&ScopeRecord>> = HashMap::new();
    for record in records.iter().filter(|r| r.kind != ScopeKind::Account) {
        let parent = record.parent_id.clone().filter(|p| *p != account_scope);
        children.entry(parent).or_default().push(record);
    }
    let mut nodes = Vec::with_capacity(records.len());
    let mut stack: Vec<(&ScopeRecord, u32)> = children.get(&None).map(|c| c.iter().rev().map(|r| (*r, 0)).collect()).unwrap_or_default();
    while let Some((record, depth)) = stack.pop() {
        nodes.push(ScopeNode {
            id: record.id.clone(),
            name: record.name.clone(),
            kind: record.kind,
            parent_id: record.parent_id.clone().filter(|p| *p != account_scope),
            depth,
            archived: record.archived_at.is_some(),
            members: counts.get(&record.id).map_or(0, |c| c.0),
            invitations: counts.get(&record.id).map_or(0, |c| c.1),
        });
        if let Some(kids) = children.get(&Some(record.id.clone())) {
            stack.extend(kids.iter().rev().map(|k| (*k, depth + 1)));
        }
    }
    Ok((account_scope, nodes))
}

/// `id` and every place below it, from a tree-ordered list.
fn subtree(nodes: &[ScopeNode], id: &str) -> Vec<String> {
    let Some(start) = nodes.iter().position(|n| n.id == id) else { return Vec::new() };
    let depth = nodes[start].depth;
    std::iter::once(nodes[start].id.clone()).chain(nodes[start + 1..].iter().take_while(|n| n.depth > depth).map(|n| n.id.clone())).collect()
}

fn require_reach(actor: &Actor, scope_id: &str) -> Result<(), AppError> {
    if actor.authority.reaches(scope_id) {
        Ok(())
    } else if actor.can(Permission::ViewUsers) {
        Err(AppError::Forbidden(Denied::OutsideYourScopes))
    } else {
        Err(AppError::Forbidden(Denied::NotPermitted))
    }
}

/// The Organisation page: every place the actor reaches, with the places above those that
/// match a search, so each shows where it sits.
pub async fn tree(state: &AppState, actor: &Actor, query: TreeQuery) -> Result<ScopeTree, AppError> {
    if !(actor.can(Permission::ManageScopes) || actor.authority.manages_account() || actor.authority.administers_any_place()) {
        return Err(AppError::Forbidden(Denied::NotPermitted));
    }
    state.checkpoints.reach(super::checkpoints::points::PLACES_READING).await;
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let (account_scope_id, nodes) = all_nodes(&mut conn, &actor.account_id).await?;
    let search = query.search.trim().to_lowercase();
    let matches = |n: &ScopeNode| {
        actor.authority.reaches(&n.id)
            && (query.include_archived || !n.archived)
            && query.kind.is_none_or(|k| n.kind == k)
            && (search.is_empty() || n.name.to_lowercase().contains(&search))
    };
    // Keep each match and the places above it.
    let mut keep = vec![false; nodes.len()];
    for (i, node) in nodes.iter().enumerate() {
        if matches(node) {
            keep[i] = true;
            let mut depth = node.depth;
            for j in (0..i).rev() {
                if depth == 0 {
                    break;
                }
                if nodes[j].depth < depth {
                    keep[j] = true;
                    depth = nodes[j].depth;
                }
            }
        }
    }
    let nodes = nodes.into_iter().zip(keep).filter_map(|(n, k)| k.then_some(n)).collect();
    Ok(ScopeTree { account_scope_id, nodes, can_manage: actor.can(Permission::ManageScopes) })
}

/// A place with its people: who holds a role there, and who is invited to one.
pub async fn detail(state: &AppState, actor: &Actor, scope_id: &str) -> Result<ScopeDetail, AppError> {
    require_reach(actor, scope_id)?;
    let now = state.clock.now_ms();
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let (_, nodes) = all_nodes(&mut conn, &actor.account_id).await?;
    let node = nodes.iter().find(|n| n.id == scope_id).cloned().ok_or(AppError::NotFound)?;
    let mut path = Vec::new();
    let mut parent = node.parent_id.clone();
    while let Some(id) = parent {
        let above = nodes.iter().find(|n| n.id == id).cloned().step("the scope tree must hold its ancestors")?;
        parent = above.parent_id.clone();
        path.insert(0, above);
    }
    let children = nodes.iter().filter(|n| n.parent_id.as_deref() == Some(scope_id)).cloned().collect();
    let (member_ids, invited_ids) = store::people_in(&mut conn, &[scope_id.to_string()]).await.step("scopes::people_in")?;
    let members = people(&mut conn, actor, &member_ids, scope_id, now, Here::Held).await?;
    let invited = people(&mut conn, actor, &invited_ids, scope_id, now, Here::Offered).await?;
    Ok(ScopeDetail { node, path, children, members, invited, can_manage: actor.can(Permission::ManageScopes), now_ms: now })
}

/// Which of a person's roles a place's page shows: those they hold there, or those their
/// invitation offers there.
#[derive(Clone, Copy)]
enum Here {
    Held,
    Offered,
}

/// `user_ids` as rows, each with its roles in this place, by name.
async fn people(conn: &mut Conn, actor: &Actor, user_ids: &[String], scope_id: &str, now: i64, here: Here) -> Result<Vec<ScopeMember>, AppError> {
    let listed = user_list::by_ids(conn, &actor.account_id, user_ids, now).await.step("user_list::by_ids")?;
    let rows = users::rows(conn, actor, listed, now).await?;
    Ok(rows
        .into_iter()
        .map(|user| {
            let grants = match here {
                Here::Held => user.held.clone(),
                Here::Offered => user.invitation.as_ref().map(|i| i.offered.clone()).unwrap_or_default(),
            };
            ScopeMember { here: grants.into_iter().filter(|g| g.grant.scope_id == scope_id).collect(), user }
        })
        .collect())
}

async fn record(conn: &mut Conn, actor: &Actor, action: AuditAction, scope_id: &str, details: serde_json::Value, now: i64) -> Result<(), AppError> {
    let event = AuditEvent { account_id: &actor.account_id, actor_user_id: Some(&actor.user_id), action, target_type: "scope", target_id: scope_id, details };
    audit::record(conn, event, now).await.step("audit::record")
}

#[track_caller]
fn name_taken(error: sqlx::Error) -> AppError {
    if is_unique_violation(&error) {
        AppError::Validation("A place of that kind with that name already exists there. Choose another name.".into())
    } else {
        internal("scopes write", error)
    }
}

/// Creates a place inside `parent_id` (`None`: directly in the account). Returns its id.
pub async fn create(state: &AppState, actor: &Actor, kind: ScopeKind, name: &str, parent_id: Option<&str>) -> Result<String, AppError> {
    actor.require(Permission::ManageScopes)?;
    let name = PlaceName::parse(name)?;
    if kind == ScopeKind::Account {
        return Err(AppError::Validation("Choose an organisational unit, a waiting area or a meeting room.".into()));
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    let parent = match parent_id {
        Some(id) => store::get(&mut tx, &actor.account_id, id).await.step("scopes::get")?.ok_or(AppError::NotFound)?,
        None => {
            let id = store::account_scope_id(&mut tx, &actor.account_id).await.step("scopes::account_scope_id")?;
            store::get(&mut tx, &actor.account_id, &id).await.step("scopes::get")?.step("scopes::get: the row must exist")?
        }
    };
    if parent.archived_at.is_some() {
        return Err(AppError::InvalidState(format!("{} is archived. Restore it first.", parent.name)));
    }
    if !kind.may_sit_in(parent.kind) {
        return Err(AppError::Validation(format!("A {} goes inside an organisational unit.", kind.label().to_lowercase())));
    }
    let id = new_id();
    let scope = NewScope { id: &id, account_id: &actor.account_id, kind, name: name.as_str(), parent_id: Some(&parent.id) };
    store::insert(&mut tx, scope, now).await.map_err(name_taken)?;
    record(&mut tx, actor, AuditAction::ScopeCreated, &id, serde_json::json!({ "kind": kind.as_str(), "name": name.as_str(), "parent": parent.id }), now)
        .await?;
    tx.commit().await.step("commit")?;
    Ok(id)
}

async fn place(tx: &mut Conn, actor: &Actor, id: &str) -> Result<ScopeRecord, AppError> {
    store::get(tx, &actor.account_id, id).await.step("scopes::get")?.filter(|s| s.kind != ScopeKind::Account).ok_or(AppError::NotFound)
}

pub async fn rename(state: &AppState, actor: &Actor, id: &str, name: &str) -> Result<String, AppError> {
    actor.require(Permission::ManageScopes)?;
    let name = PlaceName::parse(name)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    let scope = place(&mut tx, actor, id).await?;
    store::rename(&mut tx, id, name.as_str()).await.map_err(name_taken)?;
    record(&mut tx, actor, AuditAction::ScopeRenamed, id, serde_json::json!({ "from": scope.name, "to": name.as_str() }), now).await?;
    tx.commit().await.step("commit")?;
    Ok(format!("{} is now called {name}.", scope.name))
}

/// Archives a place and every place inside it. Refused while an open invitation offers a
/// role in any of them: those invitations are cancelled or changed first, so no invitation
/// is ever left offering a role in a place that takes no one. Memberships stay (restoring
/// brings them back) but confer nothing while archived.
pub async fn archive(state: &AppState, actor: &Actor, id: &str) -> Result<String, AppError> {
    actor.require(Permission::ManageScopes)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    let scope = place(&mut tx, actor, id).await?;
    let (_, nodes) = all_nodes(&mut tx, &actor.account_id).await?;
    let affected = subtree(&nodes, id);
    store::lock_for_archiving(&mut tx, state.db.engine(), &affected).await.step("scopes::lock_for_archiving")?;
    state.checkpoints.reach(super::checkpoints::points::ARCHIVE_AFTER_LOCK).await;
    let open = store::open_invitations_in(&mut tx, &affected).await.step("scopes::open_invitations_in")?;
    if open > 0 {
        return Err(AppError::InvalidState(format!(
            "{open} open invitation{} offer{} a role in {} or the places inside it. Cancel {}, or remove those roles, first.",
            if open == 1 { "" } else { "s" },
            if open == 1 { "s" } else { "" },
            scope.name,
            if open == 1 { "it" } else { "them" }
        )));
    }
    if scope.archived_at.is_some() {
        return Err(AppError::InvalidState(format!("{} is archived already.", scope.name)));
    }
    let archived = store::archive(&mut tx, &affected, &new_id(), now).await.step("scopes::archive")?;
    record(&mut tx, actor, AuditAction::ScopeArchived, id, serde_json::json!({ "name": scope.name, "with_places_inside": archived - 1 }), now).await?;
    tx.commit().await.step("commit")?;
    Ok(match archived {
        1 => format!("{} is archived.", scope.name),
        n => format!("{} and the {} places inside it are archived.", scope.name, n - 1),
    })
}

/// Brings an archived place back, with the places inside it that were archived with it (by
/// the same archiving): a place archived on its own before stays archived, since archiving is
/// how a place's administrators lose their power there.
pub async fn restore(state: &AppState, actor: &Actor, id: &str) -> Result<String, AppError> {
    actor.require(Permission::ManageScopes)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    let scope = place(&mut tx, actor, id).await?;
    if scope.archived_at.is_none() {
        return Err(AppError::InvalidState(format!("{} is not archived.", scope.name)));
    }
    if let Some(parent) = &scope.parent_id {
        let parent = store::get(&mut tx, &actor.account_id, parent).await.step("scopes::get")?.step("scopes::get: the row must exist")?;
        if parent.archived_at.is_some() {
            return Err(AppError::InvalidState(format!("{} is inside {}, which is archived. Restore that first.", scope.name, parent.name)));
        }
    }
    let (_, nodes) = all_nodes(&mut tx, &actor.account_id).await?;
    let records = store::all(&mut tx, &actor.account_id).await.step("scopes::all")?;
    // Places archived before the archiving had an id carry only its time.
    let same_archiving = |r: &ScopeRecord| match (&scope.archive_id, &r.archive_id) {
        (Some(this), Some(theirs)) => this == theirs,
        (None, None) => r.archived_at == scope.archived_at,
        _ => false,
    };
    let archived_with: Vec<String> = subtree(&nodes, id).into_iter().filter(|sid| records.iter().any(|r| &r.id == sid && same_archiving(r))).collect();
    store::restore(&mut tx, &archived_with).await.map_err(name_taken)?;
    record(&mut tx, actor, AuditAction::ScopeRestored, id, serde_json::json!({ "name": scope.name }), now).await?;
    tx.commit().await.step("commit")?;
    Ok(format!("{} is restored.", scope.name))
}
