//! A pool of pre-generated RSA keys for service-generated registrations (T101). RSA
//! generation takes hundreds of milliseconds; a background thread keeps the pool full so
//! a request normally takes a ready key.

use std::sync::{Arc, Condvar, Mutex};
use zeroize::Zeroizing;

/// A generated key: PKCS#8 DER.
pub type GeneratedKey = Zeroizing<Vec<u8>>;

struct Shared {
    keys: Mutex<Vec<GeneratedKey>>,
    /// Signalled when a key is taken (the generator refills).
    taken: Condvar,
    /// Signalled when a key is added.
    added: Condvar,
    target: usize,
    bits: usize,
}

/// The pool; cheap to clone.
#[derive(Clone)]
pub struct KeyPool {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for KeyPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPool")
            .field("target", &self.shared.target)
            .field("bits", &self.shared.bits)
            .field("level", &self.level())
            .finish()
    }
}

impl KeyPool {
    /// A pool of `target` RSA keys of `bits` bits, filled by one background thread
    /// (`target` 0: no thread, every request generates).
    pub fn start(target: usize, bits: usize) -> KeyPool {
        let shared = Arc::new(Shared {
            keys: Mutex::new(Vec::with_capacity(target)),
            taken: Condvar::new(),
            added: Condvar::new(),
            target,
            bits,
        });
        if target > 0 {
            let weak = Arc::downgrade(&shared);
            let spawned = std::thread::Builder::new()
                .name("xkms-keypool".into())
                .spawn(move || {
                    fill_loop(&weak);
                });
            if spawned.is_err() {
                tracing::warn!(
                    "key pool thread could not start; keys will be generated per request"
                );
            }
        }
        KeyPool { shared }
    }

    /// Key size of the pool.
    pub fn bits(&self) -> usize {
        self.shared.bits
    }

    /// Number of ready keys.
    pub fn level(&self) -> usize {
        self.shared.keys.lock().map(|k| k.len()).unwrap_or(0)
    }

    /// Waits until at least `level` keys are ready or `timeout` passes; whether they are.
    pub fn wait_for_level(&self, level: usize, timeout: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        let Ok(mut keys) = self.shared.keys.lock() else {
            return false;
        };
        while keys.len() < level {
            let now = std::time::Instant::now();
            if now >= deadline {
                return false;
            }
            let Ok((k, _)) = self.shared.added.wait_timeout(keys, deadline - now) else {
                return false;
            };
            keys = k;
        }
        true
    }

    /// A ready key, if there is one (never blocks).
    pub fn try_take(&self) -> Option<GeneratedKey> {
        let mut keys = self.shared.keys.lock().ok()?;
        let key = keys.pop();
        drop(keys);
        self.shared.taken.notify_one();
        key
    }
}

/// Generates one RSA key (blocking; hundreds of milliseconds).
pub fn generate(bits: usize) -> Option<GeneratedKey> {
    use aws_lc_rs::encoding::AsDer;
    let size = match bits {
        2048 => aws_lc_rs::rsa::KeySize::Rsa2048,
        3072 => aws_lc_rs::rsa::KeySize::Rsa3072,
        4096 => aws_lc_rs::rsa::KeySize::Rsa4096,
        _ => return None,
    };
    let pair = aws_lc_rs::rsa::KeyPair::generate(size).ok()?;
    let der = pair.as_der().ok()?;
    Some(Zeroizing::new(der.as_ref().to_vec()))
}

/// Keeps the pool at its target until the pool is dropped.
fn fill_loop(weak: &std::sync::Weak<Shared>) {
    loop {
        let Some(shared) = weak.upgrade() else { return };
        // Wait (with a timeout, so a dropped pool ends the thread) while full.
        {
            let Ok(mut keys) = shared.keys.lock() else {
                return;
            };
            while keys.len() >= shared.target {
                let Ok((k, _)) = shared
                    .taken
                    .wait_timeout(keys, std::time::Duration::from_millis(500))
                else {
                    return;
                };
                keys = k;
                if Arc::strong_count(&shared) == 1 {
                    return;
                }
            }
        }
        let bits = shared.bits;
        drop(shared);
        let Some(key) = generate(bits) else { return };
        let Some(shared) = weak.upgrade() else { return };
        if let Ok(mut keys) = shared.keys.lock() {
            keys.push(key);
        };
        shared.added.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_fills_and_refills() {
        let minute = std::time::Duration::from_secs(60);
        let pool = KeyPool::start(2, 2048);
        assert!(pool.wait_for_level(2, minute), "pool did not fill");
        let key = pool.try_take().unwrap();
        assert!(aws_lc_rs::rsa::KeyPair::from_pkcs8(&key).is_ok());
        assert!(pool.wait_for_level(2, minute), "pool did not refill");
        assert_eq!(pool.level(), 2, "never above target");
        assert!(KeyPool::start(0, 2048).try_take().is_none());
        assert!(generate(1024).is_none());
    }
}
