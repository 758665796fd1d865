//! The provider's lease page (`GET /leases`): every lease it holds or held, newest first, with
//! its buyer, size, state and money. Buyers' addresses are public anyway: they sign the tickets
//! the provider redeems.

use std::fmt::Write;

use alloy::primitives::U256;

use crate::proto::LeaseView;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Token wei as FLOW with six decimals.
fn flow(wei: U256) -> String {
    let micro = wei / U256::from(1_000_000_000_000u64);
    let micro: u128 = micro.try_into().unwrap_or(u128::MAX);
    format!("{}.{:06}", micro / 1_000_000, micro % 1_000_000)
}

/// The page for `leases`.
pub fn render(leases: &[LeaseView]) -> String {
    let mut rows = String::new();
    for l in leases {
        let t = &l.terms;
        let _ = write!(
            rows,
            "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}{}</td><td>{} mCPU, {} MB</td>\
             <td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&l.id),
            t.buyer,
            l.state.as_str(),
            l.reason
                .as_deref()
                .map(|r| format!(" ({})", escape(r)))
                .unwrap_or_default(),
            t.milli_cpus,
            t.memory_mb,
            escape(t.image.get(..19).unwrap_or(&t.image)),
            l.intervals,
            flow(l.charged),
            flow(l.paid),
            flow(l.unpaid()),
        );
    }
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>peerflow provider: leases</title>\
         <style>body{{font-family:sans-serif}}td,th{{padding:2px 8px;text-align:left}}</style></head>\
         <body><h1>Leases</h1><p>{} leases, {} open.</p><table><tr><th>lease</th><th>buyer</th>\
         <th>state</th><th>size</th><th>image</th><th>intervals</th><th>charged (FLOW)</th>\
         <th>paid</th><th>unpaid</th></tr>{rows}</table></body></html>",
        leases.len(),
        leases
            .iter()
            .filter(|l| l.state != crate::proto::LeaseState::Closed)
            .count()
    )
}
