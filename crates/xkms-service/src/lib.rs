//! xkms-service
