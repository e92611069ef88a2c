//! The XKMS registration authority: Locate, Validate, Register, Reissue, Revoke, Recover,
//! Compound, Pending/Status and two-phase processing; policy; the store and clock traits.
//!
//! The transport hands in the parsed request together with the received document;
//! signatures are always verified over that document (see [`authenticate`]).

pub mod admin;
pub mod authenticate;
pub mod clock;
pub mod error;
pub mod identity;
mod ids;
pub mod register;
pub mod respond;
pub mod service;
pub mod store;

pub use admin::NewAuthorization;
pub use clock::{Clock, FixedClock, SystemClock};
pub use error::ServiceError;
pub use service::{Policy, RequestContext, ServiceConfig, XkmsService};
