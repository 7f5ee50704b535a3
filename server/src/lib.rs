#![recursion_limit = "256"]
//! The `beckon` server: configuration, start-up, the HTTP router and the CLI commands.

pub mod assets;
pub mod config;
pub mod keys;
pub mod ops;
pub mod router;
pub mod security;
pub mod sessions;
pub mod startup;

pub use config::Config;
