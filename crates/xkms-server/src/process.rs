//! The standard Prometheus process metrics, read from Linux `/proc` when scraped:
//! resident and virtual memory, CPU seconds, open and maximum file descriptors, and
//! the start time. Elsewhere there are none (every field `None`).
//!
//! CPU and start times in `/proc/<pid>/stat` count clock ticks of USER_HZ, which the
//! Linux ABI fixes at 100 on every architecture we build for (the Go client's procfs
//! makes the same assumption); reading it with sysconf would need `unsafe`.

/// Ticks per second of `/proc/<pid>/stat` times.
const USER_HZ: f64 = 100.0;

/// One reading of this process; a field is `None` where `/proc` could not tell.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessStats {
    pub resident_memory_bytes: Option<u64>,
    pub virtual_memory_bytes: Option<u64>,
    pub cpu_seconds: Option<f64>,
    pub open_fds: Option<u64>,
    pub max_fds: Option<u64>,
    /// Unix time the process started, in seconds.
    pub start_time_seconds: Option<f64>,
}

impl ProcessStats {
    /// This process, now.
    pub fn read() -> ProcessStats {
        let read = |path: &str| std::fs::read_to_string(path).ok();
        let stat = read("/proc/self/stat");
        let status = read("/proc/self/status");
        let boot_time = read("/proc/stat").as_deref().and_then(boot_time);
        let (cpu_seconds, start_ticks) = stat.as_deref().map_or((None, None), stat_times);
        ProcessStats {
            resident_memory_bytes: status.as_deref().and_then(|s| status_kib(s, "VmRSS:")),
            virtual_memory_bytes: status.as_deref().and_then(|s| status_kib(s, "VmSize:")),
            cpu_seconds,
            open_fds: std::fs::read_dir("/proc/self/fd")
                .ok()
                .map(|entries| entries.count() as u64),
            max_fds: read("/proc/self/limits")
                .as_deref()
                .and_then(max_open_files),
            start_time_seconds: boot_time
                .zip(start_ticks)
                .map(|(boot, ticks)| boot as f64 + ticks / USER_HZ),
        }
    }
}

/// (user + system CPU seconds, start time in ticks after boot) from `/proc/<pid>/stat`.
fn stat_times(stat: &str) -> (Option<f64>, Option<f64>) {
    // The command name may contain spaces and parentheses: count fields after the
    // last ')'. What follows starts at field 3 of proc(5).
    let Some(rest) = stat.rfind(')').and_then(|i| stat.get(i + 1..)) else {
        return (None, None);
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
    let cpu = field(14).zip(field(15)).map(|(u, s)| (u + s) / USER_HZ);
    (cpu, field(22))
}

/// A `Vm…:  123 kB` line of `/proc/<pid>/status`, in bytes.
fn status_kib(status: &str, name: &str) -> Option<u64> {
    let value = status.lines().find_map(|l| l.strip_prefix(name))?;
    let kib: u64 = value.trim().strip_suffix("kB")?.trim().parse().ok()?;
    kib.checked_mul(1024)
}

/// The soft limit of "Max open files" in `/proc/<pid>/limits`.
fn max_open_files(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `btime` of `/proc/stat`: boot time, Unix seconds.
fn boot_time(stat: &str) -> Option<u64> {
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_parse() {
        // A command name with spaces and a ')' inside, as the kernel writes it.
        let stat = "4242 (xk ms) d) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 \
                    9 0 123400 1048576 300 18446744073709551615";
        assert_eq!(stat_times(stat), (Some(3.0), Some(123400.0)));
        assert_eq!(stat_times("garbage"), (None, None));
        let status = "Name:\txkmsd\nVmSize:\t  20480 kB\nVmRSS:\t    1024 kB\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(1024 * 1024));
        assert_eq!(status_kib(status, "VmSize:"), Some(20480 * 1024));
        assert_eq!(status_kib(status, "VmSwap:"), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(max_open_files(limits), Some(1024));
        assert_eq!(
            boot_time("cpu 1 2 3\nbtime 1700000000\n"),
            Some(1_700_000_000)
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_is_visible() {
        let stats = ProcessStats::read();
        assert!(stats.resident_memory_bytes.is_some_and(|b| b > 0));
        assert!(stats.open_fds.is_some_and(|n| n >= 3));
        assert!(stats.max_fds.is_some());
        assert!(stats.cpu_seconds.is_some());
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        // Started in the past, and not before 2020.
        assert!(
            stats
                .start_time_seconds
                .is_some_and(|t| t <= now + 1.0 && t > 1_577_836_800.0),
            "{stats:?}"
        );
    }
}
