//! Wire model of every XKMS 2.0 element and its XML/SOAP codec. No I/O, no async, no crypto.

// The model is a plain data tree mirroring the schema; messages are built once and moved
// rarely, so boxing the large variants would only make every constructor noisier.
#![allow(clippy::large_enum_variant)]

pub mod codec;
pub mod model;
mod operation;
pub mod soap;
pub mod vocab;

pub use codec::{
    DecodeError, DecodeErrorKind, Limits, MessageHeader, is_ncname, parse_message,
    parse_rsa_key_pair, write_message, write_rsa_key_pair,
};
pub use model::*;
pub use operation::{Operation, UnknownOperation};
pub use soap::peek_message_header;
pub use vocab::*;
