//! The benchmark suite's smallest case runs end to end and writes its results. No speed is
//! asserted here: speed is measured by `make bench`, never by the tests.

use gavel_tests::bench_binary;

#[test]
fn the_smoke_suite_runs_every_measurement_and_writes_json_and_charts() {
    let out = std::env::temp_dir().join(format!("gavel-bench-smoke-{}", uuid::Uuid::now_v7()));
    let report = out.join("report.md");
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
}
