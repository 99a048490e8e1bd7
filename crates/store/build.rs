// `sqlx::migrate!` embeds `schema/sql/` at compile time; rebuild when a migration is added.
fn main() {
    println!("cargo:rerun-if-changed=../../schema/sql");
}
