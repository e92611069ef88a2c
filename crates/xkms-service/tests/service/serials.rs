//! Serials reserved ahead of issuance (issue 13): a registration waits for one commit
//! (its own) instead of two, and still no serial is ever handed out twice — not to
//! concurrent registrations, not by two nodes sharing a store, not after a restart.

use std::collections::BTreeSet;
use std::sync::Arc;

use xkms_service::Policy;
use xkms_xmlsec::kdf::SharedSecret;

use crate::harness::*;

fn serial_of(result: &xkms_proto::ResultMessage) -> String {
    assert_eq!(codes(result), success(), "{result:?}");
    xkms_ca::parse_certificate(&certificate_of(result))
        .unwrap()
        .serial_hex
}

#[tokio::test]
async fn no_serial_is_handed_out_twice_by_concurrent_requests_or_nodes() {
    let h = Harness::new().await;
    h.authorize_joe().await;
    let secret = SharedSecret::new("secret".into());
    let document = || h.register_document(&t100(Some(key()), &secret)).0;
    let mut serials = Vec::new();
    // Four at a time on this node: callers wait for one refill, none gets its serial.
    for _ in 0..5 {
        let docs: Vec<String> = (0..4).map(|_| document()).collect();
        let (a, b, c, d) = tokio::join!(
            h.process(&docs[0]),
            h.process(&docs[1]),
            h.process(&docs[2]),
            h.process(&docs[3]),
        );
        serials.extend([&a, &b, &c, &d].map(serial_of));
    }
    // A second node on the same store has its own pool; a restarted first node too.
    for _ in 0..2 {
        let node = service_on(
            Arc::clone(&h.store),
            h.service.ca().clone(),
            h.now,
            Policy::default(),
            &h.master,
        );
        for _ in 0..3 {
            serials.push(serial_of(&process_with(&node, &document()).await));
        }
        serials.push(serial_of(&h.process(&document()).await));
    }
    let distinct: BTreeSet<&String> = serials.iter().collect();
    assert_eq!(distinct.len(), serials.len(), "{serials:?}");
    assert_eq!(h.bindings().await, serials.len() as u64);
}
