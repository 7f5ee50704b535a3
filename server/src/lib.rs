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

/// Every binary with the server in it allocates through mimalloc: a page view makes about
/// 3,000 allocations, and glibc's malloc and free were 45 % of its instructions (a link
/// page: 590,000 instructions with glibc, 400,000 with mimalloc).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
