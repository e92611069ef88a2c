//! xkms-store
