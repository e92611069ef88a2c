//! `[ca]`: the CA key's type and lifetime, a key file (optionally encrypted) or a key
//! in a PKCS#11 token.

use super::{Config, ConfigError};
use serde::Deserialize;
use std::path::PathBuf;
use xkms_ca::CaKeyType;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaConfig {
    /// `rsa2048`, `rsa3072`, `rsa4096`, `ecdsa-p256`, `ecdsa-p384`.
    pub key_type: String,
    pub common_name: String,
    pub validity_days: i64,
    /// File whose first line is the passphrase the CA key file (`ca-key.pem`) is
    /// encrypted under (PKCS#8 PBES2); a new key is written encrypted.
    pub key_passphrase_file: Option<PathBuf>,
    /// PKCS#11 module (shared library) of the token holding the CA key; with it the key
    /// is generated in and used from the token, never written to a file.
    pub pkcs11_module: Option<PathBuf>,
    /// Label of the token (required with `pkcs11_module`).
    pub pkcs11_token_label: Option<String>,
    /// File whose first line is the token's user PIN (required with `pkcs11_module`).
    pub pkcs11_pin_file: Option<PathBuf>,
    /// Label of the CA key pair in the token (default "xkms-ca").
    pub pkcs11_key_label: Option<String>,
}

impl Default for CaConfig {
    fn default() -> Self {
        CaConfig {
            key_type: "rsa3072".into(),
            common_name: "XKMS Demo CA".into(),
            validity_days: 3650,
            key_passphrase_file: None,
            pkcs11_module: None,
            pkcs11_token_label: None,
            pkcs11_pin_file: None,
            pkcs11_key_label: None,
        }
    }
}

impl Config {
    /// `[ca]`: a token needs its label and PIN file; a file key's passphrase makes no
    /// sense with a token.
    pub(super) fn check_ca_key(&self) -> Result<(), ConfigError> {
        let ca = &self.ca;
        if ca.pkcs11_module.is_none() {
            for (name, set) in [
                ("ca.pkcs11_token_label", ca.pkcs11_token_label.is_some()),
                ("ca.pkcs11_pin_file", ca.pkcs11_pin_file.is_some()),
                ("ca.pkcs11_key_label", ca.pkcs11_key_label.is_some()),
            ] {
                if set {
                    return Err(ConfigError::Invalid {
                        name,
                        message: "only with ca.pkcs11_module".into(),
                    });
                }
            }
            return Ok(());
        }
        if ca.key_passphrase_file.is_some() {
            return Err(ConfigError::Invalid {
                name: "ca.key_passphrase_file",
                message: "the CA key is in the PKCS#11 token (ca.pkcs11_module): there is no \
                          key file to encrypt"
                    .into(),
            });
        }
        for (name, missing) in [
            ("ca.pkcs11_token_label", ca.pkcs11_token_label.is_none()),
            ("ca.pkcs11_pin_file", ca.pkcs11_pin_file.is_none()),
        ] {
            if missing {
                return Err(ConfigError::Invalid {
                    name,
                    message: "required with ca.pkcs11_module".into(),
                });
            }
        }
        if ca.pkcs11_key_label.as_deref() == Some("") {
            return Err(ConfigError::Invalid {
                name: "ca.pkcs11_key_label",
                message: "must not be empty".into(),
            });
        }
        Ok(())
    }

    /// The label of the CA key pair in the token.
    pub fn pkcs11_key_label(&self) -> &str {
        self.ca.pkcs11_key_label.as_deref().unwrap_or("xkms-ca")
    }

    pub fn ca_key_type(&self) -> Result<CaKeyType, ConfigError> {
        self.ca.key_type.parse().map_err(|_| ConfigError::Invalid {
            name: "ca.key_type",
            message: "one of rsa2048, rsa3072, rsa4096, ecdsa-p256, ecdsa-p384".into(),
        })
    }
}
