//! xkms-ca
