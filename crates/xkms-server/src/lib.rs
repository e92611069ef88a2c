//! `xkmsd` as a library: configuration, start-up, the HTTP binding and the admin
//! commands. The binary's `main` only parses the command line and calls in here; tests
//! start the same server in-process or as the real binary.

pub mod admin;
pub mod app;
pub mod audit;
pub mod backup;
pub mod ca_key;
pub mod check;
pub mod cli;
pub mod config;
pub mod connection;
pub mod display;
pub mod http;
pub mod inventory;
pub mod keyfiles;
pub mod metrics;
pub mod process;
mod request_line;
pub mod seed;
pub mod telemetry;
pub mod tls;
pub mod wsdl;
