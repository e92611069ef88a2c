//! The store test suite. `suite` is written against the `xkms-service` store traits only,
//! so it runs unchanged against every backend; each backend module below gives every
//! case a fresh, empty database. Times are whole seconds (every backend keeps at least
//! microseconds).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite {
    use std::sync::Arc;

    use time::macros::datetime;
    use time::{Duration, OffsetDateTime};
    use xkms_service::store::{
        Application, AuditEvent, Authorization, BindingSelector, BindingStatus, CertificateRecord,
        GrantedName, KeyBindingRecord, KeyUsage, NameKind, Operation, PendingRecord, PendingState,
        Purpose, Recovery, Registration, Reissue, Revocation, RevokedCertificate, Serial, Store,
        StoreError, StoredUseKeyWith,
    };

    pub const T0: OffsetDateTime = datetime!(2025-03-01 12:00 UTC);

    const MAIL: &str = "urn:ietf:rfc:2633";
    const TLS: &str = "urn:ietf:rfc:2246";

    // ---- fixtures ------------------------------------------------------------------

    pub fn authorization(id: &str, identity: &str, max_uses: Option<u32>) -> Authorization {
        let tag = id.as_bytes()[0];
        Authorization {
            id: id.into(),
            identity: identity.into(),
            purpose: Purpose::Register,
            granted_names: vec![GrantedName {
                kind: NameKind::Dns,
                value: format!("{id}.example.org"),
            }],
            sealed_secrets: vec![tag; 49],
            created_at: T0,
            expires_at: T0 + Duration::days(7),
            max_uses,
            uses: 0,
            revoked_at: None,
        }
    }

    /// A serial from its hex digits.
    pub fn sn(hex: &str) -> Serial {
        Serial::from_hex(hex).unwrap()
    }

    fn pair(application: &str, identifier: &str) -> StoredUseKeyWith {
        StoredUseKeyWith {
            application: Application::from_uri(application),
            identifier: identifier.into(),
        }
    }

    fn fingerprint(id: &str) -> Vec<u8> {
        let mut f = vec![0u8; 32];
        for (i, b) in id.bytes().enumerate() {
            f[i % 32] ^= b;
        }
        f[31] = id.len() as u8;
        f
    }

    pub fn binding(id: &str, created_at: OffsetDateTime) -> KeyBindingRecord {
        KeyBindingRecord {
            id: id.into(),
            key_name: Some(format!("{id}@example.org")),
            modulus: vec![0xC5; 256],
            exponent: vec![1, 0, 1],
            key_fingerprint: fingerprint(id),
            key_usage: vec![KeyUsage::Signature, KeyUsage::Encryption],
            use_key_with: vec![
                pair(MAIL, &format!("{id}@example.org")),
                pair(TLS, &format!("{id}.example.org")),
            ],
            status: BindingStatus::Valid,
            revocation_code_identifier: Some(vec![0x5A; 20]),
            authorization_id: None,
            created_at,
            revoked_at: None,
        }
    }

    pub fn certificate(
        serial: &str,
        binding_id: &str,
        issued_at: OffsetDateTime,
    ) -> CertificateRecord {
        CertificateRecord {
            serial: sn(serial),
            binding_id: binding_id.into(),
            der: vec![0x30, 0x82, 0x01, 0x00, serial.len() as u8],
            ski: ski(serial),
            not_before: issued_at - Duration::minutes(5),
            not_after: issued_at + Duration::days(365),
            issued_at,
            revoked_at: None,
            revocation_reason: None,
        }
    }

    /// A 20-byte SubjectKeyIdentifier unique per serial.
    pub fn ski(serial: &str) -> Vec<u8> {
        let mut s = vec![0xA5; 20];
        for (i, b) in serial.bytes().enumerate() {
            s[i % 19] ^= b;
        }
        s[19] = serial.len() as u8;
        s
    }

    /// An event of `kind` (the stored name, e.g. `certificate.issued`).
    pub fn audit(kind: &str, subject: &str, at: OffsetDateTime) -> AuditEvent {
        AuditEvent {
            at,
            kind: xkms_service::store::AuditKind::parse(kind)
                .unwrap_or_else(|| panic!("no audit kind {kind}")),
            request_id: Some(format!("req-{subject}")),
            subject: subject.into(),
            detail: format!("{kind} for {subject}"),
        }
    }

    /// A registration of binding `id` with certificate `serial`, created at `at`.
    pub fn registration(
        id: &str,
        serial: &str,
        at: OffsetDateTime,
        authorization_id: Option<&str>,
    ) -> Registration {
        let mut binding = binding(id, at);
        binding.authorization_id = authorization_id.map(str::to_owned);
        let mut audit_events = vec![
            audit("keybinding.registered", id, at),
            audit("certificate.issued", serial, at),
        ];
        if let Some(a) = authorization_id {
            audit_events.push(audit("authorization.used", a, at));
        }
        Registration {
            binding,
            certificate: certificate(serial, id, at),
            authorization_id: authorization_id.map(str::to_owned),
            escrowed_private_key: None,
            replay: Vec::new(),
            audit: audit_events,
        }
    }

    async fn register(store: &dyn Store, r: &Registration) {
        store
            .reserve_serials(&[r.certificate.serial], r.binding.created_at)
            .await
            .unwrap();
        store.commit_registration(r).await.unwrap();
    }

    async fn uses_of(
        store: &dyn Store,
        identity: &str,
        id: &str,
        now: OffsetDateTime,
    ) -> Option<u32> {
        store
            .usable_authorizations(&[identity.to_owned()], Purpose::Register, now)
            .await
            .unwrap()
            .into_iter()
            .find(|a| a.id == id)
            .map(|a| a.uses)
    }

    /// Everything a failed registration of binding `id` with certificate `serial` could
    /// have touched. Equal before and after = nothing written.
    #[derive(Debug, PartialEq)]
    struct Visible {
        bindings: u64,
        audit: Vec<AuditEvent>,
        by_id: Vec<KeyBindingRecord>,
        by_serial: Vec<KeyBindingRecord>,
        by_name: Vec<KeyBindingRecord>,
        certificates: Vec<CertificateRecord>,
        authorizations: Vec<Authorization>,
    }

    async fn visible(store: &dyn Store, r: &Registration) -> Visible {
        let find = |s: BindingSelector| async move { store.find_bindings(&s, 100).await.unwrap() };
        let name = r.binding.key_name.clone().unwrap_or_default();
        let identities = vec!["alice@example.org".to_owned(), "k1@example.org".to_owned()];
        Visible {
            bindings: store.count_bindings().await.unwrap(),
            audit: store.recent_audit_events(1000).await.unwrap(),
            by_id: find(BindingSelector::Id(r.binding.id.clone())).await,
            by_serial: find(BindingSelector::CertificateSerial(r.certificate.serial)).await,
            by_name: find(BindingSelector::KeyName(name)).await,
            certificates: store.certificates_of(&r.binding.id).await.unwrap(),
            authorizations: store
                .usable_authorizations(&identities, Purpose::Register, T0)
                .await
                .unwrap(),
        }
    }

    /// Commits `r`, expects the error `check` accepts, and that nothing changed.
    async fn commit_fails(store: &dyn Store, r: &Registration, check: fn(&StoreError) -> bool) {
        let before = visible(store, r).await;
        let err = store.commit_registration(r).await.unwrap_err();
        assert!(check(&err), "unexpected {err:?}");
        assert_eq!(
            visible(store, r).await,
            before,
            "a failed commit wrote something"
        );
    }

    fn conflict(e: &StoreError) -> bool {
        matches!(e, StoreError::Conflict { .. })
    }

    fn duplicate(e: &StoreError) -> bool {
        matches!(e, StoreError::Duplicate { .. })
    }

    // ---- authorizations ------------------------------------------------------------

    pub async fn authorization_insert_and_lookup(store: &dyn Store) {
        let alice = authorization("a-1", "alice@example.org", Some(3));
        let mut alice_recover = authorization("a-2", "alice@example.org", None);
        alice_recover.purpose = Purpose::Recover;
        let bob = authorization("b-1", "bob@example.org", None);
        let mut expired = authorization("c-1", "alice@example.org", None);
        expired.expires_at = T0 + Duration::hours(1);
        for a in [&alice, &alice_recover, &bob, &expired] {
            store
                .insert_authorization(a, &audit("authorization.created", &a.id, T0))
                .await
                .unwrap();
        }

        let now = T0 + Duration::hours(2);
        let found = store
            .usable_authorizations(&["alice@example.org".into()], Purpose::Register, now)
            .await
            .unwrap();
        assert_eq!(
            found,
            vec![alice.clone()],
            "secrets and all fields round-trip"
        );

        let recover = store
            .usable_authorizations(&["alice@example.org".into()], Purpose::Recover, now)
            .await
            .unwrap();
        assert_eq!(recover, vec![alice_recover]);

        let mut both = store
            .usable_authorizations(
                &[
                    "alice@example.org".into(),
                    "bob@example.org".into(),
                    "nobody".into(),
                ],
                Purpose::Register,
                now,
            )
            .await
            .unwrap();
        both.sort_by(|x, y| x.id.cmp(&y.id));
        assert_eq!(both, vec![alice.clone(), bob]);

        // Expiry is exclusive: usable strictly before expires_at.
        let before = expired.expires_at - Duration::seconds(1);
        let ids = |v: Vec<Authorization>| v.into_iter().map(|a| a.id).collect::<Vec<_>>();
        let alice_only = ["alice@example.org".to_owned()];
        let at = |t| store.usable_authorizations(&alice_only, Purpose::Register, t);
        assert_eq!(ids(at(before).await.unwrap()), vec!["a-1", "c-1"]);
        assert_eq!(ids(at(expired.expires_at).await.unwrap()), vec!["a-1"]);
        assert!(at(alice.expires_at).await.unwrap().is_empty());

        assert!(
            store
                .usable_authorizations(&[], Purpose::Register, now)
                .await
                .unwrap()
                .is_empty()
        );

        let err = store
            .insert_authorization(&alice, &audit("authorization.created", "a-1", T0))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Duplicate { .. }), "{err:?}");

        let events = store.recent_audit_events(10).await.unwrap();
        assert_eq!(events.len(), 4, "the failed insert wrote no audit event");
        assert_eq!(events[0].subject, "c-1", "most recent first");
        assert_eq!(events[3], audit("authorization.created", "a-1", T0));
        assert_eq!(store.recent_audit_events(2).await.unwrap().len(), 2);
    }

    pub async fn authorization_max_uses(store: &dyn Store) {
        let a = authorization("a-1", "alice@example.org", Some(2));
        let zero = authorization("z-1", "alice@example.org", Some(0));
        for x in [&a, &zero] {
            store
                .insert_authorization(x, &audit("authorization.created", &x.id, T0))
                .await
                .unwrap();
        }
        assert_eq!(
            uses_of(store, "alice@example.org", "z-1", T0).await,
            None,
            "max_uses 0"
        );
        assert_eq!(
            uses_of(store, "alice@example.org", "a-1", T0).await,
            Some(0)
        );

        register(store, &registration("k1", "01", T0, Some("a-1"))).await;
        assert_eq!(
            uses_of(store, "alice@example.org", "a-1", T0).await,
            Some(1)
        );
        register(store, &registration("k2", "02", T0, Some("a-1"))).await;
        assert_eq!(
            uses_of(store, "alice@example.org", "a-1", T0).await,
            None,
            "used up"
        );

        // A third use is refused and writes nothing.
        let third = registration("k3", "03", T0, Some("a-1"));
        store.reserve_serials(&[sn("03")], T0).await.unwrap();
        commit_fails(store, &third, conflict).await;
        assert!(
            store
                .find_bindings(&BindingSelector::Id("k3".into()), 10)
                .await
                .unwrap()
                .is_empty()
        );

        // The serial stays reserved (never reused), so it can still be used by a
        // registration without an authorization.
        store
            .commit_registration(&registration("k3", "03", T0, None))
            .await
            .unwrap();
        assert_eq!(store.count_bindings().await.unwrap(), 3);
    }

    pub async fn registration_with_expired_or_unknown_authorization(store: &dyn Store) {
        let mut a = authorization("a-1", "alice@example.org", None);
        a.expires_at = T0 + Duration::hours(1);
        store
            .insert_authorization(&a, &audit("authorization.created", "a-1", T0))
            .await
            .unwrap();
        store.reserve_serials(&[sn("01")], T0).await.unwrap();

        // Expiry is judged at the binding's created_at.
        let late = registration("k1", "01", a.expires_at, Some("a-1"));
        commit_fails(store, &late, conflict).await;
        let unknown = registration("k1", "01", T0, Some("no-such-authorization"));
        commit_fails(store, &unknown, conflict).await;
        assert_eq!(store.count_bindings().await.unwrap(), 0);

        let in_time = registration("k1", "01", a.expires_at - Duration::seconds(1), Some("a-1"));
        store.commit_registration(&in_time).await.unwrap();
        assert_eq!(store.count_bindings().await.unwrap(), 1);
    }

    // ---- serials and registrations -------------------------------------------------

    pub async fn reserve_serial_twice_is_duplicate(store: &dyn Store) {
        store.reserve_serials(&[sn("0a1b")], T0).await.unwrap();
        store.reserve_serials(&[sn("0a1c")], T0).await.unwrap();
        let err = store
            .reserve_serials(&[sn("0a1b")], T0 + Duration::hours(1))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Duplicate { what: "serial" }),
            "{err:?}"
        );
        // A batch is all or nothing: one known serial in it reserves none of the rest.
        let err = store
            .reserve_serials(&[sn("0b01"), sn("0b02"), sn("0a1c")], T0)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Duplicate { what: "serial" }),
            "{err:?}"
        );
        store
            .reserve_serials(&[sn("0b01"), sn("0b02"), sn("0b03")], T0)
            .await
            .unwrap();
        for each in ["0b01", "0b02", "0b03"] {
            assert!(
                matches!(
                    store.reserve_serials(&[sn(each)], T0).await,
                    Err(StoreError::Duplicate { what: "serial" })
                ),
                "{each} is reserved"
            );
        }
        store.reserve_serials(&[], T0).await.unwrap();
    }

    pub async fn registration_happy_path(store: &dyn Store) {
        let a = authorization("a-1", "k1@example.org", Some(5));
        store
            .insert_authorization(&a, &audit("authorization.created", "a-1", T0))
            .await
            .unwrap();
        let mut r = registration("k1", "7f00000000000000000000000000beef", T0, Some("a-1"));
        r.binding.key_name = None;
        r.binding.revocation_code_identifier = None;
        r.binding.key_usage = vec![KeyUsage::Signature];
        let other = registration("k2", "02", T0 + Duration::seconds(1), None);
        register(store, &r).await;
        register(store, &other).await;
        assert_eq!(store.count_bindings().await.unwrap(), 2);

        let find = |s: BindingSelector| async move { store.find_bindings(&s, 10).await.unwrap() };
        let expected = vec![r.binding.clone()];
        assert_eq!(find(BindingSelector::Id("k1".into())).await, expected);
        assert_eq!(
            find(BindingSelector::KeyFingerprint(fingerprint("k1"))).await,
            expected
        );
        assert_eq!(
            find(BindingSelector::CertificateSerial(r.certificate.serial)).await,
            expected
        );
        assert_eq!(
            find(BindingSelector::KeyName("k2@example.org".into())).await,
            vec![other.binding.clone()]
        );
        assert!(
            find(BindingSelector::KeyName("K2@example.org".into()))
                .await
                .is_empty(),
            "exact"
        );
        assert!(find(BindingSelector::Id("nope".into())).await.is_empty());
        assert!(
            find(BindingSelector::CertificateSerial(sn("99")))
                .await
                .is_empty()
        );
        assert!(find(BindingSelector::UseKeyWith(vec![])).await.is_empty());

        // Two pairs of k1 plus one of k2: each binding once, oldest first.
        let ukw = BindingSelector::UseKeyWith(vec![
            pair(MAIL, "k1@example.org"),
            pair(TLS, "k1.example.org"),
            pair(TLS, "k2.example.org"),
            pair(MAIL, "k2.example.org"), // wrong application for this identifier
        ]);
        assert_eq!(
            find(ukw.clone()).await,
            vec![r.binding.clone(), other.binding.clone()]
        );
        assert_eq!(store.find_bindings(&ukw, 1).await.unwrap(), expected);
        assert!(store.find_bindings(&ukw, 0).await.unwrap().is_empty());

        assert_eq!(
            store.certificates_of("k1").await.unwrap(),
            vec![r.certificate.clone()]
        );
        assert!(store.certificates_of("nope").await.unwrap().is_empty());

        assert_eq!(uses_of(store, "k1@example.org", "a-1", T0).await, Some(1));

        let events = store.recent_audit_events(100).await.unwrap();
        assert_eq!(events.len(), 1 + r.audit.len() + other.audit.len());
        let mut written: Vec<AuditEvent> = events.into_iter().rev().collect();
        assert_eq!(written.remove(0).kind.as_str(), "authorization.created");
        let mut expected_events = r.audit.clone();
        expected_events.extend(other.audit.clone());
        assert_eq!(written, expected_events, "in order, all fields");
    }

    pub async fn record_fields_round_trip(store: &dyn Store) {
        let mut r = registration("k1", "01", T0, None);
        r.binding.status = BindingStatus::Revoked;
        r.binding.revoked_at = Some(T0 + Duration::seconds(30));
        r.binding.key_usage = vec![];
        r.binding.use_key_with = vec![
            pair(TLS, "z.example"),
            pair(MAIL, "a@example"),
            pair(TLS, "m.example"),
        ];
        r.certificate.revoked_at = Some(T0 + Duration::seconds(30));
        r.certificate.revocation_reason = Some(1);
        r.certificate.not_after = datetime!(9999-12-31 23:59:59 UTC);
        r.certificate.der = (0..=255).collect();
        r.audit[0].request_id = None;
        r.audit[0].detail = String::new();
        register(store, &r).await;

        let found = store
            .find_bindings(&BindingSelector::Id("k1".into()), 1)
            .await
            .unwrap();
        assert_eq!(found, vec![r.binding.clone()], "UseKeyWith order kept");
        assert_eq!(
            store.certificates_of("k1").await.unwrap(),
            vec![r.certificate.clone()]
        );
        let mut events = store.recent_audit_events(10).await.unwrap();
        events.reverse();
        assert_eq!(events, r.audit);
    }

    pub async fn find_orders_by_creation_then_id_and_limits(store: &dyn Store) {
        // Same key name, committed out of creation order; two share a created_at.
        let mut regs = vec![
            registration("k-c", "03", T0 + Duration::seconds(20), None),
            registration("k-b", "02", T0 + Duration::seconds(10), None),
            registration("k-a", "01", T0 + Duration::seconds(20), None),
            registration("k-d", "04", T0, None),
        ];
        for r in &mut regs {
            r.binding.key_name = Some("shared".into());
            register(store, r).await;
        }
        let ids = |v: Vec<KeyBindingRecord>| v.into_iter().map(|b| b.id).collect::<Vec<_>>();
        let by_name = BindingSelector::KeyName("shared".into());
        assert_eq!(
            ids(store.find_bindings(&by_name, 10).await.unwrap()),
            ["k-d", "k-b", "k-a", "k-c"]
        );
        assert_eq!(
            ids(store.find_bindings(&by_name, 2).await.unwrap()),
            ["k-d", "k-b"]
        );
        assert_eq!(store.count_bindings().await.unwrap(), 4);
    }

    /// Three bindings under one key name: without pairs and with one certificate; with
    /// one pair and two (a reissue); with three pairs (not in the order they sort) and
    /// four certificates (issued out of order, two at the same instant).
    async fn bindings_with_certificates(
        store: &dyn Store,
    ) -> Vec<(KeyBindingRecord, Vec<CertificateRecord>)> {
        let mut bare = registration("k-bare", "01", T0, None);
        bare.binding.use_key_with.clear();
        let mut one = registration("k-one", "02", T0 + Duration::seconds(10), None);
        one.binding.use_key_with.truncate(1);
        let mut many = registration("k-many", "03", T0 + Duration::seconds(20), None);
        many.binding.use_key_with.push(pair(MAIL, "a@example.org"));
        let mut found = Vec::new();
        for r in [&mut bare, &mut one, &mut many] {
            r.binding.key_name = Some("shared".into());
            register(store, r).await;
            found.push((r.binding.clone(), vec![r.certificate.clone()]));
        }
        let (t1, t2) = (T0 + Duration::days(1), T0 + Duration::days(2));
        for (i, id, serial, at) in [
            (1, "k-one", "12", t1),
            (2, "k-many", "13", t2),
            (2, "k-many", "23", t1),
            (2, "k-many", "33", t2),
        ] {
            store.reserve_serials(&[sn(serial)], at).await.unwrap();
            let r = reissue(id, serial, at, None);
            store.commit_reissue(&r).await.unwrap();
            found[i].1.push(r.certificate);
        }
        // Newest first, the later serial first among those issued at once.
        let order = |s: &str| found[2].1.iter().position(|c| c.serial == sn(s)).unwrap();
        let newest_first = ["33", "13", "23", "03"].map(order);
        found[2].1 = newest_first.map(|i| found[2].1[i].clone()).to_vec();
        found[1].1.reverse();
        found
    }

    pub async fn find_with_certificates_gives_each_binding_its_own(store: &dyn Store) {
        let all = bindings_with_certificates(store).await;
        let find = |s: BindingSelector, limit: usize| async move {
            store
                .find_bindings_with_certificates(&s, limit)
                .await
                .unwrap()
        };
        let by_name = BindingSelector::KeyName("shared".into());
        assert_eq!(find(by_name.clone(), 10).await, all);
        assert_eq!(find(by_name.clone(), 2).await, all[..2]);
        assert_eq!(find(by_name.clone(), 3).await, all);
        assert!(find(by_name.clone(), 0).await.is_empty());

        let (one, many) = (&all[1..2], &all[2..]);
        let ukw = BindingSelector::UseKeyWith(vec![
            pair(MAIL, "k-many@example.org"),
            pair(MAIL, "k-one@example.org"),
            pair(MAIL, "a@example.org"),
        ]);
        assert_eq!(
            find(ukw.clone(), 10).await,
            all[1..],
            "each binding once, with all its pairs"
        );
        assert_eq!(find(ukw, 1).await, one);
        assert_eq!(
            find(BindingSelector::CertificateSerial(sn("23")), 10).await,
            many
        );
        assert_eq!(
            find(BindingSelector::CertificateSki(ski("12")), 10).await,
            one
        );
        assert_eq!(
            find(BindingSelector::KeyFingerprint(fingerprint("k-bare")), 10).await,
            all[..1]
        );
        assert_eq!(find(BindingSelector::Id("k-many".into()), 10).await, many);
        assert!(
            find(BindingSelector::Id("nope".into()), 10)
                .await
                .is_empty()
        );
        assert!(
            find(BindingSelector::UseKeyWith(vec![]), 10)
                .await
                .is_empty()
        );

        // The same as the two reads it replaces.
        let mut separately = Vec::new();
        for binding in store.find_bindings(&by_name, 10).await.unwrap() {
            let certificates = store.certificates_of(&binding.id).await.unwrap();
            separately.push((binding, certificates));
        }
        assert_eq!(separately, all);
    }

    /// Registers a binding `k-bare` for [`found_without_certificates`], once the backend
    /// deleted its certificate (no store operation leaves a binding without one).
    pub async fn register_bare(store: &dyn Store) {
        register(store, &registration("k-bare", "01", T0, None)).await;
    }

    /// `k-bare` without certificates is found with its pairs and none.
    pub async fn found_without_certificates(store: &dyn Store) {
        assert!(store.certificates_of("k-bare").await.unwrap().is_empty());
        let found = store
            .find_bindings_with_certificates(&BindingSelector::Id("k-bare".into()), 10)
            .await
            .unwrap();
        assert_eq!(
            found,
            [(registration("k-bare", "01", T0, None).binding, Vec::new())]
        );
    }

    pub async fn unreserved_serial_writes_nothing(store: &dyn Store) {
        let a = authorization("a-1", "alice@example.org", Some(1));
        store
            .insert_authorization(&a, &audit("authorization.created", "a-1", T0))
            .await
            .unwrap();
        let r = registration("k1", "01", T0, Some("a-1"));
        commit_fails(store, &r, conflict).await;
        assert_eq!(store.count_bindings().await.unwrap(), 0);
        assert!(
            store
                .find_bindings(&BindingSelector::Id("k1".into()), 1)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(store.certificates_of("k1").await.unwrap().is_empty());
        assert_eq!(
            uses_of(store, "alice@example.org", "a-1", T0).await,
            Some(0),
            "the authorization use was rolled back"
        );
    }

    pub async fn duplicate_binding_id_writes_nothing(store: &dyn Store) {
        let a = authorization("a-1", "alice@example.org", Some(5));
        store
            .insert_authorization(&a, &audit("authorization.created", "a-1", T0))
            .await
            .unwrap();
        register(store, &registration("k1", "01", T0, None)).await;

        let mut again = registration("k1", "02", T0 + Duration::seconds(5), Some("a-1"));
        again.binding.key_name = Some("second@example.org".into());
        store.reserve_serials(&[sn("02")], T0).await.unwrap();
        commit_fails(store, &again, duplicate).await;
        assert_eq!(store.count_bindings().await.unwrap(), 1);
        assert!(
            store
                .certificates_of("k1")
                .await
                .unwrap()
                .iter()
                .all(|c| c.serial == sn("01"))
        );
        assert!(
            store
                .find_bindings(&BindingSelector::KeyName("second@example.org".into()), 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            uses_of(store, "alice@example.org", "a-1", T0).await,
            Some(0)
        );
    }

    pub async fn reused_certificate_serial_writes_nothing(store: &dyn Store) {
        register(store, &registration("k1", "01", T0, None)).await;
        let r = registration("k2", "01", T0, None);
        commit_fails(store, &r, duplicate).await;
        assert!(
            store
                .find_bindings(&BindingSelector::Id("k2".into()), 1)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store
                .find_bindings(&BindingSelector::CertificateSerial(sn("01")), 10)
                .await
                .unwrap()
                .len(),
            1
        );
    }

    pub async fn count_bindings_counts(store: &dyn Store) {
        assert_eq!(store.count_bindings().await.unwrap(), 0);
        for i in 0..5u8 {
            let id = format!("k{i}");
            let serial = format!("{:02x}", i + 1);
            register(
                store,
                &registration(&id, &serial, T0 + Duration::seconds(i.into()), None),
            )
            .await;
            assert_eq!(store.count_bindings().await.unwrap(), u64::from(i) + 1);
        }
    }

    /// Many tasks commit at once; all succeed, and an authorization limited to fewer uses
    /// than there are tasks is used exactly that often.
    pub async fn concurrent_registrations(store: Arc<dyn Store>) {
        const TASKS: usize = 8;
        const ALLOWED: u32 = 5;
        let limited = authorization("a-1", "alice@example.org", Some(ALLOWED));
        store
            .insert_authorization(&limited, &audit("authorization.created", "a-1", T0))
            .await
            .unwrap();

        let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
        let mut tasks = Vec::new();
        for i in 0..TASKS {
            let store = Arc::clone(&store);
            let barrier = Arc::clone(&barrier);
            tasks.push(tokio::spawn(async move {
                let free = registration(&format!("free-{i}"), &format!("f{i:02}"), T0, None);
                let auth = registration(&format!("auth-{i}"), &format!("a{i:02}"), T0, Some("a-1"));
                store
                    .reserve_serials(&[free.certificate.serial], T0)
                    .await
                    .unwrap();
                store
                    .reserve_serials(&[auth.certificate.serial], T0)
                    .await
                    .unwrap();
                barrier.wait().await;
                store.commit_registration(&free).await.unwrap();
                store.commit_registration(&auth).await
            }));
        }
        let mut succeeded = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(()) => succeeded += 1,
                Err(StoreError::Conflict { .. }) => {}
                Err(e) => panic!("unexpected error {e:?}"),
            }
        }
        assert_eq!(succeeded, ALLOWED as usize);
        assert_eq!(
            store.count_bindings().await.unwrap(),
            (TASKS + ALLOWED as usize) as u64
        );
        let limited_now = store
            .usable_authorizations(&["alice@example.org".into()], Purpose::Register, T0)
            .await
            .unwrap();
        assert!(limited_now.is_empty(), "used up exactly");
    }

    /// Everything a populated store returns, for comparing before and after a reopen.
    pub async fn snapshot(
        store: &dyn Store,
    ) -> (
        Vec<KeyBindingRecord>,
        Vec<CertificateRecord>,
        Vec<AuditEvent>,
        Vec<Authorization>,
    ) {
        let bindings = store
            .find_bindings(&BindingSelector::KeyName("k1@example.org".into()), 10)
            .await
            .unwrap();
        let certificates = store.certificates_of("k1").await.unwrap();
        let audit = store.recent_audit_events(100).await.unwrap();
        let authorizations = store
            .usable_authorizations(&["alice@example.org".into()], Purpose::Register, T0)
            .await
            .unwrap();
        (bindings, certificates, audit, authorizations)
    }

    pub async fn populate(store: &dyn Store) {
        let a = authorization("a-1", "alice@example.org", Some(3));
        store
            .insert_authorization(&a, &audit("authorization.created", "a-1", T0))
            .await
            .unwrap();
        register(store, &registration("k1", "01", T0, Some("a-1"))).await;
    }

    // ---- lifecycle fixtures --------------------------------------------------------

    pub fn recover_authorization(id: &str, identity: &str, max_uses: Option<u32>) -> Authorization {
        let mut a = authorization(id, identity, max_uses);
        a.purpose = Purpose::Recover;
        a
    }

    async fn insert_auth(store: &dyn Store, a: &Authorization) {
        store
            .insert_authorization(a, &audit("authorization.created", &a.id, T0))
            .await
            .unwrap();
    }

    /// A reissue of binding `id` with the new certificate `serial`, issued at `at`.
    pub fn reissue(id: &str, serial: &str, at: OffsetDateTime, auth: Option<&str>) -> Reissue {
        let mut audit_events = vec![audit("certificate.issued", serial, at)];
        if let Some(a) = auth {
            audit_events.push(audit("authorization.used", a, at));
        }
        Reissue {
            binding_id: id.into(),
            certificate: certificate(serial, id, at),
            authorization_id: auth.map(str::to_owned),
            replay: Vec::new(),
            audit: audit_events,
        }
    }

    pub fn revocation(id: &str, at: OffsetDateTime, reason: u8) -> Revocation {
        Revocation {
            binding_id: id.into(),
            at,
            reason,
            replay: Vec::new(),
            audit: vec![audit("keybinding.revoked", id, at)],
        }
    }

    pub fn recovery(id: &str, auth: &str, at: OffsetDateTime, revoke: bool) -> Recovery {
        Recovery {
            binding_id: id.into(),
            authorization_id: auth.into(),
            revoke: revoke.then(|| revocation(id, at, 1)),
            replay: Vec::new(),
            audit: vec![
                audit("authorization.used", auth, at),
                audit("key.recovered", id, at),
            ],
        }
    }

    pub fn escrowed(id: &str, serial: &str, at: OffsetDateTime) -> Registration {
        let mut r = registration(id, serial, at, None);
        r.escrowed_private_key = Some(format!("sealed key of {id}").into_bytes());
        r
    }

    pub fn pending(id: &str, state: PendingState, created_at: OffsetDateTime) -> PendingRecord {
        PendingRecord {
            response_id: id.into(),
            original_request_id: format!("req-{id}"),
            operation: Operation::Register,
            requester: "alice@example.org".into(),
            state,
            document: format!("<RegisterRequest Id=\"req-{id}\"/>"),
            result: None,
            created_at,
            updated_at: created_at,
            lease_until: None,
            counters: None,
        }
    }

    /// A binding as found by id, its certificates and its escrowed key.
    type BindingState = (
        Vec<KeyBindingRecord>,
        Vec<CertificateRecord>,
        Option<Vec<u8>>,
    );

    /// Everything the lifecycle methods could touch for these bindings and
    /// authorizations. Equal before and after = nothing written.
    #[derive(Debug, PartialEq)]
    struct World {
        bindings: u64,
        audit: Vec<AuditEvent>,
        records: Vec<BindingState>,
        revoked: Vec<RevokedCertificate>,
        authorizations: Vec<Option<Authorization>>,
        pending: Vec<PendingRecord>,
        audit_head: xkms_service::store::AuditHead,
    }

    async fn world(store: &dyn Store, binding_ids: &[&str], auth_ids: &[&str]) -> World {
        let mut records = Vec::new();
        for id in binding_ids {
            records.push((
                store
                    .find_bindings(&BindingSelector::Id((*id).into()), 10)
                    .await
                    .unwrap(),
                store.certificates_of(id).await.unwrap(),
                store.escrowed_key(id).await.unwrap(),
            ));
        }
        let mut authorizations = Vec::new();
        for id in auth_ids {
            authorizations.push(store.get_authorization(id).await.unwrap());
        }
        World {
            bindings: store.count_bindings().await.unwrap(),
            audit: store.recent_audit_events(1000).await.unwrap(),
            records,
            revoked: store.revoked_certificates().await.unwrap(),
            authorizations,
            pending: store.list_pending(None, 1000).await.unwrap(),
            audit_head: store.audit_head().await.unwrap(),
        }
    }

    /// Runs `$call`, expects an error `$check` accepts, and that nothing changed.
    macro_rules! fails_unchanged {
        ($store:expr, $ids:expr, $auths:expr, $call:expr, $check:expr) => {{
            let before = world($store, $ids, $auths).await;
            let err = $call.await.unwrap_err();
            assert!($check(&err), "unexpected {err:?}");
            assert_eq!(
                world($store, $ids, $auths).await,
                before,
                "a failed call wrote something"
            );
        }};
    }

    fn not_found(e: &StoreError) -> bool {
        matches!(e, StoreError::NotFound { .. })
    }

    // ---- authorizations by id, purpose -------------------------------------------

    pub async fn get_authorization_by_id(store: &dyn Store) {
        let a = authorization("a-1", "alice@example.org", Some(2));
        let r = recover_authorization("r-1", "alice@example.org", None);
        insert_auth(store, &a).await;
        insert_auth(store, &r).await;
        assert_eq!(
            store.get_authorization("a-1").await.unwrap(),
            Some(a.clone())
        );
        assert_eq!(store.get_authorization("r-1").await.unwrap(), Some(r));
        assert_eq!(store.get_authorization("nope").await.unwrap(), None);
        register(store, &registration("k1", "01", T0, Some("a-1"))).await;
        register(store, &registration("k2", "02", T0, Some("a-1"))).await;
        let used_up = store.get_authorization("a-1").await.unwrap().unwrap();
        assert_eq!(used_up.uses, 2, "returned whatever its state");
        // ... even when expired.
        assert!(
            store
                .usable_authorizations(
                    &["alice@example.org".into()],
                    Purpose::Register,
                    a.expires_at
                )
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store.get_authorization("a-1").await.unwrap().unwrap().id,
            "a-1"
        );
    }

    pub async fn registration_requires_register_purpose(store: &dyn Store) {
        insert_auth(
            store,
            &recover_authorization("r-1", "alice@example.org", None),
        )
        .await;
        store.reserve_serials(&[sn("01")], T0).await.unwrap();
        let r = registration("k1", "01", T0, Some("r-1"));
        fails_unchanged!(
            store,
            &["k1"],
            &["r-1"],
            store.commit_registration(&r),
            conflict
        );
        assert_eq!(store.count_bindings().await.unwrap(), 0);
    }

    // ---- escrow and SKI ------------------------------------------------------------

    pub async fn escrowed_key_round_trip(store: &dyn Store) {
        let with = escrowed("k1", "01", T0);
        let without = registration("k2", "02", T0, None);
        register(store, &with).await;
        register(store, &without).await;
        assert_eq!(
            store.escrowed_key("k1").await.unwrap(),
            with.escrowed_private_key.clone()
        );
        assert_eq!(store.escrowed_key("k2").await.unwrap(), None);
        assert_eq!(store.escrowed_key("nope").await.unwrap(), None);
        // Not part of the binding record.
        assert_eq!(
            store
                .find_bindings(&BindingSelector::Id("k1".into()), 1)
                .await
                .unwrap(),
            vec![with.binding.clone()]
        );
    }

    pub async fn find_by_certificate_ski(store: &dyn Store) {
        register(store, &registration("k1", "01", T0, None)).await;
        register(
            store,
            &registration("k2", "02", T0 + Duration::seconds(1), None),
        )
        .await;
        let find = |s: Vec<u8>| async move {
            store
                .find_bindings(&BindingSelector::CertificateSki(s), 10)
                .await
                .unwrap()
                .into_iter()
                .map(|b| b.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(find(ski("01")).await, ["k1"]);
        assert_eq!(find(ski("02")).await, ["k2"]);
        assert!(find(ski("99")).await.is_empty());
        assert!(find(Vec::new()).await.is_empty());
        store.reserve_serials(&[sn("03")], T0).await.unwrap();
        store
            .commit_reissue(&reissue("k1", "03", T0 + Duration::seconds(5), None))
            .await
            .unwrap();
        assert_eq!(
            find(ski("03")).await,
            ["k1"],
            "any certificate of the binding"
        );
        assert_eq!(find(ski("01")).await, ["k1"]);
    }

    // ---- reissue -------------------------------------------------------------------

    pub async fn reissue_happy_path(store: &dyn Store) {
        insert_auth(store, &authorization("a-1", "alice@example.org", Some(3))).await;
        let r = registration("k1", "01", T0, Some("a-1"));
        register(store, &r).await;
        let t1 = T0 + Duration::days(1);
        store.reserve_serials(&[sn("02")], t1).await.unwrap();
        let with_auth = reissue("k1", "02", t1, Some("a-1"));
        store.commit_reissue(&with_auth).await.unwrap();
        let t2 = T0 + Duration::days(2);
        store.reserve_serials(&[sn("03")], t2).await.unwrap();
        let without_auth = reissue("k1", "03", t2, None);
        store.commit_reissue(&without_auth).await.unwrap();

        assert_eq!(
            store.certificates_of("k1").await.unwrap(),
            vec![
                without_auth.certificate.clone(),
                with_auth.certificate.clone(),
                r.certificate.clone()
            ],
            "newest first"
        );
        assert_eq!(
            store.get_authorization("a-1").await.unwrap().unwrap().uses,
            2
        );
        assert_eq!(
            store
                .find_bindings(&BindingSelector::CertificateSerial(sn("02")), 10)
                .await
                .unwrap(),
            vec![r.binding.clone()],
            "the binding itself is unchanged"
        );
        let mut events = store.recent_audit_events(100).await.unwrap();
        events.reverse();
        let tail: Vec<AuditEvent> = events[events.len() - 3..].to_vec();
        let mut expected = with_auth.audit.clone();
        expected.extend(without_auth.audit.clone());
        assert_eq!(tail, expected);
        assert_eq!(store.count_bindings().await.unwrap(), 1);
    }

    pub async fn reissue_preconditions_write_nothing(store: &dyn Store) {
        let mut short = authorization("a-short", "alice@example.org", None);
        short.expires_at = T0 + Duration::hours(1);
        for a in [
            authorization("a-1", "alice@example.org", Some(1)),
            recover_authorization("r-1", "alice@example.org", None),
            short,
        ] {
            insert_auth(store, &a).await;
        }
        register(store, &registration("k1", "01", T0, Some("a-1"))).await;
        register(store, &registration("k2", "02", T0, None)).await;
        store
            .revoke_binding(&revocation("k2", T0, 1))
            .await
            .unwrap();
        for s in ["10", "11"] {
            store.reserve_serials(&[sn(s)], T0).await.unwrap();
        }
        let ids: &[&str] = &["k1", "k2", "k9"];
        let auths: &[&str] = &["a-1", "r-1", "a-short"];
        let t = T0 + Duration::minutes(30);

        let missing = reissue("k9", "10", t, None);
        fails_unchanged!(store, ids, auths, store.commit_reissue(&missing), not_found);
        let revoked = reissue("k2", "10", t, None);
        fails_unchanged!(store, ids, auths, store.commit_reissue(&revoked), conflict);
        let unreserved = reissue("k1", "99", t, None);
        fails_unchanged!(
            store,
            ids,
            auths,
            store.commit_reissue(&unreserved),
            conflict
        );
        let used_up = reissue("k1", "10", t, Some("a-1"));
        fails_unchanged!(store, ids, auths, store.commit_reissue(&used_up), conflict);
        let wrong_purpose = reissue("k1", "10", t, Some("r-1"));
        fails_unchanged!(
            store,
            ids,
            auths,
            store.commit_reissue(&wrong_purpose),
            conflict
        );
        let unknown_auth = reissue("k1", "10", t, Some("nope"));
        fails_unchanged!(
            store,
            ids,
            auths,
            store.commit_reissue(&unknown_auth),
            conflict
        );
        let expired = reissue("k1", "10", T0 + Duration::hours(1), Some("a-short"));
        fails_unchanged!(store, ids, auths, store.commit_reissue(&expired), conflict);
        let mut other = reissue("k1", "10", t, None);
        other.certificate.binding_id = "k2".into();
        fails_unchanged!(store, ids, auths, store.commit_reissue(&other), conflict);
        let used_serial = reissue("k1", "02", t, None);
        fails_unchanged!(
            store,
            ids,
            auths,
            store.commit_reissue(&used_serial),
            duplicate
        );

        // Still possible when every precondition holds.
        store
            .commit_reissue(&reissue("k1", "10", t, Some("a-short")))
            .await
            .unwrap();
        assert_eq!(store.certificates_of("k1").await.unwrap().len(), 2);
    }

    // ---- revocation ----------------------------------------------------------------

    pub async fn revoke_binding_and_its_certificates(store: &dyn Store) {
        register(store, &registration("k1", "01", T0, None)).await;
        register(store, &registration("k2", "09", T0, None)).await;
        // A certificate of k1 revoked on its own before (e.g. superseded).
        let t1 = T0 + Duration::days(1);
        store.reserve_serials(&[sn("02")], t1).await.unwrap();
        let mut superseded = reissue("k1", "02", t1, None);
        superseded.certificate.revoked_at = Some(t1 + Duration::hours(1));
        superseded.certificate.revocation_reason = Some(4);
        store.commit_reissue(&superseded).await.unwrap();
        store.reserve_serials(&[sn("03")], t1).await.unwrap();
        store
            .commit_reissue(&reissue("k1", "03", t1 + Duration::hours(2), None))
            .await
            .unwrap();

        let t2 = T0 + Duration::days(2);
        let rev = revocation("k1", t2, 1);
        store.revoke_binding(&rev).await.unwrap();

        let binding = &store
            .find_bindings(&BindingSelector::Id("k1".into()), 1)
            .await
            .unwrap()[0];
        assert_eq!(binding.status, BindingStatus::Revoked);
        assert_eq!(binding.revoked_at, Some(t2));
        let certs = store.certificates_of("k1").await.unwrap();
        let by_serial = |s: &str| certs.iter().find(|c| c.serial == sn(s)).unwrap().clone();
        assert_eq!(
            (
                by_serial("01").revoked_at,
                by_serial("01").revocation_reason
            ),
            (Some(t2), Some(1))
        );
        assert_eq!(
            (
                by_serial("03").revoked_at,
                by_serial("03").revocation_reason
            ),
            (Some(t2), Some(1))
        );
        assert_eq!(
            (
                by_serial("02").revoked_at,
                by_serial("02").revocation_reason
            ),
            (Some(t1 + Duration::hours(1)), Some(4)),
            "an earlier revocation is kept"
        );
        assert_eq!(
            store
                .find_bindings(&BindingSelector::Id("k2".into()), 1)
                .await
                .unwrap()[0]
                .status,
            BindingStatus::Valid,
            "other bindings untouched"
        );
        assert_eq!(store.recent_audit_events(1).await.unwrap(), rev.audit);
        assert_eq!(
            store.revoked_certificates().await.unwrap(),
            vec![
                RevokedCertificate {
                    serial: sn("02"),
                    revoked_at: t1 + Duration::hours(1),
                    reason: 4
                },
                RevokedCertificate {
                    serial: sn("01"),
                    revoked_at: t2,
                    reason: 1
                },
                RevokedCertificate {
                    serial: sn("03"),
                    revoked_at: t2,
                    reason: 1
                },
            ],
            "by revocation time, then serial"
        );
    }

    pub async fn revoke_preconditions_write_nothing(store: &dyn Store) {
        register(store, &registration("k1", "01", T0, None)).await;
        let ids: &[&str] = &["k1", "k9"];
        fails_unchanged!(
            store,
            ids,
            &[],
            store.revoke_binding(&revocation("k9", T0, 1)),
            not_found
        );
        store
            .revoke_binding(&revocation("k1", T0, 1))
            .await
            .unwrap();
        let again = revocation("k1", T0 + Duration::hours(1), 4);
        fails_unchanged!(store, ids, &[], store.revoke_binding(&again), conflict);
        assert_eq!(
            store.revoked_certificates().await.unwrap(),
            vec![RevokedCertificate {
                serial: sn("01"),
                revoked_at: T0,
                reason: 1
            }]
        );
    }

    pub async fn revoked_certificates_empty_and_ordered(store: &dyn Store) {
        assert!(store.revoked_certificates().await.unwrap().is_empty());
        for (id, serial, offset) in [
            ("k1", "0c", 30),
            ("k2", "0a", 10),
            ("k3", "0b", 10),
            ("k4", "0d", 0),
        ] {
            register(store, &registration(id, serial, T0, None)).await;
            if offset > 0 {
                store
                    .revoke_binding(&revocation(id, T0 + Duration::seconds(offset), 5))
                    .await
                    .unwrap();
            }
        }
        let serials: Vec<Serial> = store
            .revoked_certificates()
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.serial)
            .collect();
        assert_eq!(serials, [sn("0a"), sn("0b"), sn("0c")]);
    }

    // ---- recovery ------------------------------------------------------------------

    pub async fn recovery_consumes_and_revokes(store: &dyn Store) {
        insert_auth(
            store,
            &recover_authorization("r-1", "k1@example.org", Some(1)),
        )
        .await;
        let r = escrowed("k1", "01", T0);
        register(store, &r).await;
        let t = T0 + Duration::hours(3);
        let rec = recovery("k1", "r-1", t, true);
        store.commit_recovery(&rec).await.unwrap();

        assert_eq!(
            store.get_authorization("r-1").await.unwrap().unwrap().uses,
            1
        );
        let binding = &store
            .find_bindings(&BindingSelector::Id("k1".into()), 1)
            .await
            .unwrap()[0];
        assert_eq!(
            (binding.status, binding.revoked_at),
            (BindingStatus::Revoked, Some(t))
        );
        assert_eq!(
            store.revoked_certificates().await.unwrap(),
            vec![RevokedCertificate {
                serial: sn("01"),
                revoked_at: t,
                reason: 1
            }]
        );
        assert_eq!(
            store.escrowed_key("k1").await.unwrap(),
            r.escrowed_private_key,
            "kept"
        );
        let mut events = store.recent_audit_events(3).await.unwrap();
        events.reverse();
        let mut expected = rec.audit.clone();
        expected.extend(rec.revoke.clone().unwrap().audit);
        assert_eq!(events, expected);

        // Single use: a second recovery is refused.
        let again = recovery("k1", "r-1", t + Duration::seconds(1), false);
        fails_unchanged!(
            store,
            &["k1"],
            &["r-1"],
            store.commit_recovery(&again),
            conflict
        );
    }

    pub async fn recovery_without_revocation_or_of_revoked_binding(store: &dyn Store) {
        insert_auth(store, &recover_authorization("r-1", "k1@example.org", None)).await;
        register(store, &escrowed("k1", "01", T0)).await;
        register(store, &escrowed("k2", "02", T0)).await;

        let keep = recovery("k1", "r-1", T0 + Duration::hours(1), false);
        store.commit_recovery(&keep).await.unwrap();
        let k1 = &store
            .find_bindings(&BindingSelector::Id("k1".into()), 1)
            .await
            .unwrap()[0];
        assert_eq!(k1.status, BindingStatus::Valid);
        assert_eq!(store.recent_audit_events(2).await.unwrap().len(), 2);

        // Revoked before: recovery allowed, the revocation part skipped.
        let t_revoked = T0 + Duration::hours(2);
        store
            .revoke_binding(&revocation("k2", t_revoked, 4))
            .await
            .unwrap();
        let events_before = store.recent_audit_events(1000).await.unwrap().len();
        let rec = recovery("k2", "r-1", T0 + Duration::hours(3), true);
        store.commit_recovery(&rec).await.unwrap();
        let k2 = &store
            .find_bindings(&BindingSelector::Id("k2".into()), 1)
            .await
            .unwrap()[0];
        assert_eq!(k2.revoked_at, Some(t_revoked), "first revocation kept");
        assert_eq!(
            store.revoked_certificates().await.unwrap(),
            vec![RevokedCertificate {
                serial: sn("02"),
                revoked_at: t_revoked,
                reason: 4
            }]
        );
        let events = store.recent_audit_events(1000).await.unwrap();
        assert_eq!(
            events.len(),
            events_before + rec.audit.len(),
            "no revocation event"
        );
        assert_eq!(
            store.get_authorization("r-1").await.unwrap().unwrap().uses,
            2
        );
    }

    pub async fn recovery_preconditions_write_nothing(store: &dyn Store) {
        let mut short = recover_authorization("r-short", "k1@example.org", None);
        short.expires_at = T0 + Duration::hours(1);
        for a in [
            recover_authorization("r-1", "k1@example.org", Some(1)),
            authorization("a-1", "k1@example.org", None),
            recover_authorization("r-0", "k1@example.org", Some(0)),
            short,
        ] {
            insert_auth(store, &a).await;
        }
        register(store, &escrowed("k1", "01", T0)).await;
        register(store, &registration("k2", "02", T0, None)).await;
        let ids: &[&str] = &["k1", "k2", "k9"];
        let auths: &[&str] = &["r-1", "a-1", "r-0", "r-short"];
        let t = T0 + Duration::minutes(30);

        let cases = [
            (
                recovery("k1", "nope", t, true),
                conflict as fn(&StoreError) -> bool,
            ),
            (recovery("k1", "a-1", t, true), conflict),
            (recovery("k1", "r-0", t, true), conflict),
            (
                recovery("k1", "r-short", T0 + Duration::hours(1), true),
                conflict,
            ),
            (recovery("k9", "r-1", t, true), not_found),
            (recovery("k2", "r-1", t, true), not_found),
        ];
        for (rec, check) in &cases {
            fails_unchanged!(store, ids, auths, store.commit_recovery(rec), check);
        }
        let mut other = recovery("k1", "r-1", t, true);
        other.revoke = Some(revocation("k2", t, 1));
        fails_unchanged!(store, ids, auths, store.commit_recovery(&other), conflict);

        // Expiry is judged at the first audit event, not at the revocation time.
        let mut in_time = recovery("k1", "r-short", T0 + Duration::minutes(59), true);
        in_time.revoke.as_mut().unwrap().at = T0 + Duration::hours(2);
        store.commit_recovery(&in_time).await.unwrap();
    }

    // ---- pending requests ----------------------------------------------------------

    pub async fn pending_lifecycle(store: &dyn Store) {
        let p = pending("p-1", PendingState::AwaitingApproval, T0);
        store
            .insert_pending(&p, &audit("request.pending", "p-1", T0))
            .await
            .unwrap();
        assert_eq!(store.get_pending("p-1").await.unwrap(), Some(p.clone()));
        assert_eq!(store.get_pending("nope").await.unwrap(), None);
        let dup = store
            .insert_pending(&p, &audit("request.pending", "p-1", T0))
            .await
            .unwrap_err();
        assert!(duplicate(&dup), "{dup:?}");
        assert_eq!(store.recent_audit_events(10).await.unwrap().len(), 1);

        // Not runnable until approved.
        assert_eq!(
            store
                .claim_pending(T0, T0 + Duration::minutes(5))
                .await
                .unwrap(),
            None
        );
        let ev = |k: &str, at| audit(k, "p-1", at);
        let t1 = T0 + Duration::minutes(1);
        fails_unchanged!(
            store,
            &[],
            &[],
            store.transition_pending(
                "p-1",
                PendingState::Queued,
                PendingState::Running,
                None,
                None,
                t1,
                &ev("request.approved", t1)
            ),
            conflict
        );
        fails_unchanged!(
            store,
            &[],
            &[],
            store.transition_pending(
                "nope",
                PendingState::AwaitingApproval,
                PendingState::Queued,
                None,
                None,
                t1,
                &ev("request.approved", t1)
            ),
            not_found
        );
        store
            .transition_pending(
                "p-1",
                PendingState::AwaitingApproval,
                PendingState::Queued,
                None,
                None,
                t1,
                &ev("request.approved", t1),
            )
            .await
            .unwrap();
        let queued = store.get_pending("p-1").await.unwrap().unwrap();
        assert_eq!(
            (queued.state, queued.updated_at, queued.result.clone()),
            (PendingState::Queued, t1, None)
        );

        let t2 = T0 + Duration::minutes(2);
        let lease = t2 + Duration::minutes(5);
        let claimed = store.claim_pending(t2, lease).await.unwrap().unwrap();
        assert_eq!(claimed.response_id, "p-1");
        assert_eq!(
            (claimed.state, claimed.lease_until, claimed.updated_at),
            (PendingState::Running, Some(lease), t2)
        );
        assert_eq!(
            store.get_pending("p-1").await.unwrap(),
            Some(claimed.clone())
        );
        assert_eq!(
            store.claim_pending(t2, lease).await.unwrap(),
            None,
            "leased"
        );
        assert_eq!(
            store
                .claim_pending(lease, lease + Duration::minutes(5))
                .await
                .unwrap(),
            None,
            "lease still valid at its end"
        );
        // The claimant died: after the lease another node takes it over.
        let t3 = lease + Duration::seconds(1);
        let lease2 = t3 + Duration::minutes(5);
        let taken = store.claim_pending(t3, lease2).await.unwrap().unwrap();
        assert_eq!(
            (taken.response_id.as_str(), taken.lease_until),
            ("p-1", Some(lease2))
        );

        let t4 = t3 + Duration::minutes(1);
        store
            .transition_pending(
                "p-1",
                PendingState::Running,
                PendingState::Done,
                Some("<RegisterResult/>"),
                Some((2, 1, 0)),
                t4,
                &ev("request.completed", t4),
            )
            .await
            .unwrap();
        let done = store.get_pending("p-1").await.unwrap().unwrap();
        assert_eq!(done.state, PendingState::Done);
        assert!(done.state.is_final());
        assert_eq!(done.result.as_deref(), Some("<RegisterResult/>"));
        assert_eq!(done.counters, Some((2, 1, 0)));
        assert_eq!((done.updated_at, done.lease_until), (t4, None));
        assert_eq!(done.document, p.document);
        assert_eq!(
            store
                .claim_pending(t4 + Duration::hours(1), t4 + Duration::hours(2))
                .await
                .unwrap(),
            None
        );
        fails_unchanged!(
            store,
            &[],
            &[],
            store.transition_pending(
                "p-1",
                PendingState::Running,
                PendingState::Done,
                Some("<x/>"),
                None,
                t4,
                &ev("request.completed", t4)
            ),
            conflict
        );

        // Reject path.
        let r = pending(
            "p-2",
            PendingState::AwaitingApproval,
            T0 + Duration::seconds(1),
        );
        store
            .insert_pending(&r, &audit("request.pending", "p-2", T0))
            .await
            .unwrap();
        store
            .transition_pending(
                "p-2",
                PendingState::AwaitingApproval,
                PendingState::Rejected,
                Some("<Refused/>"),
                None,
                t4,
                &audit("request.rejected", "p-2", t4),
            )
            .await
            .unwrap();
        let rejected = store.get_pending("p-2").await.unwrap().unwrap();
        assert_eq!(
            (
                rejected.state,
                rejected.result.as_deref(),
                rejected.counters
            ),
            (PendingState::Rejected, Some("<Refused/>"), None)
        );
        let kinds: Vec<String> = store
            .recent_audit_events(100)
            .await
            .unwrap()
            .into_iter()
            .rev()
            .map(|e| e.kind.as_str().to_owned())
            .collect();
        assert_eq!(
            kinds,
            [
                "request.pending",
                "request.approved",
                "request.completed",
                "request.pending",
                "request.rejected"
            ]
        );
    }

    pub async fn pending_claim_order_and_list(store: &dyn Store) {
        let states = [
            ("p-a", PendingState::Queued, 30),
            ("p-b", PendingState::AwaitingApproval, 0),
            ("p-c", PendingState::Queued, 10),
            ("p-d", PendingState::Done, 5),
            ("p-e", PendingState::Queued, 10),
            ("p-f", PendingState::Rejected, 1),
        ];
        for (id, state, offset) in states {
            let mut p = pending(id, state, T0 + Duration::seconds(offset));
            if state.is_final() {
                p.result = Some("<Result/>".into());
            }
            if id == "p-e" {
                p.counters = Some((0, 0, 3));
            }
            store
                .insert_pending(&p, &audit("request.pending", id, T0))
                .await
                .unwrap();
        }
        let ids = |v: Vec<PendingRecord>| v.into_iter().map(|p| p.response_id).collect::<Vec<_>>();
        assert_eq!(
            ids(store.list_pending(None, 100).await.unwrap()),
            ["p-b", "p-f", "p-d", "p-c", "p-e", "p-a"]
        );
        assert_eq!(
            ids(store
                .list_pending(Some(PendingState::Queued), 100)
                .await
                .unwrap()),
            ["p-c", "p-e", "p-a"]
        );
        assert_eq!(
            ids(store
                .list_pending(Some(PendingState::Queued), 2)
                .await
                .unwrap()),
            ["p-c", "p-e"]
        );
        assert!(
            store
                .list_pending(Some(PendingState::Running), 100)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(store.list_pending(None, 0).await.unwrap().is_empty());
        assert_eq!(
            store.get_pending("p-e").await.unwrap().unwrap().counters,
            Some((0, 0, 3))
        );

        let now = T0 + Duration::minutes(1);
        let lease = now + Duration::minutes(1);
        let mut order = Vec::new();
        while let Some(p) = store.claim_pending(now, lease).await.unwrap() {
            order.push(p.response_id);
        }
        assert_eq!(order, ["p-c", "p-e", "p-a"], "oldest first, only queued");
        assert_eq!(
            ids(store
                .list_pending(Some(PendingState::Running), 100)
                .await
                .unwrap()),
            ["p-c", "p-e", "p-a"]
        );
    }

    /// Many workers claim at once: every queued job is claimed exactly once.
    pub async fn concurrent_claims(store: Arc<dyn Store>) {
        const TASKS: usize = 8;
        const JOBS: usize = 5;
        for i in 0..JOBS {
            let id = format!("job-{i}");
            store
                .insert_pending(
                    &pending(&id, PendingState::Queued, T0 + Duration::seconds(i as i64)),
                    &audit("request.pending", &id, T0),
                )
                .await
                .unwrap();
        }
        let now = T0 + Duration::minutes(1);
        let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
        let mut tasks = Vec::new();
        for _ in 0..TASKS {
            let store = Arc::clone(&store);
            let barrier = Arc::clone(&barrier);
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let mut mine = Vec::new();
                while let Some(p) = store
                    .claim_pending(now, now + Duration::minutes(5))
                    .await
                    .unwrap()
                {
                    assert_eq!(p.state, PendingState::Running);
                    mine.push(p.response_id);
                }
                mine
            }));
        }
        let mut claimed = Vec::new();
        for task in tasks {
            claimed.extend(task.await.unwrap());
        }
        claimed.sort();
        let expected: Vec<String> = (0..JOBS).map(|i| format!("job-{i}")).collect();
        assert_eq!(claimed, expected, "exactly {JOBS} claims, each job once");
    }

    // ---- replay values -------------------------------------------------------------

    pub async fn remember_once_until_expiry(store: &dyn Store) {
        let exp = T0 + Duration::minutes(5);
        assert!(
            store
                .remember_once("request-id", b"r-1", exp, T0)
                .await
                .unwrap(),
            "first"
        );
        assert!(
            !store
                .remember_once("request-id", b"r-1", exp, T0)
                .await
                .unwrap(),
            "second"
        );
        assert!(
            !store
                .remember_once(
                    "request-id",
                    b"r-1",
                    exp + Duration::hours(1),
                    exp - Duration::seconds(1)
                )
                .await
                .unwrap(),
            "just before expiry"
        );
        assert!(
            store.remember_once("nonce", b"r-1", exp, T0).await.unwrap(),
            "kinds are separate"
        );
        assert!(
            store
                .remember_once("request-id", b"r-2", exp + Duration::hours(1), T0)
                .await
                .unwrap()
        );
        assert!(
            store
                .remember_once("request-id", &[0, 255, 0], exp, T0)
                .await
                .unwrap(),
            "any bytes"
        );
        assert!(
            !store
                .remember_once("request-id", &[0, 255, 0], exp, T0)
                .await
                .unwrap()
        );

        // At expires_at the value is forgotten (and purged); it counts again.
        let exp2 = exp + Duration::minutes(5);
        assert!(
            store
                .remember_once("request-id", b"r-1", exp2, exp)
                .await
                .unwrap(),
            "after expiry"
        );
        assert!(
            !store
                .remember_once("request-id", b"r-1", exp2, exp)
                .await
                .unwrap()
        );
        // The purge did not touch unexpired values nor other kinds.
        assert!(
            !store
                .remember_once("request-id", b"r-2", exp2, exp)
                .await
                .unwrap()
        );
        assert!(!store.remember_once("nonce", b"r-1", exp, T0).await.unwrap());
        assert!(
            store
                .remember_once("nonce", b"r-1", exp2, exp)
                .await
                .unwrap()
        );
    }

    // ---- bulk load and copy ----------------------------------------------------------

    /// `n` registrations as a benchmark would bulk-load them; every third escrowed.
    pub fn bulk_registrations(n: usize) -> Vec<Registration> {
        (0..n)
            .map(|i| {
                let id = format!("bulk-{i:06}");
                let mut r = registration(
                    &id,
                    &format!("b{i:06}"),
                    T0 + Duration::seconds(i as i64),
                    None,
                );
                if i % 3 == 0 {
                    r.escrowed_private_key = Some(vec![i as u8; 64]);
                }
                r
            })
            .collect()
    }

    /// What a bulk load of `regs` must leave behind.
    pub async fn bulk_loaded(store: &dyn Store, regs: &[Registration]) {
        assert_eq!(store.count_bindings().await.unwrap(), regs.len() as u64);
        assert!(
            store.recent_audit_events(10).await.unwrap().is_empty(),
            "no audit per row"
        );
        for r in [&regs[0], &regs[regs.len() / 2], &regs[regs.len() - 1]] {
            let find =
                |s: BindingSelector| async move { store.find_bindings(&s, 10).await.unwrap() };
            let expected = vec![r.binding.clone()];
            assert_eq!(
                find(BindingSelector::Id(r.binding.id.clone())).await,
                expected
            );
            assert_eq!(
                find(BindingSelector::CertificateSerial(r.certificate.serial)).await,
                expected
            );
            assert_eq!(
                find(BindingSelector::CertificateSki(r.certificate.ski.clone())).await,
                expected
            );
            assert_eq!(
                find(BindingSelector::UseKeyWith(vec![
                    r.binding.use_key_with[1].clone()
                ]))
                .await,
                expected
            );
            assert_eq!(
                store.certificates_of(&r.binding.id).await.unwrap(),
                vec![r.certificate.clone()]
            );
            assert_eq!(
                store.escrowed_key(&r.binding.id).await.unwrap(),
                r.escrowed_private_key
            );
            let err = store
                .reserve_serials(&[r.certificate.serial], T0)
                .await
                .unwrap_err();
            assert!(duplicate(&err), "serial reserved: {err:?}");
        }
    }

    /// A store with a row in every table.
    pub async fn populate_everything(store: &dyn Store) {
        insert_auth(store, &authorization("a-1", "alice@example.org", Some(3))).await;
        insert_auth(
            store,
            &recover_authorization("r-1", "k2@example.org", Some(1)),
        )
        .await;
        register(store, &registration("k1", "01", T0, Some("a-1"))).await;
        register(store, &escrowed("k2", "02", T0 + Duration::seconds(1))).await;
        store.reserve_serials(&[sn("03")], T0).await.unwrap();
        store.reserve_serials(&[sn("04")], T0).await.unwrap();
        store
            .commit_reissue(&reissue("k1", "03", T0 + Duration::hours(1), None))
            .await
            .unwrap();
        store
            .commit_recovery(&recovery("k2", "r-1", T0 + Duration::hours(2), true))
            .await
            .unwrap();
        let mut p = pending("p-1", PendingState::Done, T0);
        p.result = Some("<RegisterResult/>".into());
        p.counters = Some((1, 0, 0));
        store
            .insert_pending(&p, &audit("request.pending", "p-1", T0))
            .await
            .unwrap();
        store
            .insert_pending(
                &pending("p-2", PendingState::Queued, T0),
                &audit("request.pending", "p-2", T0),
            )
            .await
            .unwrap();
        assert!(
            store
                .remember_once("request-id", b"r-1", T0 + Duration::days(1), T0)
                .await
                .unwrap()
        );
    }

    #[derive(Debug, PartialEq)]
    pub struct Everything {
        world: World,
        reserved: Vec<bool>,
    }

    pub async fn everything(store: &dyn Store) -> Everything {
        let mut reserved = Vec::new();
        // Reserving probes the serials table; only unreserved ones get added, so compare
        // stores with the same probe order.
        for s in ["01", "02", "03", "04"] {
            reserved.push(matches!(
                store.reserve_serials(&[sn(s)], T0).await,
                Err(StoreError::Duplicate { .. })
            ));
        }
        Everything {
            world: world(store, &["k1", "k2"], &["a-1", "r-1"]).await,
            reserved,
        }
    }

    /// After a copy: the target holds what the source held and keeps working.
    pub async fn copied(source: &dyn Store, target: &dyn Store) {
        assert_eq!(everything(target).await, everything(source).await);
        assert!(
            !target
                .remember_once("request-id", b"r-1", T0 + Duration::days(1), T0)
                .await
                .unwrap()
        );
        let before = target.recent_audit_events(1000).await.unwrap().len();
        insert_auth(target, &authorization("a-new", "new@example.org", None)).await;
        let events = target.recent_audit_events(1000).await.unwrap();
        assert_eq!(events.len(), before + 1);
        assert_eq!(
            events[0].subject, "a-new",
            "new events come after the copied ones"
        );
        assert_eq!(
            integrity::chain_holds(target).await as usize,
            before + 1,
            "the copied chain goes on"
        );
    }

    /// The integrity cases, in their own file (`include!`: a child module of `suite`
    /// that sees its fixtures).
    mod integrity {
        include!("store_suite/integrity.rs");
    }
    pub use integrity::*;

    /// The bounded-costs cases (lockouts, CRL numbers, pending counts).
    mod bounds {
        include!("store_suite/bounds.rs");
    }
    pub use bounds::*;

    /// The inventory cases (operator listing and revocation of codes).
    mod inventory {
        include!("store_suite/inventory.rs");
    }
    pub use inventory::*;
}

/// Every `&dyn Store` case of the suite; each backend runs all of them.
macro_rules! all_cases {
    ($m:ident) => {
        $m!(
            authorization_insert_and_lookup,
            authorization_max_uses,
            registration_with_expired_or_unknown_authorization,
            reserve_serial_twice_is_duplicate,
            registration_happy_path,
            record_fields_round_trip,
            find_orders_by_creation_then_id_and_limits,
            find_with_certificates_gives_each_binding_its_own,
            unreserved_serial_writes_nothing,
            duplicate_binding_id_writes_nothing,
            reused_certificate_serial_writes_nothing,
            count_bindings_counts,
            get_authorization_by_id,
            registration_requires_register_purpose,
            escrowed_key_round_trip,
            find_by_certificate_ski,
            reissue_happy_path,
            reissue_preconditions_write_nothing,
            revoke_binding_and_its_certificates,
            revoke_preconditions_write_nothing,
            revoked_certificates_empty_and_ordered,
            recovery_consumes_and_revokes,
            recovery_without_revocation_or_of_revoked_binding,
            recovery_preconditions_write_nothing,
            pending_lifecycle,
            pending_claim_order_and_list,
            remember_once_until_expiry,
            replay_marks_are_written_with_the_change,
            compromised_keys_are_found_by_fingerprint,
            holds_records_of_any_kind,
            holds_records_with_an_authorization,
            current_rows_need_no_sealing,
            pending_results_are_deleted_when_delivered_or_old,
            audit_events_are_chained,
            failures_lock_at_the_threshold,
            crl_numbers_only_grow,
            pending_counts_and_revocation_state,
            bindings_are_listed_and_searched,
            authorizations_are_listed,
            revoked_authorization_stops_authenticating,
        );
    };
}

/// Registrations for the bulk test: enough that every table needs several statements.
const BULK: usize = 2_500;

/// Bindings in the store whose query plans are checked.
const LOADED: usize = 4_000;

/// Each of the twelve hot queries has a plan, and `full_scan(line)` names no big table
/// scanned in any of them.
fn assert_no_full_scans(
    plans: &[xkms_store::QueryPlan],
    full_scan: impl Fn(&str) -> Option<String>,
) {
    let queries: Vec<&str> = plans.iter().map(|p| p.query).collect();
    assert_eq!(plans.len(), 12, "{queries:?}");
    for plan in plans {
        assert!(!plan.plan.is_empty(), "{}: no plan", plan.query);
        for line in &plan.plan {
            if let Some(table) = full_scan(line.trim()) {
                panic!("{}: scans {table}:\n{}", plan.query, plan.plan.join("\n"));
            }
        }
    }
}

mod sqlite {
    use std::sync::Arc;

    use tempfile::TempDir;
    use xkms_service::store::{KeyBindingStore, StoreError};
    use xkms_store::SqliteStore;

    use super::suite;

    /// A store on a fresh database file; the directory outlives the store.
    struct Fresh {
        store: SqliteStore,
        dir: TempDir,
    }

    async fn fresh() -> Fresh {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_path(&dir.path().join("xkms.db"))
            .await
            .unwrap();
        Fresh { store, dir }
    }

    macro_rules! cases {
        ($($case:ident),* $(,)?) => {$(
            #[tokio::test]
            async fn $case() {
                let db = fresh().await;
                suite::$case(&db.store).await;
            }
        )*};
    }

    all_cases!(cases);

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_registrations() {
        let db = fresh().await;
        suite::concurrent_registrations(Arc::new(db.store.clone())).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_claims() {
        let db = fresh().await;
        suite::concurrent_claims(Arc::new(db.store.clone())).await;
    }

    /// Two stores (two nodes) on one database file.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_audit_writers() {
        let db = fresh().await;
        let other = SqliteStore::open_path(&db.dir.path().join("xkms.db"))
            .await
            .unwrap();
        suite::concurrent_audit_writers(vec![Arc::new(db.store.clone()), Arc::new(other)]).await;
    }

    /// Two stores (two nodes) on one database file take CRL numbers at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_crl_numbers() {
        let db = fresh().await;
        let other = SqliteStore::open_path(&db.dir.path().join("xkms.db"))
            .await
            .unwrap();
        suite::concurrent_crl_numbers(vec![Arc::new(db.store.clone()), Arc::new(other)]).await;
    }

    #[tokio::test]
    async fn found_without_certificates() {
        let db = fresh().await;
        suite::register_bare(&db.store).await;
        let raw = rusqlite::Connection::open(db.dir.path().join("xkms.db")).unwrap();
        let deleted = raw
            .execute("DELETE FROM certificates WHERE binding_id = 'k-bare'", [])
            .unwrap();
        assert_eq!(deleted, 1);
        suite::found_without_certificates(&db.store).await;
    }

    #[tokio::test]
    async fn bulk_insert_registrations() {
        let db = fresh().await;
        let regs = suite::bulk_registrations(super::BULK);
        db.store.bulk_insert_registrations(&regs).await.unwrap();
        suite::bulk_loaded(&db.store, &regs).await;
        // A batch that collides writes nothing of its own transaction.
        let clash = suite::bulk_registrations(3);
        assert!(db.store.bulk_insert_registrations(&clash).await.is_err());
        assert_eq!(db.store.count_bindings().await.unwrap(), super::BULK as u64);
    }

    /// Loaded like `xkmsd admin seed` loads (bulk, then fresh statistics): every hot
    /// query looks its rows up through an index, none scans a big table.
    #[tokio::test]
    async fn hot_queries_use_indexes_on_a_loaded_store() {
        let db = fresh().await;
        let regs = suite::bulk_registrations(super::LOADED);
        db.store.bulk_insert_registrations(&regs).await.unwrap();
        db.store.refresh_statistics().await.unwrap();
        let plans = db.store.hot_query_plans().await.unwrap();
        super::assert_no_full_scans(&plans, |line| {
            // `SCAN <table or alias>`; `SCAN b` is the subquery's handful of rows, and
            // the partial index of compromised certificates holds only those (the
            // planner weighs it against the key's bindings by the statistics).
            if line.ends_with("USING COVERING INDEX certificates_compromised") {
                return None;
            }
            let scanned = line.strip_prefix("SCAN ")?;
            let table = scanned.split_whitespace().next()?;
            [
                "key_bindings",
                "kb",
                "use_key_with",
                "u",
                "certificates",
                "c",
            ]
            .contains(&table)
            .then(|| table.to_owned())
        });
        // Register's key-compromise check reads index pages only: no binding row, no
        // certificate row (with its DER) per binding of the key.
        let compromised = plans.iter().find(|p| p.query == "key compromised").unwrap();
        for line in &compromised.plan {
            assert!(
                !line.contains("SEARCH") || line.contains("COVERING INDEX"),
                "key compromised reads table rows:\n{}",
                compromised.plan.join("\n")
            );
        }
    }

    #[tokio::test]
    async fn copy_sqlite_to_sqlite() {
        let source = fresh().await;
        suite::populate_everything(&source.store).await;
        let from = format!("sqlite://{}", source.dir.path().join("xkms.db").display());
        let target_dir = tempfile::tempdir().unwrap();
        let to = format!("sqlite://{}", target_dir.path().join("copy.db").display());

        let mut seen = Vec::new();
        let report = xkms_store::copy_store(&from, &to, &mut |table, done, total| {
            seen.push((table.to_owned(), done, total));
        })
        .await
        .unwrap();
        assert!(report.total_rows() > 20, "{report:?}");
        for t in &report.tables {
            assert!(
                seen.contains(&(t.table.to_owned(), t.rows, t.rows)),
                "final progress of {}: {seen:?}",
                t.table
            );
        }
        let target = SqliteStore::connect(&to).await.unwrap();
        suite::copied(&source.store, &target).await;

        let again = xkms_store::copy_store(&from, &to, &mut |_, _, _| {}).await;
        assert!(
            matches!(again, Err(StoreError::Conflict { .. })),
            "non-empty target: {again:?}"
        );
    }

    #[tokio::test]
    async fn open_store_by_url() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("opened.db").display());
        let store = xkms_store::open_store(&url).await.unwrap();
        suite::populate(store.as_ref()).await;
        assert_eq!(suite::snapshot(store.as_ref()).await.0.len(), 1);
        assert!(xkms_store::open_store("mysql://localhost/x").await.is_err());
    }

    #[tokio::test]
    async fn reopening_the_file_keeps_the_data() {
        let db = fresh().await;
        suite::populate(&db.store).await;
        let before = suite::snapshot(&db.store).await;
        assert_eq!(before.0.len(), 1);
        db.store.close().await;

        let path = db.dir.path().join("xkms.db");
        let url = format!("sqlite://{}", path.display());
        let reopened = SqliteStore::connect(&url).await.unwrap();
        assert_eq!(suite::snapshot(&reopened).await, before);
        // Migrations ran once: a reserved serial is still a duplicate.
        let err = reopened
            .reserve_serials(&[suite::sn("01")], suite::T0)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Duplicate { what: "serial" }),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn connect_creates_a_missing_file_in_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        let store = SqliteStore::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        suite::populate(&store).await;
        assert!(path.exists());
        assert!(dir.path().join("new.db-wal").exists(), "WAL journal in use");
    }

    #[tokio::test]
    async fn in_memory_store_works() {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        suite::populate(&store).await;
        assert_eq!(suite::snapshot(&store).await.0.len(), 1);
    }
}

/// The same suite on PostgreSQL, each case in its own fresh schema. The cases are ignored
/// unless asked for (`--include-ignored`, which `scripts/test` passes when PostgreSQL is
/// reachable), so a run without PostgreSQL shows them as ignored; asked for,
/// `XKMS_TEST_POSTGRES` must name a database (e.g. `postgres://postgres@127.0.0.1:5432/test`).
mod postgres {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use sqlx::Connection;
    use xkms_service::store::{KeyBindingStore, StoreError};
    use xkms_store::PgStore;

    use super::suite;

    const ENV: &str = "XKMS_TEST_POSTGRES";

    /// The database URL; these cases only run when asked for, so it must be set.
    fn database() -> String {
        std::env::var(ENV)
            .ok()
            .filter(|url| !url.is_empty())
            .unwrap_or_else(|| {
                panic!("{ENV} must name a PostgreSQL database (scripts/test sets it)")
            })
    }

    fn schema_name(case: &str) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let short: String = case.chars().take(32).collect();
        format!(
            "xkms_t_{short}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        )
    }

    fn url_in_schema(url: &str, schema: &str) -> String {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}options[search_path]={schema}")
    }

    async fn drop_schema(url: &str, schema: &str) {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
        )))
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
    }

    /// Drops the test schema when the case ends, also when it panics.
    struct DropSchema {
        url: String,
        schema: String,
    }

    impl Drop for DropSchema {
        fn drop(&mut self) {
            let (url, schema) = (self.url.clone(), self.schema.clone());
            // Drop runs inside the test's runtime, which cannot block on a future.
            let dropped = std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(drop_schema(&url, &schema));
            })
            .join();
            if dropped.is_err() && !std::thread::panicking() {
                panic!("could not drop test schema {}", self.schema);
            }
        }
    }

    /// A store in a fresh schema, a URL that opens the same schema, and the guard that
    /// drops it.
    async fn fresh(case: &str) -> (Arc<PgStore>, String, DropSchema) {
        let url = database();
        let schema = schema_name(case);
        let guard = DropSchema {
            url: url.clone(),
            schema: schema.clone(),
        };
        let store = Arc::new(PgStore::connect_with_schema(&url, &schema).await.unwrap());
        (store, url_in_schema(&url, &schema), guard)
    }

    macro_rules! cases {
        ($($case:ident),* $(,)?) => {$(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = "needs PostgreSQL (scripts/test runs it when reachable)"]
            async fn $case() {
                let (store, _url, _schema) = fresh(stringify!($case)).await;
                suite::$case(store.as_ref()).await;
            }
        )*};
    }

    all_cases!(cases);

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    #[ignore = "needs PostgreSQL (scripts/test runs it when reachable)"]
    async fn concurrent_registrations() {
        let (store, _url, _schema) = fresh("concurrent_registrations").await;
        suite::concurrent_registrations(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    #[ignore = "needs PostgreSQL (scripts/test runs it when reachable)"]
    async fn concurrent_claims() {
        let (store, _url, _schema) = fresh("concurrent_claims").await;
        suite::concurrent_claims(store).await;
    }

    /// Two nodes (two connection pools) append audit events at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    #[ignore = "needs PostgreSQL (scripts/test runs it when reachable)"]
    async fn concurrent_audit_writers() {
        let (store, url, _schema) = fresh("concurrent_audit_writers").await;
        let other = Arc::new(PgStore::connect(&url).await.unwrap());
        suite::concurrent_audit_writers(vec![store, other]).await;
    }

    /// Two nodes (two connection pools) take CRL numbers at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    #[ignore = "needs PostgreSQL (scripts/test runs it when reachable)"]
    async fn concurrent_crl_numbers() {
        let (store, url, _schema) = fresh("concurrent_crl_numbers").await;
        let other = Arc::new(PgStore::connect(&url).await.unwrap());
        suite::concurrent_crl_numbers(vec![store, other]).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL (scripts/test runs it when reachable)"]
    async fn found_without_certificates() {
        let (store, url, _schema) = fresh("found_without_certificates").await;
        suite::register_bare(store.as_ref()).await;
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        let deleted = sqlx::query("DELETE FROM certificates WHERE binding_id = 'k-bare'")
            .execute(&mut conn)
            .await
            .unwrap();
        assert_eq!(deleted.rows_affected(), 1);
        conn.close().await.unwrap();
        suite::found_without_certificates(store.as_ref()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL (scripts/test runs it when reachable)"]
    async fn bulk_insert_registrations() {
        let (store, _url, _schema) = fresh("bulk_insert_registrations").await;
        {
            let regs = suite::bulk_registrations(super::BULK);
            store.bulk_insert_registrations(&regs).await.unwrap();
            suite::bulk_loaded(store.as_ref(), &regs).await;
            let clash = suite::bulk_registrations(3);
            assert!(store.bulk_insert_registrations(&clash).await.is_err());
            assert_eq!(store.count_bindings().await.unwrap(), super::BULK as u64);
        }
    }

    /// As on SQLite: after a bulk load and `refresh_statistics`, no hot query plans a
    /// sequential scan of a big table (without statistics PostgreSQL joined
    /// `use_key_with` by a sequential scan).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL (scripts/test runs it when reachable)"]
    async fn hot_queries_use_indexes_on_a_loaded_store() {
        let (store, _url, _schema) = fresh("hot_queries_use_indexes").await;
        let regs = suite::bulk_registrations(super::LOADED);
        store.bulk_insert_registrations(&regs).await.unwrap();
        store.refresh_statistics().await.unwrap();
        let plans = store.hot_query_plans().await.unwrap();
        super::assert_no_full_scans(&plans, |line| {
            // `->  Seq Scan on use_key_with u  (cost=…)`
            let scanned = line.split("Seq Scan on ").nth(1)?;
            let table = scanned.split_whitespace().next()?;
            ["key_bindings", "use_key_with", "certificates"]
                .contains(&table)
                .then(|| table.to_owned())
        });
    }

    /// Several nodes start on an empty schema at once: the advisory lock lets exactly
    /// one migrate, the others find the schema current.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    #[ignore = "needs PostgreSQL (scripts/test runs it when reachable)"]
    async fn nodes_starting_at_once_migrate_once() {
        let (_store, url, _schema) = fresh("nodes_starting_at_once").await;
        {
            // connect_with_schema already migrated this schema; use a second, empty one.
            let empty = schema_name("nodes_empty");
            let base = url.split('?').next().unwrap().to_owned();
            let mut conn = sqlx::PgConnection::connect(&base).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{empty}\"")))
                .execute(&mut conn)
                .await
                .unwrap();
            let node_url = url_in_schema(&base, &empty);
            let nodes: Vec<_> = (0..4)
                .map(|_| {
                    let node_url = node_url.clone();
                    tokio::spawn(async move { PgStore::connect(&node_url).await })
                })
                .collect();
            let mut stores = Vec::new();
            for node in nodes {
                stores.push(node.await.unwrap().unwrap());
            }
            suite::populate(&stores[0]).await;
            assert_eq!(stores[3].count_bindings().await.unwrap(), 1, "one database");
            let versions: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM \"{empty}\".schema_migrations"
            )))
            .fetch_one(&mut conn)
            .await
            .unwrap();
            assert_eq!(
                usize::try_from(versions).unwrap(),
                xkms_store::postgres::MIGRATION_COUNT,
                "every migration applied once"
            );
            for store in &stores {
                store.close().await;
            }
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA \"{empty}\" CASCADE"
            )))
            .execute(&mut conn)
            .await
            .unwrap();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL (scripts/test runs it when reachable)"]
    async fn copy_sqlite_to_postgres() {
        let (target, to, _schema) = fresh("copy_sqlite_to_postgres").await;
        {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("source.db");
            let source = xkms_store::SqliteStore::open_path(&path).await.unwrap();
            suite::populate_everything(&source).await;
            let from = format!("sqlite://{}", path.display());
            let mut batches = 0;
            let report = xkms_store::copy_store(&from, &to, &mut |_, _, _| batches += 1)
                .await
                .unwrap();
            assert!(report.total_rows() > 20 && batches >= report.tables.len());
            suite::copied(&source, target.as_ref()).await;
            let again = xkms_store::copy_store(&from, &to, &mut |_, _, _| {}).await;
            assert!(
                matches!(again, Err(StoreError::Conflict { .. })),
                "{again:?}"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL (scripts/test runs it when reachable)"]
    async fn open_store_by_url() {
        let (_store, url, _schema) = fresh("open_store_by_url").await;
        {
            let store = xkms_store::open_store(&url).await.unwrap();
            suite::populate(store.as_ref()).await;
            assert_eq!(suite::snapshot(store.as_ref()).await.0.len(), 1);
            let alias = url.replacen("postgres://", "postgresql://", 1);
            let again = xkms_store::open_store(&alias).await.unwrap();
            assert_eq!(again.count_bindings().await.unwrap(), 1);
        }
    }
}
