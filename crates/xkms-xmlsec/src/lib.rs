//! xkms-xmlsec
