//! `sqlx::migrate!` reads the migration folders when the crate compiles; without this, a new
//! migration file alone would not rebuild the crate and the binary would run without it.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
