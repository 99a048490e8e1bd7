//! Processor time per component of the co-located stack during a run, read from `/proc`, to show
//! where a run's CPU went: Gavel's roles, PostgreSQL, Kafka, FerretDB or the load generator.

use std::collections::HashMap;
use std::future::Future;
use std::time::Instant;

use serde::Serialize;

/// The processor time each component used over one run.
#[derive(Debug, Clone, Serialize)]
pub struct CpuUse {
    /// The run's wall-clock length, in seconds.
    pub wall_seconds: f64,
    /// Processor seconds per component, the largest first.
    pub by_component: Vec<(String, f64)>,
}

impl CpuUse {
    /// Processor seconds the machine had over the run (wall time times cores).
    pub fn available_seconds(&self) -> f64 {
        self.wall_seconds * std::thread::available_parallelism().map_or(1, |n| n.get()) as f64
    }
}

/// Linux reports process times in ticks of 1/100 s (`USER_HZ`) on the architectures Gavel runs on.
const TICKS_PER_SECOND: f64 = 100.0;

/// Runs `run` and measures the processor time each component used meanwhile. Processes that
/// exit during the run (a database connection closed) take their time with them.
pub async fn during<T>(run: impl Future<Output = T>) -> (T, CpuUse) {
    let before = ticks_by_process();
    let started = Instant::now();
    let output = run.await;
    let wall_seconds = started.elapsed().as_secs_f64();
    let mut by_component: HashMap<String, u64> = HashMap::new();
    for (pid, (component, ticks)) in ticks_by_process() {
        let earlier = before.get(&pid).map_or(0, |(_, ticks)| *ticks);
        *by_component.entry(component).or_default() += ticks.saturating_sub(earlier);
    }
    let mut by_component: Vec<(String, f64)> = by_component
        .into_iter()
        .map(|(component, ticks)| (component, ticks as f64 / TICKS_PER_SECOND))
        .filter(|(_, seconds)| *seconds > 0.0)
        .collect();
    by_component.sort_by(|a, b| b.1.total_cmp(&a.1));
    (
        output,
        CpuUse {
            wall_seconds,
            by_component,
        },
    )
}

impl CpuUse {
    /// Adds `seconds` of `component` (a process that exited before the run's last sample),
    /// keeping the largest first.
    pub fn add(&mut self, component: &str, seconds: f64) {
        self.by_component.push((component.to_string(), seconds));
        self.by_component.sort_by(|a, b| b.1.total_cmp(&a.1));
    }
}

/// The processor seconds process `pid` has used so far, if it is still there.
pub fn process_seconds(pid: u32) -> Option<f64> {
    let (_, ticks) = command_and_ticks(pid)?;
    Some(ticks as f64 / TICKS_PER_SECOND)
}

/// Process `pid`'s command name and its user plus system ticks, from `/proc/<pid>/stat`.
fn command_and_ticks(pid: u32) -> Option<(String, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (comm, rest) = stat.split_once(" (")?.1.rsplit_once(") ")?;
    // After the command name: state is field 3, utime field 14 and stime field 15.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((comm.to_string(), ticks))
}

/// User plus system ticks of every process that belongs to a component, by pid.
fn ticks_by_process() -> HashMap<u32, (String, u64)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let (comm, ticks) = command_and_ticks(pid)?;
            Some((pid, (component(pid, &comm)?, ticks)))
        })
        .collect()
}

fn component(pid: u32, comm: &str) -> Option<String> {
    match comm {
        "postgres" => Some("PostgreSQL".into()),
        "java" => Some("Kafka".into()),
        "gavel-ferretdb" => Some("FerretDB".into()),
        "gavel-bench" => Some("load generator (gavel-bench)".into()),
        "gavel" => {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let role = cmdline.split(|b| *b == 0).nth(1)?;
            Some(format!("gavel {}", String::from_utf8_lossy(role)))
        }
        _ => None,
    }
}
