//! `schema/graphql/schema.graphql` is generated from the code and must match it, so clients can
//! read the contract without running the server. Regenerate it with
//! `GAVEL_WRITE_SCHEMA=1 cargo test -p gavel-api --test schema_file`.

use std::path::Path;

#[test]
fn checked_in_sdl_matches_the_code() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/graphql/schema.graphql");
    let generated = gavel_api::build_schema().sdl();
    if std::env::var_os("GAVEL_WRITE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{} is out of date: regenerate it with GAVEL_WRITE_SCHEMA=1 cargo test -p gavel-api --test schema_file",
        path.display()
    );
}
