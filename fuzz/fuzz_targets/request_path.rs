//! Bytes → the server's request path: SOAP/bare document parsing, message decoding, the
//! message-signature, KeyBindingAuthentication and ProofOfPossession profile checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    xkms_fuzz::request_path(data);
});
