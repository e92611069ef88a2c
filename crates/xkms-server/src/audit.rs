//! `xkmsd admin audit`: prints the hash-chained audit trail and checks the chain.

use anyhow::bail;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use xkms_service::XkmsService;
use xkms_service::audit::ChainVerdict;

/// Events read per page.
const PAGE: usize = 1_000;

/// Prints every chained event at or after `since` (one line each: position, time, kind,
/// subject, request id, detail); with `verify`, walks the whole chain and fails if a
/// link does not hold.
pub async fn print_and_verify(
    service: &XkmsService,
    since: Option<OffsetDateTime>,
    verify: bool,
) -> anyhow::Result<()> {
    let mut after = 0;
    loop {
        let page = service.audit_page(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for link in page {
            let e = &link.event;
            if since.is_some_and(|t| e.at < t) {
                continue;
            }
            println!(
                "{:>7}  {}  {:<24} {}  request={}  {}",
                link.seq,
                e.at.format(&Rfc3339).unwrap_or_else(|_| e.at.to_string()),
                e.kind,
                e.subject,
                e.request_id.as_deref().unwrap_or("-"),
                e.detail
            );
        }
    }
    if !verify {
        return Ok(());
    }
    match service.verify_audit_chain().await? {
        ChainVerdict::Intact {
            events,
            head,
            unchained,
        } => {
            println!(
                "audit chain OK: {events} events, head {} {}",
                head.seq,
                hex(&head.hash)
            );
            if unchained > 0 {
                println!(
                    "{unchained} events written before the chain existed are not covered by it"
                );
            }
            Ok(())
        }
        ChainVerdict::Broken { seq, reason } => {
            bail!("audit chain broken at event {seq}: {reason}")
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
