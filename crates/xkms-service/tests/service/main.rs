//! The registration authority in-process: a real SQLite file, a clock the tests move,
//! requests built and signed by our client library, no sockets and no sleeps. Every
//! operation and protocol option at this level (`operations`, `protocol`, `lockouts`),
//! and the integrity findings (`audit`, `keys`, `names`, `replay`, `secrets`: each test
//! names the finding it closes and would fail on the service as it was before).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../../tests/tools.rs"]
mod tools;

mod harness;

mod audit;
mod keys;
mod lockouts;
mod names;
mod operations;
mod protocol;
mod regressions;
mod replay;
mod secrets;
mod serials;
mod validate_cache;
