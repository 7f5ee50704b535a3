#![recursion_limit = "256"]
//! The `beckon` server: configuration, start-up, the HTTP router and the CLI commands.

pub mod api;
pub mod assets;
pub mod bounces;
pub mod config;
pub mod exports;
pub mod imports;
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

/// Keeps the kernel from backing this process's memory with transparent huge pages where it
/// gives them to every process ("always"): mimalloc's small heaps then take 2 MB pages, and
/// the idle server doubled. Where they are given on request only ("madvise", Debian's
/// default), the `no_thp` build of mimalloc already asks for none.
pub fn without_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and only sets a flag of this process.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
