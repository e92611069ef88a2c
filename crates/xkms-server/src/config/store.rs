//! `[database]`: where the store lives.

use super::Config;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://…` URL; default: `xkms.db` in the data directory.
    pub url: Option<String>,
}

impl Config {
    /// The database URL: configured, or the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("xkms.db").display()),
        }
    }
}
