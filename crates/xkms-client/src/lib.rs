//! xkms-client
