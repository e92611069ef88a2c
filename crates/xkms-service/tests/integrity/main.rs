//! The integrity issue, at the service level: the registration authority in-process on
//! a real SQLite file, requests built and signed by our client library. Each test names
//! the finding it closes; each would fail on the service as it was before.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../../tests/tools.rs"]
mod tools;

mod harness;

mod audit;
mod keys;
mod names;
mod replay;
mod secrets;
