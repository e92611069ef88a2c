//! Logging set-up for `xkmsd`: text or JSON lines on stderr, colour only on a terminal.

use clap::ValueEnum;
use std::io::IsTerminal;
use std::time::Duration;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (`key=value` fields).
    #[default]
    Text,
    /// One JSON object per line (for log shippers).
    Json,
}

/// Installs the global subscriber: level filter from `XKMS_LOG` (default `info`).
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("XKMS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(colour_on_stderr()).init(),
        LogFormat::Json => builder.json().with_ansi(false).init(),
    }
}

/// ANSI colour only when stderr is a terminal, and never with `NO_COLOR` set
/// (no-color.org: any non-empty value): log files and journals get plain text.
pub fn colour_on_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// A duration in milliseconds with at most three decimals (whole microseconds), so
/// that log lines say `12.345`, not `12.345000000000001`.
pub fn duration_ms(elapsed: Duration) -> f64 {
    // Whole microseconds as f64 are exact; dividing by 1000 gives the double nearest
    // to the three-decimal value, which prints as exactly those digits.
    elapsed.as_micros() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_with_three_decimals() {
        for (nanos, shown) in [
            (117_068_999, "117.068"),
            (117_068, "0.117"),
            (3_989_600, "3.989"),
            (1_000_000, "1"),
            (999, "0"),
        ] {
            assert_eq!(duration_ms(Duration::from_nanos(nanos)).to_string(), shown);
        }
    }
}
