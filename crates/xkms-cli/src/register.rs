//! `xkms register`.

use crate::args::WaitArgs;
use crate::args::{SecretArgs, parse_key_usage, parse_respond_with, parse_use_key_with, required};
use crate::explain::Operation;
use crate::files::{read_key, write_certificate, write_private};
use crate::output::outln;
use crate::pending::wait_and_fetch;
use crate::report;
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use xkms_client::{ClientKey, RegisterParams, Registered, XkmsClient};
use xkms_proto::{
    KeyUsage, RegisterResult, RespondWith, ResponseMechanism, ResultMajor, ResultMessage,
    UseKeyWith,
};
use xkms_xmlsec::kdf::SharedSecret;

#[derive(Debug, Args)]
#[command(mut_group("secret_source", required))]
pub struct RegisterArgs {
    /// KeyName to bind (e.g. joe@example.com).
    #[arg(long)]
    key_name: Option<String>,
    /// APPLICATION=IDENTIFIER, e.g. urn:ietf:rfc:2633=joe@example.com (repeatable).
    #[arg(long = "use-key-with", value_name = "APP=ID", value_parser = parse_use_key_with)]
    use_key_with: Vec<UseKeyWith>,
    /// Key usages: Signature, Encryption, Exchange (comma separated).
    #[arg(long, value_delimiter = ',', value_parser = parse_key_usage)]
    key_usage: Vec<KeyUsage>,
    /// What the result should contain: KeyName, KeyValue, X509Cert, X509Chain, … (comma separated).
    #[arg(long, value_delimiter = ',', value_parser = parse_respond_with, default_value = "X509Cert")]
    respond_with: Vec<RespondWith>,
    #[command(flatten)]
    secret: SecretArgs,
    /// Pass phrase to revoke the binding later.
    #[arg(long)]
    revocation_phrase: Option<String>,
    /// PEM or DER RSA private key; a new RSA key is generated and written here (mode 0600)
    /// if the file does not exist. With --generate-key: where the service-generated key is
    /// written.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// Ask the service to generate the key pair (it returns the private key encrypted
    /// under the authorization code; it is decrypted and written to --key).
    #[arg(long)]
    generate_key: bool,
    /// Size of a key generated here (2048, 3072 or 4096).
    #[arg(long, default_value_t = 2048)]
    key_bits: usize,
    /// Write the issued certificate (PEM) here.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Accept asynchronous processing (ResponseMechanism Pending); on Pending, print the
    /// response Id and the `xkms pending` commands that finish the request (exit 3).
    #[arg(long)]
    pending: bool,
    /// Accept asynchronous processing and wait until the result is ready (polling its
    /// status; under an approval policy until the operator decides).
    #[arg(long, conflicts_with = "pending")]
    wait: bool,
    #[command(flatten)]
    polling: WaitArgs,
}

pub async fn run(client: &XkmsClient, args: RegisterArgs) -> anyhow::Result<ExitCode> {
    if args.generate_key && args.key.exists() {
        anyhow::bail!(
            "{} exists: --generate-key will not overwrite a key file",
            args.key.display()
        );
    }
    let (secret, preparation) = args.secret.read()?;
    let key = if args.generate_key {
        None
    } else {
        Some(load_or_generate(&args.key, args.key_bits)?)
    };
    let phrase = args.revocation_phrase.clone().map(SharedSecret::new);
    let params = RegisterParams {
        key: key.as_ref(),
        key_name: args.key_name.clone(),
        use_key_with: args.use_key_with.clone(),
        key_usage: args.key_usage.clone(),
        respond_with: args.respond_with.clone(),
        response_mechanism: if args.pending || args.wait {
            vec![ResponseMechanism::Pending]
        } else {
            vec![]
        },
        secret: &secret,
        preparation,
        revocation_phrase: phrase.as_ref(),
    };
    let mut registered = client.register(&params).await?;
    let pending = registered.result.result.result_major == ResultMajor::Pending;
    let response_id = registered.result.result.message.id.clone();
    if pending && args.wait {
        outln!("request accepted for asynchronous processing (response id {response_id})");
        match wait_and_fetch(
            client,
            &response_id,
            Some(&registered.request_id),
            &args.polling,
        )
        .await?
        {
            ResultMessage::Register(result) => registered.result = result,
            ResultMessage::Result(header) => {
                registered.result = RegisterResult {
                    result: header,
                    ..Default::default()
                }
            }
            ResultMessage::Status(status) => {
                // Still pending after the last poll, or the status request failed.
                report::result_line(Operation::Status, &status.result);
                if status.result.result_major == ResultMajor::Pending {
                    let fetch = fetch_args(args.out.as_deref(), args.generate_key, &args.key);
                    report::next_commands(&response_id, Some(&registered.request_id), &fetch);
                }
                return Ok(report::exit_code(&status.result));
            }
            other => anyhow::bail!("expected RegisterResult, got {}", other.element()),
        }
    }
    // Files first, output after: a closed stdout must not lose them.
    let written = write_results(&registered, &args, &secret, preparation)?;
    let header = &registered.result.result;
    report::result_line(Operation::Register, header);
    for binding in &registered.result.key_bindings {
        report::key_binding(binding);
    }
    for line in written {
        outln!("{line}");
    }
    if header.result_major == ResultMajor::Pending {
        let fetch = fetch_args(args.out.as_deref(), args.generate_key, &args.key);
        report::next_commands(&response_id, Some(&registered.request_id), &fetch);
    }
    Ok(report::exit_code(header))
}

/// Writes the service-generated key and the certificate; the lines that say so.
fn write_results(
    registered: &Registered,
    args: &RegisterArgs,
    secret: &SharedSecret,
    preparation: xkms_xmlsec::kdf::SecretPreparation,
) -> anyhow::Result<Vec<String>> {
    let mut written = Vec::new();
    if args.generate_key && registered.result.private_key.is_some() {
        let key = registered.private_key(secret, preparation)?;
        write_private(&args.key, key.to_pem().as_bytes())?;
        written.push(format!(
            "service-generated RSA-{} private key written to {}",
            key.bits(),
            args.key.display()
        ));
    }
    if let (Some(out), Some(cert)) = (&args.out, registered.certificate()) {
        write_certificate(out, cert)?;
        written.push(format!("certificate written to {}", out.display()));
    }
    Ok(written)
}

/// The output arguments of `xkms pending fetch` that match this registration.
fn fetch_args(out: Option<&Path>, generate_key: bool, key: &Path) -> String {
    let mut args = String::new();
    if let Some(out) = out {
        args.push_str(&format!(" --out {}", out.display()));
    }
    if generate_key {
        args.push_str(&format!(" --key-out {} --secret-file FILE", key.display()));
    }
    args
}

fn load_or_generate(path: &Path, bits: usize) -> anyhow::Result<ClientKey> {
    if path.exists() {
        return read_key(path);
    }
    let key = ClientKey::generate(bits)?;
    write_private(path, key.to_pem().as_bytes())?;
    outln!("generated RSA-{bits} key in {}", path.display());
    Ok(key)
}
