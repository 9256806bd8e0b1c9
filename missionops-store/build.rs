//! Rebuilds the store when a migration is added or changed: `sqlx::migrate!` embeds the files
//! of `migrations/` at compile time, and Cargo would not otherwise see a new file there.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
