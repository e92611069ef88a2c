//! Wire model of every XKMS 2.0 element and its XML/SOAP codec. No I/O, no async, no crypto.

pub mod model;
pub mod vocab;

pub use model::*;
pub use vocab::*;
