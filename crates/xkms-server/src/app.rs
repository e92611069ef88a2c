//! Start-up: open the store, load or create the CA, build the service.

use crate::config::Config;
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use time::Duration;
use xkms_ca::{Ca, CaParams};
use xkms_service::{Policy, ServiceConfig, SystemClock, XkmsService};
use xkms_store::SqliteStore;

/// Opens everything `config` names; `bound` is the address the server listens on (it
/// decides the default Service URI).
pub async fn build_service(config: &Config, bound: SocketAddr) -> anyhow::Result<XkmsService> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let ca = open_ca(config)?;
    let url = config.database_url();
    let store = SqliteStore::connect(&url)
        .await
        .with_context(|| format!("opening database {url}"))?;
    let service_config = ServiceConfig {
        service_uri: config.service_uri(bound),
        policy: Policy {
            certificate_validity: Duration::days(config.policy.certificate_validity_days),
            authorization_lifetime: Duration::days(config.policy.authorization_lifetime_days),
            min_rsa_bits: config.policy.min_rsa_bits,
        },
    };
    Ok(XkmsService::new(
        Arc::new(store),
        Arc::new(ca),
        Arc::new(SystemClock),
        service_config,
    ))
}

/// Loads the CA from the data directory, creating it on first start.
pub fn open_ca(config: &Config) -> anyhow::Result<Ca> {
    let params = CaParams {
        key_type: config.ca_key_type()?,
        common_name: config.ca.common_name.clone(),
        validity: Duration::days(config.ca.validity_days),
        ..CaParams::default()
    };
    let (ca, created) =
        Ca::load_or_create(&config.data_dir, &params, time::OffsetDateTime::now_utc())
            .with_context(|| format!("loading the CA from {}", config.data_dir.display()))?;
    if created {
        tracing::info!(dir = %config.data_dir.display(), subject = %ca.subject(), "created a new CA");
    }
    Ok(ca)
}
