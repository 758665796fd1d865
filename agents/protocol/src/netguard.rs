//! Fetching URLs that someone else chose (a buyer's spec and inputs, a claimant's evidence) without
//! letting them point this process at the machine it runs on or its private network: only public
//! unicast addresses are connected to (unless the operator allows private ones, for a devnet), for
//! address literals, for names (checked after resolution, so a name cannot resolve to 127.0.0.1)
//! and for every redirect hop.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Why a URL is refused before anything is fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefused {
    #[error("the URL is invalid: {0}")]
    Invalid(String),
    #[error("the URL's scheme {0} is not http(s)")]
    Scheme(String),
    #[error("the URL has no host")]
    NoHost,
    #[error("the URL names a non-public address ({0})")]
    NonPublic(IpAddr),
}

impl UrlRefused {
    /// Machine-readable reason.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(_) | Self::Scheme(_) | Self::NoHost => "url_invalid",
            Self::NonPublic(_) => "url_not_public",
        }
    }
}

/// Whether `url` may be fetched: http or https, and unless `allow_private`, not an address literal
/// of a private, loopback, link-local or otherwise non-public range. A name passes here; the
/// resolver of [`guarded_client`] drops its non-public addresses.
pub fn check_url(url: &reqwest::Url, allow_private: bool) -> Result<(), UrlRefused> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UrlRefused::Scheme(url.scheme().to_owned()));
    }
    let host = url.host_str().ok_or(UrlRefused::NoHost)?;
    let Ok(ip) = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    else {
        return Ok(()); // a name: resolved to public addresses only, see guarded_client
    };
    if allow_private || is_public(ip) {
        Ok(())
    } else {
        Err(UrlRefused::NonPublic(ip))
    }
}

/// [`check_url`] on a URL string.
pub fn check_url_str(url: &str, allow_private: bool) -> Result<(), UrlRefused> {
    let parsed = reqwest::Url::parse(url).map_err(|e| UrlRefused::Invalid(e.to_string()))?;
    check_url(&parsed, allow_private)
}

/// A client builder for URLs others chose: no proxy from the environment, every redirect hop
/// checked with [`check_url`] (at most 5), and unless `allow_private`, names resolved to public
/// addresses only.
pub fn guarded_client(allow_private: bool, connect_timeout: Duration) -> reqwest::ClientBuilder {
    let redirects = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= 5 {
            attempt.error("too many redirects")
        } else if let Err(e) = check_url(attempt.url(), allow_private) {
            attempt.error(e)
        } else {
            attempt.follow()
        }
    });
    let builder = reqwest::Client::builder()
        .redirect(redirects)
        .no_proxy()
        .connect_timeout(connect_timeout);
    if allow_private {
        builder
    } else {
        builder.dns_resolver(Arc::new(PublicOnly))
    }
}

/// Resolves names to their public addresses only.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Whether `ip` is a public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // shared (carrier-grade NAT)
                || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
                || (a == 198 && (18..20).contains(&b)) // benchmarking
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link local
                || first == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_link_local_and_metadata_addresses_are_refused() {
        for url in [
            "http://127.0.0.1:8940/v1/blobs/x",
            "http://10.1.2.3/",
            "http://172.17.0.1/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/",
            "http://[fe80::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
            "http://100.64.0.1/",
        ] {
            let e = check_url_str(url, false).unwrap_err();
            assert_eq!(e.code(), "url_not_public", "{url}");
            assert!(check_url_str(url, true).is_ok(), "{url}");
        }
        assert!(check_url_str("http://93.184.216.34/x", false).is_ok());
        assert!(check_url_str("https://example.com/x", false).is_ok());
        assert_eq!(
            check_url_str("file:///etc/passwd", true)
                .unwrap_err()
                .code(),
            "url_invalid"
        );
        assert_eq!(
            check_url_str("nonsense", true).unwrap_err().code(),
            "url_invalid"
        );
    }
}
