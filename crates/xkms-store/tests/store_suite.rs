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
        AuditEvent, Authorization, BindingSelector, BindingStatus, CertificateRecord,
        DerivedSecrets, KeyBindingRecord, Purpose, Registration, Store, StoreError,
        StoredUseKeyWith,
    };

    pub const T0: OffsetDateTime = datetime!(2025-03-01 12:00 UTC);

    const MAIL: &str = "urn:ietf:rfc:2633";
    const TLS: &str = "urn:ietf:rfc:2246";
    const SIGNATURE: &str = "http://www.w3.org/2002/03/xkms#Signature";
    const ENCRYPTION: &str = "http://www.w3.org/2002/03/xkms#Encryption";

    // ---- fixtures ------------------------------------------------------------------

    pub fn authorization(id: &str, identity: &str, max_uses: Option<u32>) -> Authorization {
        let tag = id.as_bytes()[0];
        Authorization {
            id: id.into(),
            identity: identity.into(),
            purpose: Purpose::Register,
            secrets: DerivedSecrets {
                auth_key_saslprep: vec![tag; 20],
                auth_key_legacy: vec![tag ^ 1; 20],
                kek_saslprep: vec![tag ^ 2; 32],
                kek_legacy: vec![tag ^ 3; 32],
            },
            created_at: T0,
            expires_at: T0 + Duration::days(7),
            max_uses,
            uses: 0,
        }
    }

    fn pair(application: &str, identifier: &str) -> StoredUseKeyWith {
        StoredUseKeyWith {
            application: application.into(),
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
            key_usage: vec![SIGNATURE.into(), ENCRYPTION.into()],
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
            serial: serial.into(),
            binding_id: binding_id.into(),
            der: vec![0x30, 0x82, 0x01, 0x00, serial.len() as u8],
            not_before: issued_at - Duration::minutes(5),
            not_after: issued_at + Duration::days(365),
            issued_at,
            revoked_at: None,
            revocation_reason: None,
        }
    }

    pub fn audit(kind: &str, subject: &str, at: OffsetDateTime) -> AuditEvent {
        AuditEvent {
            at,
            kind: kind.into(),
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
            audit("key.registered", id, at),
            audit("certificate.issued", serial, at),
        ];
        if let Some(a) = authorization_id {
            audit_events.push(audit("authorization.used", a, at));
        }
        Registration {
            binding,
            certificate: certificate(serial, id, at),
            authorization_id: authorization_id.map(str::to_owned),
            audit: audit_events,
        }
    }

    async fn register(store: &dyn Store, r: &Registration) {
        store
            .reserve_serial(&r.certificate.serial, r.binding.created_at)
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
            by_serial: find(BindingSelector::CertificateSerial(
                r.certificate.serial.clone(),
            ))
            .await,
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
        store.reserve_serial("03", T0).await.unwrap();
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
        store.reserve_serial("01", T0).await.unwrap();

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
        store.reserve_serial("0a1b", T0).await.unwrap();
        store.reserve_serial("0a1c", T0).await.unwrap();
        let err = store
            .reserve_serial("0a1b", T0 + Duration::hours(1))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Duplicate { what: "serial" }),
            "{err:?}"
        );
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
        r.binding.key_usage = vec![SIGNATURE.into()];
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
            find(BindingSelector::CertificateSerial(
                r.certificate.serial.clone()
            ))
            .await,
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
            find(BindingSelector::CertificateSerial("99".into()))
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
        assert_eq!(written.remove(0).kind, "authorization.created");
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
        store.reserve_serial("02", T0).await.unwrap();
        commit_fails(store, &again, duplicate).await;
        assert_eq!(store.count_bindings().await.unwrap(), 1);
        assert!(
            store
                .certificates_of("k1")
                .await
                .unwrap()
                .iter()
                .all(|c| c.serial == "01")
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
                .find_bindings(&BindingSelector::CertificateSerial("01".into()), 10)
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
            let serial = format!("{i:02x}");
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
                    .reserve_serial(&free.certificate.serial, T0)
                    .await
                    .unwrap();
                store
                    .reserve_serial(&auth.certificate.serial, T0)
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

    cases!(
        authorization_insert_and_lookup,
        authorization_max_uses,
        registration_with_expired_or_unknown_authorization,
        reserve_serial_twice_is_duplicate,
        registration_happy_path,
        record_fields_round_trip,
        find_orders_by_creation_then_id_and_limits,
        unreserved_serial_writes_nothing,
        duplicate_binding_id_writes_nothing,
        reused_certificate_serial_writes_nothing,
        count_bindings_counts,
    );

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_registrations() {
        let db = fresh().await;
        suite::concurrent_registrations(Arc::new(db.store.clone())).await;
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
        let err = reopened.reserve_serial("01", suite::T0).await.unwrap_err();
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
