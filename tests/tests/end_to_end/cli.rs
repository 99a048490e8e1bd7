//! The `gavel` binary, run as a real process.

use std::process::Command;

use gavel_tests::{gavel_binary, isolated_settings, read_store, stack_settings};

#[tokio::test]
async fn migrate_prepares_store_and_read_models_and_can_run_twice() {
    let settings = isolated_settings(&stack_settings()).await;
    for run in 1..=2 {
        let output = Command::new(gavel_binary())
            .arg("migrate")
            .env("GAVEL_POSTGRES_URL", &settings.postgres_url)
            .env("GAVEL_MONGODB_DATABASE", &settings.mongodb_database)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "run {run}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let store = read_store(&settings, &settings.mongodb_database).await;
    let names = store.database().list_collection_names().await.unwrap();
    assert!(names.iter().any(|n| n == "listings"), "{names:?}");
}

#[test]
fn a_bad_setting_is_a_clear_error() {
    let output = Command::new(gavel_binary())
        .arg("migrate")
        .env("GAVEL_API_LISTEN", "nowhere")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.to_lowercase().contains("api_listen"), "{stderr}");
}
