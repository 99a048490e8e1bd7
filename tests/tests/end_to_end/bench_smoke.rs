//! The benchmark suite's smallest case runs end to end and writes its results. No speed is
//! asserted here: speed is measured by `make bench`, never by the tests.

use gavel_tests::{bench_binary, stack_settings};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

/// Names of the PostgreSQL and MongoDB databases on the stack that the benchmark owns.
async fn benchmark_databases() -> Vec<String> {
    let settings = stack_settings();
    let options: PgConnectOptions = settings.postgres_url.parse().unwrap();
    let mut admin = PgConnection::connect_with(&options.database("postgres"))
        .await
        .unwrap();
    let mut names: Vec<String> =
        sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname LIKE 'bench\\_%'")
            .fetch_all(&mut admin)
            .await
            .unwrap();
    let client = mongodb::Client::with_uri_str(&settings.mongodb_url)
        .await
        .unwrap();
    names.extend(
        client
            .list_database_names()
            .await
            .unwrap()
            .into_iter()
            .filter(|name| name.starts_with("bench_")),
    );
    names
}

#[tokio::test]
async fn the_smoke_suite_runs_every_measurement_writes_json_and_charts_and_drops_its_data() {
    let out = std::env::temp_dir().join(format!("gavel-bench-smoke-{}", uuid::Uuid::now_v7()));
    let report = out.join("report.md");
    let before = benchmark_databases().await;
    let output = std::process::Command::new(bench_binary())
        .args(["--suite", "smoke", "--out"])
        .arg(&out)
        .arg("--report")
        .arg(&report)
        .output()
        .expect("running gavel-bench");
    assert!(
        output.status.success(),
        "gavel-bench failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("smoke.json")).unwrap()).unwrap();
    assert_eq!(results["throughput"][0]["clients"], 1);
    assert_eq!(results["throughput"][0]["failed"], 0);
    assert!(results["throughput"][0]["pgbench_tps"].as_f64().unwrap() > 0.0);
    assert_eq!(results["command_path"][0]["clients"], 1);
    assert_eq!(results["command_path"][0]["failed"], 0);
    assert!(
        results["command_path"][0]["bids_per_second"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    // The smoke suite's stream lengths (0 and 10 prior bids) share one open-loop run in turn;
    // each gets its own 10 measured bids.
    let stream_length = results["stream_length"].as_array().unwrap();
    assert_eq!(stream_length.len(), 2);
    for point in stream_length {
        assert_eq!(point["latency"]["count"], 10, "{point}");
    }
    assert_eq!(results["hot_auction"]["conflicts_surfaced"], 0);
    assert_eq!(results["hot_auction"]["final_state_correct"], true);
    assert_eq!(results["rebuild"][0]["events"], 200);
    assert_eq!(results["search"][0]["failed"], 0);
    assert_eq!(results["peak_rss_mib"].as_array().unwrap().len(), 5);
    for chart in ["throughput", "latency", "freshness"] {
        let svg = std::fs::read_to_string(out.join(format!("smoke-{chart}.svg"))).unwrap();
        assert!(svg.starts_with("<svg"), "{chart} chart");
    }
    assert!(std::fs::read_to_string(report)
        .unwrap()
        .contains("### Targets"));
    let left: Vec<String> = benchmark_databases()
        .await
        .into_iter()
        .filter(|name| !before.contains(name))
        .collect();
    assert_eq!(left, Vec::<String>::new(), "databases the run left behind");
}
