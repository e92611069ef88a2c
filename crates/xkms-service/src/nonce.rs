//! Two-phase nonces (digest §6.3): stateless, bound to the issue time, the request Id
//! and the client address by an HMAC under a secret every node shares.

use aws_lc_rs::hmac;
use time::OffsetDateTime;

/// Length of the MAC in a nonce; the nonce is 8 bytes of time ‖ MAC.
const NONCE_MAC_LEN: usize = 16;

/// nonce = issue time (8 bytes, big-endian Unix seconds) ‖ HMAC-SHA256(key, time ‖
/// request Id ‖ client address)[..16]: stateless, checkable by any node with the key.
pub(crate) fn make_nonce(
    key: &hmac::Key,
    now: OffsetDateTime,
    request_id: &str,
    peer: Option<std::net::IpAddr>,
) -> Vec<u8> {
    let time = now.unix_timestamp().to_be_bytes();
    let mut nonce = time.to_vec();
    nonce.extend_from_slice(&nonce_mac(key, &time, request_id, peer)[..NONCE_MAC_LEN]);
    nonce
}

/// The issue time of a nonce made for `request_id` and `peer`, if it is one.
pub(crate) fn verify_nonce(
    key: &hmac::Key,
    nonce: &[u8],
    request_id: &str,
    peer: Option<std::net::IpAddr>,
) -> Option<OffsetDateTime> {
    if nonce.len() != 8 + NONCE_MAC_LEN {
        return None;
    }
    let (time, mac) = nonce.split_at(8);
    let expected = nonce_mac(key, time, request_id, peer);
    if !xkms_xmlsec::kdf::constant_time_eq(mac, &expected[..NONCE_MAC_LEN]) {
        return None;
    }
    let seconds = i64::from_be_bytes(time.try_into().ok()?);
    OffsetDateTime::from_unix_timestamp(seconds).ok()
}

fn nonce_mac(
    key: &hmac::Key,
    time: &[u8],
    request_id: &str,
    peer: Option<std::net::IpAddr>,
) -> Vec<u8> {
    let mut ctx = hmac::Context::with_key(key);
    ctx.update(b"xkms two-phase nonce v1\0");
    ctx.update(time);
    ctx.update(request_id.as_bytes());
    ctx.update(&[0]);
    if let Some(peer) = peer {
        ctx.update(peer.to_string().as_bytes());
    }
    ctx.sign().as_ref().to_vec()
}

/// The HMAC key for nonces from 32 secret bytes shared by all nodes.
pub fn nonce_key(secret: &[u8]) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_bind_time_request_and_peer() {
        let key = nonce_key(&[7u8; 32]);
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let peer = Some("127.0.0.1".parse().unwrap());
        let nonce = make_nonce(&key, now, "Ione", peer);
        assert_eq!(verify_nonce(&key, &nonce, "Ione", peer), Some(now));
        assert_eq!(
            verify_nonce(&key, &nonce, "Itwo", peer),
            None,
            "another request"
        );
        assert_eq!(
            verify_nonce(&key, &nonce, "Ione", Some("10.0.0.1".parse().unwrap())),
            None,
            "another client"
        );
        assert_eq!(
            verify_nonce(&nonce_key(&[8u8; 32]), &nonce, "Ione", peer),
            None,
            "another key"
        );
        let mut tampered = nonce.clone();
        tampered[3] ^= 1;
        assert_eq!(
            verify_nonce(&key, &tampered, "Ione", peer),
            None,
            "a changed time"
        );
        assert_eq!(verify_nonce(&key, &nonce[..10], "Ione", peer), None);
    }
}
