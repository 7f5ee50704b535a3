//! Importing people from a CSV file: the preview, its rows, and the confirmation. The upload
//! itself is a plain route (`shared::import::UPLOAD_PATH`), the one request past 1 MB.

use leptos::prelude::*;
use shared::import::ImportView;
use shared::AppError;

#[cfg(feature = "ssr")]
use crate::services::{context, imports};
#[cfg(feature = "ssr")]
use shared::import::{ImportMode, RowChange, Verdict};

/// The import's counts and a page of its rows, of one verdict (`Verdict::as_str`) when given.
#[server(endpoint = "get_import")]
pub async fn get_import(id: String, verdict: Option<String>, page: u32) -> Result<ImportView, AppError> {
    let args = format!("{id}:{verdict:?}:{page}");
    context::as_signed_in_read("get_import", args, |state, actor| async move {
        let only = match verdict.as_deref().filter(|v| !v.is_empty()) {
            Some(text) => Some(Verdict::parse(text).ok_or_else(|| AppError::Validation("Unknown verdict.".into()))?),
            None => None,
        };
        imports::get(&state, &actor, &id, only, page).await
    })
    .await
}

/// Drops or restores a row of the preview, or answers its likely typo (`RowChange::as_str`).
#[server(endpoint = "change_import_row")]
pub async fn change_import_row(id: String, line: u64, change: String) -> Result<(), AppError> {
    context::as_signed_in(|state, actor| async move {
        let change = RowChange::parse(&change).ok_or_else(|| AppError::Validation("Unknown change.".into()))?;
        imports::change_row(&state, &actor, &id, line, change).await
    })
    .await
}

/// Imports the importable rows (`ImportMode::as_str`: send invites, or Profile only).
#[server(endpoint = "start_import")]
pub async fn start_import(id: String, mode: String) -> Result<ImportView, AppError> {
    context::as_signed_in(|state, actor| async move {
        let mode = ImportMode::parse(&mode).ok_or_else(|| AppError::Validation("Choose whether to send invitations.".into()))?;
        imports::start(&state, &actor, &id, mode).await
    })
    .await
}
