//! The CA's own signing limit: how many signatures per second `FileKeySigner` (aws-lc)
//! makes with a fresh key, on every core at once — the reference Register is measured
//! against next to `openssl speed -multi N` (docs/PERFORMANCE.md).
//!
//! `cargo run --release -p xkms-ca --example sign_rate -- [rsa2048|rsa3072|rsa4096|ecdsa-p256] [SECONDS]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use xkms_ca::{CaKeyType, CaSigner, FileKeySigner};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let key_type = match args.next().as_deref().unwrap_or("rsa3072") {
        "rsa2048" => CaKeyType::Rsa2048,
        "rsa3072" => CaKeyType::Rsa3072,
        "rsa4096" => CaKeyType::Rsa4096,
        "ecdsa-p256" => CaKeyType::EcdsaP256,
        other => return Err(format!("unknown key type {other}").into()),
    };
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let signer = Arc::new(FileKeySigner::generate(key_type)?);
    // A certificate's to-be-signed part is about this long.
    let message = vec![0x5a_u8; 900];
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (signer, message) = (Arc::clone(&signer), message.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    if signer.sign(&message).is_ok() {
                        n += 1;
                    }
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for worker in workers {
        total += worker.join().map_err(|_| "a signing thread panicked")?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{key_type:?}: {:.0} sign/s on {threads} threads ({total} signatures in {elapsed:.2} s)",
        total as f64 / elapsed
    );
    Ok(())
}
