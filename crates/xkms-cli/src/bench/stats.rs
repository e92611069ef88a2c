//! Latency percentiles, and CPU / memory of processes from Linux `/proc`.

use std::time::Duration;

/// Percentiles (nearest rank) of the latencies of a phase.
#[derive(Debug, Default, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Summary {
    pub fn of(mut latencies: Vec<Duration>) -> Summary {
        latencies.sort_unstable();
        let rank = |p: f64| -> Duration {
            if latencies.is_empty() {
                return Duration::ZERO;
            }
            let k = ((p * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len());
            latencies[k - 1]
        };
        Summary {
            count: latencies.len(),
            p50: rank(0.50),
            p90: rank(0.90),
            p99: rank(0.99),
            max: latencies.last().copied().unwrap_or_default(),
        }
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// User + system CPU seconds of process `pid` (`self` for this one), from
/// `/proc/<pid>/stat` (clock ticks of USER_HZ = 100, fixed by the Linux ABI).
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces: fields are counted after its ')'.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 (utime) and 15 (stime) of proc(5); `rest` starts at field 3.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// `VmRSS … VmHWM …` of process `pid`.
pub fn memory(pid: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
    };
    Some(format!(
        "VmRSS {} VmHWM {}",
        field("VmRSS:")?,
        field("VmHWM:")?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let latencies: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let s = Summary::of(latencies);
        assert_eq!(s.count, 100);
        assert_eq!(s.p50, Duration::from_millis(50));
        assert_eq!(s.p99, Duration::from_millis(99));
        assert_eq!(s.max, Duration::from_millis(100));
        assert_eq!(Summary::of(Vec::new()), Summary::default());
    }

    #[test]
    fn own_process_is_readable() {
        if std::path::Path::new("/proc/self/stat").exists() {
            assert!(cpu_seconds("self").is_some());
            assert!(memory("self").unwrap().contains("VmHWM"));
        }
    }
}
