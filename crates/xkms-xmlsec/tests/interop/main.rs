//! Integration tests of xkms-xmlsec, cross-checked with Debian's `xmlsec1` CLI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod dsig;
mod encryption;
mod fuzz_seeds;
mod message;
mod negative;
#[path = "../../../../tests/tools.rs"]
mod tools;
