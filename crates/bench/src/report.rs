//! Writing results: JSON for machines, SVG charts and Markdown tables for people.

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;
use serde::Serialize;

use crate::Results;

/// The machine a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// CPU model.
    pub cpu: String,
    /// Logical cores.
    pub cores: usize,
    /// Memory in GiB.
    pub memory_gib: f64,
}

impl Machine {
    /// This machine, from `/proc`.
    pub fn here() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|line| line.starts_with("model name"))
            .and_then(|line| line.split_once(':'))
            .map_or("unknown".into(), |(_, name)| name.trim().to_string());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let kib: f64 = meminfo
            .lines()
            .find(|line| line.starts_with("MemTotal:"))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kib| kib.parse().ok())
            .unwrap_or(0.0);
        Self {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_gib: (kib / (1024.0 * 1024.0) * 10.0).round() / 10.0,
        }
    }
}

/// The projector applying a backlog after a burst of commands.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CatchUp {
    /// Events applied while draining.
    pub events: i64,
    /// Seconds the drain took.
    pub seconds: f64,
    /// Events applied per second while draining.
    pub events_per_second: f64,
}

impl CatchUp {
    /// `events` applied in `elapsed`.
    pub fn new(events: i64, elapsed: std::time::Duration) -> Self {
        let seconds = elapsed.as_secs_f64();
        Self {
            events,
            seconds,
            events_per_second: events as f64 / seconds.max(f64::EPSILON),
        }
    }
}

/// Writes `<suite>.json` and the charts into `out`, and the Markdown report to `report`.
pub fn write(results: &Results, out: &Path, report: Option<&Path>) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    let suite = serde_json::to_value(results.suite)?;
    let suite = suite.as_str().unwrap_or("run");
    std::fs::write(
        out.join(format!("{suite}.json")),
        serde_json::to_string_pretty(results)?,
    )?;
    throughput_chart(results, &out.join(format!("{suite}-throughput.svg")))?;
    latency_chart(results, &out.join(format!("{suite}-latency.svg")))?;
    freshness_chart(results, &out.join(format!("{suite}-freshness.svg")))?;
    if let Some(report) = report {
        let images = out
            .strip_prefix(report.parent().unwrap_or(Path::new("")))
            .unwrap_or(out)
            .display()
            .to_string();
        std::fs::write(report, markdown(results, suite, &images))?;
    }
    Ok(())
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "**not met**"
    }
}

/// The targets, each with where Gavel stands.
fn targets(results: &Results) -> String {
    let mut out = String::from("| target | measured | verdict |\n|---|---|---|\n");
    let worst_fraction = results
        .throughput
        .iter()
        .map(|level| level.fraction_of_pgbench)
        .fold(f64::INFINITY, f64::min);
    let _ = writeln!(
        out,
        "| bid throughput ≥ 0.5 × pgbench ceiling | {:.2} × at worst | {} |",
        worst_fraction,
        verdict(worst_fraction >= 0.5)
    );
    if let Some(longest) = results.stream_length.last() {
        let _ = writeln!(
            out,
            "| p99 at {} prior events ≤ 1.2 × fresh | {:.2} × | {} |",
            longest.prior_events,
            longest.p99_vs_fresh,
            verdict(longest.p99_vs_fresh <= 1.2)
        );
    }
    let hot = &results.hot_auction;
    let _ = writeln!(
        out,
        "| hot auction ≥ 1,500 accepted bids/s, 0 conflicts, correct state | {:.0}/s, {} conflicts, state {} | {} |",
        hot.accepted_per_second,
        hot.conflicts_surfaced,
        if hot.final_state_correct { "correct" } else { "WRONG" },
        verdict(hot.accepted_per_second >= 1_500.0 && hot.conflicts_surfaced == 0 && hot.final_state_correct)
    );
    if let Some(load) = results
        .freshness
        .iter()
        .max_by(|a, b| a.offered_per_second.total_cmp(&b.offered_per_second))
    {
        let measured = if load.freshness.count == 0 {
            format!(
                "no sampled change visible within the 2 s bound ({} samples)",
                load.stale
            )
        } else {
            format!("{:.1} ms ({} stale)", load.freshness.p99_ms, load.stale)
        };
        let _ = writeln!(
            out,
            "| freshness p99 ≤ 50 ms at {:.0} commands/s | {measured} | {} |",
            load.offered_per_second,
            verdict(load.freshness.count > 0 && load.freshness.p99_ms <= 50.0 && load.stale == 0)
        );
    }
    if let Some(rebuild) = results.rebuild.iter().max_by_key(|r| r.events) {
        let _ = writeln!(
            out,
            "| rebuild ≥ 50,000 events/s | {:.0} events/s at {} events | {} |",
            rebuild.events_per_second,
            rebuild.events,
            verdict(rebuild.events_per_second >= 50_000.0)
        );
    }
    out
}

/// The results as Markdown tables.
pub fn summary_tables(results: &Results) -> String {
    let mut out = String::new();
    out.push_str("### Targets\n\n");
    out.push_str(&targets(results));
    out.push_str("\n### Command throughput (closed loop, bids over many auctions)\n\n");
    out.push_str("| clients | bids/s | p50 ms | p95 ms | p99 ms | pgbench tps | fraction | rejected | failed |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for l in &results.throughput {
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.0} | {:.2} | {} | {} |",
            l.clients,
            l.bids_per_second,
            l.latency.p50_ms,
            l.latency.p95_ms,
            l.latency.p99_ms,
            l.pgbench_tps,
            l.fraction_of_pgbench,
            l.rejected,
            l.failed
        );
    }
    let c = &results.projector_catch_up;
    if c.events == 0 {
        out.push_str(
            "\nWhen the throughput runs ended the projector had applied every event (it works on through each level's pgbench run).\n",
        );
    } else {
        let _ = writeln!(
            out,
            "\nAfter the throughput runs the projector still had a backlog: it applied {} events in {:.1} s ({:.0} events/s).",
            c.events, c.seconds, c.events_per_second
        );
    }
    out.push_str("\n### The command path alone (the same bids with only `gavel api` running)\n\n");
    out.push_str("Measured on a deployment of its own once the one above was removed: the API commits the same bids, and nothing relays, projects or reads them. The gap between this table and the one above is what the pipeline beside the commands costs them on the shared cores.\n\n");
    out.push_str("| clients | bids/s | p50 ms | p99 ms | fraction of pgbench | × the whole stack | rejected | failed |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for l in &results.command_path {
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} |",
            l.clients,
            l.bids_per_second,
            l.latency.p50_ms,
            l.latency.p99_ms,
            l.fraction_of_pgbench,
            l.vs_whole_stack,
            l.rejected,
            l.failed
        );
    }
    out.push_str("\n### Latency against stream length (open loop, 50 bids/s in all, the auctions in turn)\n\n");
    out.push_str("| prior bids | p50 ms | p95 ms | p99 ms | p99 vs fresh | refused |\n|---:|---:|---:|---:|---:|---:|\n");
    for p in &results.stream_length {
        let _ = writeln!(
            out,
            "| {} | {:.2} | {:.2} | {:.2} | {:.2} × | {} |",
            p.prior_events,
            p.latency.p50_ms,
            p.latency.p95_ms,
            p.latency.p99_ms,
            p.p99_vs_fresh,
            p.rejected
        );
    }
    let hot = &results.hot_auction;
    out.push_str("\n### Hot auction (closed loop, one auction)\n\n");
    out.push_str("| clients | accepted/s | accepted | outbid in flight | conflicts surfaced | p50 ms | p99 ms | final state |\n|---:|---:|---:|---:|---:|---:|---:|---|\n");
    let _ = writeln!(
        out,
        "| {} | {:.0} | {} | {} | {} | {:.2} | {:.2} | {} |",
        hot.clients,
        hot.accepted_per_second,
        hot.accepted,
        hot.rejected,
        hot.conflicts_surfaced,
        hot.latency.p50_ms,
        hot.latency.p99_ms,
        if hot.final_state_correct {
            "correct"
        } else {
            "WRONG"
        }
    );
    out.push_str("\n### Freshness (open loop; response → visible in a query)\n\n");
    out.push_str(
        "Every fourth accepted bid is followed by `listing(id:, minVersion:)`, which waits up to \
         2 s for the read model; a sample not visible by then counts as stale. Each load starts \
         once the projector has applied everything before it.\n\n",
    );
    out.push_str("| offered/s | commands | not accepted | command p50 ms | command p99 ms | fresh p50 ms | fresh p99 ms | stale |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for l in &results.freshness {
        // With no sampled change visible there is no freshness to show, and 0.00 would read as
        // instant.
        let (fresh_p50, fresh_p99) = if l.freshness.count == 0 {
            ("none visible".to_string(), "none visible".to_string())
        } else {
            (
                format!("{:.2}", l.freshness.p50_ms),
                format!("{:.2}", l.freshness.p99_ms),
            )
        };
        let _ = writeln!(
            out,
            "| {:.0} | {} | {} | {:.2} | {:.2} | {fresh_p50} | {fresh_p99} | {} |",
            l.offered_per_second,
            l.commands,
            l.not_accepted,
            l.command_latency.p50_ms,
            l.command_latency.p99_ms,
            l.stale
        );
    }
    out.push_str("\n### Rebuild (`gavel rebuild` into empty read models)\n\n| events | events/s | peak RSS MiB |\n|---:|---:|---:|\n");
    for r in &results.rebuild {
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.0} |",
            r.events, r.events_per_second, r.peak_rss_mib
        );
    }
    out.push_str("\n### Search (closed loop, filter and sort mix, 20 per page with totalCount)\n\n| listings | clients | queries/s | p50 ms | p95 ms | p99 ms | failed |\n|---:|---:|---:|---:|---:|---:|---:|\n");
    for s in &results.search {
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} |",
            s.listings,
            s.clients,
            s.queries_per_second,
            s.latency.p50_ms,
            s.latency.p95_ms,
            s.latency.p99_ms,
            s.failed
        );
    }
    let mut runs = vec![
        (
            "the projector's catch-up after the throughput runs".to_string(),
            &results.projector_catch_up_cpu,
        ),
        ("the hot auction".to_string(), &results.hot_auction_cpu),
        ("the freshness runs".to_string(), &results.freshness_cpu),
    ];
    for rebuild in &results.rebuild {
        runs.push((
            format!("the rebuild of {} events", rebuild.events),
            &rebuild.cpu,
        ));
    }
    for search in &results.search {
        runs.push((
            format!("search over {} listings", search.listings),
            &search.cpu,
        ));
    }
    for (run, usage) in runs {
        let _ = write!(
            out,
            "\n### Where the processor time went during {run} ({:.1} s, {:.0} CPU-seconds available)\n\n\
             | component | CPU seconds | share of the machine |\n|---|---:|---:|\n",
            usage.wall_seconds,
            usage.available_seconds()
        );
        for (component, seconds) in &usage.by_component {
            let _ = writeln!(
                out,
                "| {component} | {seconds:.1} | {:.0} % |",
                100.0 * seconds / usage.available_seconds()
            );
        }
    }
    out.push_str("\n### Peak memory of each role (over the command runs)\n\n| role | peak RSS MiB |\n|---|---:|\n");
    for (role, mib) in &results.peak_rss_mib {
        let _ = writeln!(out, "| `gavel {role}` | {mib:.0} |");
    }
    out
}

fn markdown(results: &Results, suite: &str, images: &str) -> String {
    let m = &results.machine;
    format!(
        "# Benchmarks\n\n\
         Measured by `gavel-bench` ({suite} suite) on {date}: {cpu}, {cores} cores, {mem} GiB, with \
         PostgreSQL, Kafka, FerretDB and every Gavel role on the same machine and every commit \
         durable. Machines here are shared and noisy: compare ratios measured in one run (Gavel \
         against pgbench, long streams against fresh ones), not absolute numbers across runs.\n\n\
         Run it yourself (the stack comes up if needed):\n\n\
         ```sh\nmake bench        # full suite, about 15 minutes; rewrites this page\n\
         make bench-quick  # under 5 minutes, writes docs/benchmarks/quick.*\n```\n\n\
         Each run works on databases and topics of its own, named `bench_…`, and drops its \
         databases when it is done (the full suite's are several gigabytes). \
         Throughput runs are closed loop (each client sends its next request when the last one \
         answered). Latency runs are open loop: requests leave at a fixed rate and latency counts \
         from the intended send time, so a backlog shows in the numbers instead of slowing the \
         load. Raw results: [`{images}/{suite}.json`]({images}/{suite}.json).\n\n\
         {tables}\n\
         ### Charts\n\n\
         ![Throughput against concurrency]({images}/{suite}-throughput.svg)\n\n\
         ![Bid latency distribution per concurrency]({images}/{suite}-latency.svg)\n\n\
         ![Freshness over time]({images}/{suite}-freshness.svg)\n\n\
         [performance.md](performance.md) explains what limits each number and what was done \
         about it.\n",
        date = results.started_at,
        cpu = m.cpu,
        cores = m.cores,
        mem = m.memory_gib,
        tables = summary_tables(results),
    )
}

fn chart_error<E: std::fmt::Debug>(error: E) -> anyhow::Error {
    anyhow::anyhow!("drawing a chart: {error:?}")
}

fn throughput_chart(results: &Results, path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (720, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(chart_error)?;
    let max_clients = results
        .throughput
        .iter()
        .map(|l| l.clients)
        .max()
        .unwrap_or(1) as f64;
    let max_rate = results
        .throughput
        .iter()
        .map(|l| l.bids_per_second.max(l.pgbench_tps))
        .fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(&root)
        .caption("Throughput against concurrency", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_clients * 1.05, 0.0..max_rate * 1.1)
        .map_err(chart_error)?;
    chart
        .configure_mesh()
        .x_desc("concurrent clients")
        .y_desc("per second")
        .draw()
        .map_err(chart_error)?;
    let gavel: Vec<(f64, f64)> = results
        .throughput
        .iter()
        .map(|l| (l.clients as f64, l.bids_per_second))
        .collect();
    let pgbench: Vec<(f64, f64)> = results
        .throughput
        .iter()
        .map(|l| (l.clients as f64, l.pgbench_tps))
        .collect();
    chart
        .draw_series(LineSeries::new(gavel.clone(), BLUE.stroke_width(2)))
        .map_err(chart_error)?
        .label("Gavel bids/s (GraphQL)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    chart
        .draw_series(gavel.iter().map(|p| Circle::new(*p, 3, BLUE.filled())))
        .map_err(chart_error)?;
    chart
        .draw_series(LineSeries::new(pgbench.clone(), RED.stroke_width(2)))
        .map_err(chart_error)?
        .label("pgbench one-row inserts/s")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    chart
        .draw_series(pgbench.iter().map(|p| Circle::new(*p, 3, RED.filled())))
        .map_err(chart_error)?;
    chart
        .configure_series_labels()
        .background_style(WHITE)
        .border_style(BLACK)
        .draw()
        .map_err(chart_error)?;
    root.present().map_err(chart_error)
}

fn latency_chart(results: &Results, path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (720, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(chart_error)?;
    let max_ms = results
        .throughput
        .iter()
        .flat_map(|l| {
            l.curve
                .iter()
                .filter(|(p, _)| *p <= 99.9)
                .map(|(_, ms)| *ms)
        })
        .fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(&root)
        .caption("Bid latency distribution (closed loop)", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..100.0, 0.0..max_ms * 1.1)
        .map_err(chart_error)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("ms")
        .draw()
        .map_err(chart_error)?;
    for (index, level) in results.throughput.iter().enumerate() {
        let color = Palette99::pick(index).to_rgba();
        let points: Vec<(f64, f64)> = level
            .curve
            .iter()
            .copied()
            .filter(|(p, _)| *p <= 99.9)
            .collect();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(chart_error)?
            .label(format!("{} clients", level.clients))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE)
        .border_style(BLACK)
        .draw()
        .map_err(chart_error)?;
    root.present().map_err(chart_error)
}

fn freshness_chart(results: &Results, path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (720, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(chart_error)?;
    let max_t = results
        .freshness
        .iter()
        .flat_map(|l| l.series.iter().map(|(t, _)| *t))
        .fold(1.0, f64::max);
    let max_ms = results
        .freshness
        .iter()
        .flat_map(|l| l.series.iter().map(|(_, ms)| *ms))
        .fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(&root)
        .caption("Freshness over time (open loop)", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_t * 1.02, 0.0..max_ms * 1.1)
        .map_err(chart_error)?;
    chart
        .configure_mesh()
        .x_desc("seconds into the run")
        .y_desc("ms from response to visible")
        .draw()
        .map_err(chart_error)?;
    for (index, load) in results.freshness.iter().enumerate() {
        let color = Palette99::pick(index).to_rgba();
        chart
            .draw_series(
                load.series
                    .iter()
                    .map(|p| Circle::new(*p, 2, color.filled())),
            )
            .map_err(chart_error)?
            .label(format!("{:.0} commands/s", load.offered_per_second))
            .legend(move |(x, y)| Circle::new((x + 10, y), 3, color.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE)
        .border_style(BLACK)
        .draw()
        .map_err(chart_error)?;
    root.present().map_err(chart_error)
}
