//! Bytes → decode → encode → decode: never panics, and a decoded message survives its own
//! encoding unchanged.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    xkms_fuzz::codec(data);
});
