//! The XKMS registration authority: Locate, Validate, Register, Reissue, Revoke, Recover,
//! Compound, Pending/Status and two-phase processing; policy; the store and clock traits.
//!
//! The transport hands in the parsed request together with the received document;
//! signatures are always verified over that document (see [`authenticate`]).

pub mod admin;
pub mod audit;
pub mod authenticate;
mod binding;
pub mod clock;
pub mod config;
pub mod context;
mod crl;
pub mod error;
pub mod escrow;
mod guard;
pub mod identity;
mod ids;
mod issuance;
pub mod keypool;
pub mod locate;
pub mod names;
mod nonce;
pub mod operator;
pub mod pending;
pub mod pipeline;
pub mod protocol;
pub mod query;
pub mod recover;
pub mod register;
pub mod reissue;
pub mod respond;
pub mod results;
pub mod revoke;
pub mod secrets;
pub mod service;
pub mod store;
pub mod trust;
pub mod validate;
mod validate_cache;

pub use admin::NewAuthorization;
pub use clock::{Clock, FixedClock, ManualClock, SystemClock};
pub use config::{
    LockoutPolicy, Policy, Processing, ProtocolPolicy, ServiceConfig, TrustConfig, TwoPhase,
};
pub use context::RequestContext;
pub use error::ServiceError;
pub use service::{Escrow, XkmsService};
