//! The viewer's side (`peerflow watch`): reads the offer, authorizes a fresh hot key with one
//! grant signed by the viewer's key, fetches the stream's segments with its session, and pays each
//! ticket the session offers once a whole ticket's worth of video is due, after checking it.

use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use bytes::Bytes;
use peerflow_broadcaster::VIEWER_HEADER;
use peerflow_protocol::TicketDomain;
use peerflow_protocol::signature::{Signature, address_of_secret};
use serde::de::DeserializeOwned;

use crate::grant::SignerGrant;
use crate::proto::{Offer, OpenSession, SessionView, TicketPayment, TicketToSign};

#[derive(Debug, thiserror::Error)]
pub enum ViewerError {
    #[error("{0}")]
    Url(String),
    #[error("reaching the broadcaster: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the broadcaster refused ({status} {code}): {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the stream costs {asked} wei per minute, more than the {max} you allow")]
    TooExpensive { asked: U256, max: U256 },
    #[error("the broadcaster offers a ticket we will not sign: {0}")]
    BadTicket(String),
    #[error("signing: {0}")]
    Signature(#[from] peerflow_protocol::SignatureError),
    #[error("playlist: {0}")]
    Playlist(String),
}

impl ViewerError {
    /// The broadcaster's error code, for a refusal.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Refused { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// `http://host/live/{stream}/index.m3u8`, `http://host/live/{stream}` or `http://host/watch/{stream}`:
/// the broadcaster's base URL and the stream.
pub fn parse_watch_url(url: &str) -> Result<(String, String), ViewerError> {
    let bad = || {
        ViewerError::Url(format!(
            "{url:?} is not a stream URL: give http://HOST/live/STREAM/index.m3u8 or http://HOST/watch/STREAM"
        ))
    };
    let scheme_end = url.find("://").ok_or_else(bad)? + 3;
    let path_start = url[scheme_end..].find('/').ok_or_else(bad)? + scheme_end;
    let base = url[..path_start].to_owned();
    let mut parts = url[path_start + 1..].split('/');
    let (Some(kind), Some(stream)) = (parts.next(), parts.next()) else {
        return Err(bad());
    };
    if !matches!(kind, "live" | "watch") || stream.is_empty() {
        return Err(bad());
    }
    Ok((base, stream.to_owned()))
}

/// The longest a viewer lets a grant authorize its hot key for, in rounds, and wait to be
/// relayed, in seconds, whatever the offer suggests.
const MAX_GRANT_ROUNDS: u64 = 1_000;
const MAX_DEADLINE_SECS: u64 = 3_600;

/// What the viewer accepts to pay: its own limits, never the broadcaster's word.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// The highest price per minute it accepts.
    pub max_price_per_minute: Option<U256>,
    /// The cap of each grant (face value redeemed under it); default: the offer's suggestion.
    pub max_spend: Option<U256>,
}

/// A viewer of one stream, with its session once paid.
///
/// It never trusts the broadcaster's accounts to decide what it pays: it counts the video it
/// received ([`Viewer::segment`]) and signs a ticket only while the tickets it signed pay for no
/// more than that. The chain, the broker, the recipient and the price are the first offer's,
/// checked against its limits; later sessions (a grant spent) keep them.
pub struct Viewer {
    http: reqwest::Client,
    base: String,
    stream: String,
    funder_key: [u8; 32],
    funder: Address,
    hot_key: [u8; 32],
    hot: Address,
    offer: Offer,
    limits: Limits,
    session: Option<SessionView>,
    last_nonce: Option<U256>,
    /// Milliseconds of video received (segments, by their playlist duration).
    received_ms: u64,
    /// Tickets signed and taken.
    pub tickets_paid: u64,
}

impl Viewer {
    /// Reads the offer and, for a paid stream, opens a session: a fresh hot key authorized by one
    /// grant signed with `funder_key`. Refuses a stream above `limits.max_price_per_minute`.
    pub async fn connect(
        base: &str,
        stream: &str,
        funder_key: [u8; 32],
        limits: Limits,
    ) -> Result<Self, ViewerError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        let funder = address_of_secret(&funder_key)?;
        let base = base.trim_end_matches('/').to_owned();
        let offer: Offer =
            json(http.get(format!("{base}/v1/watch/{stream}/offer?viewer={funder}"))).await?;
        if let Some(max) = limits.max_price_per_minute
            && offer.price_per_minute > max
        {
            return Err(ViewerError::TooExpensive {
                asked: offer.price_per_minute,
                max,
            });
        }
        let hot_key = B256::random().0;
        let hot = address_of_secret(&hot_key)?;
        let mut viewer = Self {
            http,
            base,
            stream: stream.to_owned(),
            funder_key,
            funder,
            hot_key,
            hot,
            offer,
            limits,
            session: None,
            last_nonce: None,
            received_ms: 0,
            tickets_paid: 0,
        };
        if viewer.offer.paid {
            let offer = viewer.offer.clone();
            viewer.open(&offer).await?;
        }
        Ok(viewer)
    }

    fn domain(&self) -> TicketDomain {
        TicketDomain {
            chain_id: self.offer.chain_id,
            broker: self.offer.broker,
        }
    }

    /// Opens a session on a grant for the current hot key; `fresh` is an offer read now (for
    /// the funder's grant nonce and the round), checked against the first one.
    async fn open(&mut self, fresh: &Offer) -> Result<(), ViewerError> {
        let first = &self.offer;
        if (
            fresh.chain_id,
            fresh.broker,
            fresh.recipient,
            fresh.price_per_minute,
        ) != (
            first.chain_id,
            first.broker,
            first.recipient,
            first.price_per_minute,
        ) {
            return Err(ViewerError::BadTicket(
                "the broadcaster changed its chain, broker, account or price".into(),
            ));
        }
        let funds = fresh
            .viewer
            .as_ref()
            .ok_or_else(|| ViewerError::BadTicket("the offer has no grant nonce for us".into()))?;
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            + fresh.deadline_secs.min(MAX_DEADLINE_SECS);
        let max_spend = self.limits.max_spend.unwrap_or(fresh.grant_max_spend);
        let grant = SignerGrant::new(
            self.funder,
            self.hot,
            first.recipient,
            max_spend,
            fresh.round + fresh.grant_rounds.min(MAX_GRANT_ROUNDS),
            funds.grant_nonce,
            deadline,
        );
        let signature = grant.sign(&self.funder_key, &self.domain())?;
        let req = OpenSession {
            funder: self.funder,
            signer: self.hot,
            recipient: grant.recipient,
            max_spend,
            until_round: grant.untilRound,
            nonce: grant.nonce,
            deadline: grant.deadline,
            signature: format!("0x{}", hex::encode(signature.to_bytes())),
        };
        let view: SessionView = json(
            self.http
                .post(format!("{}/v1/watch/{}/sessions", self.base, self.stream))
                .json(&req),
        )
        .await?;
        self.session = Some(view);
        Ok(())
    }

    /// A new hot key and a new grant, when the last one's cap is spent.
    async fn reopen(&mut self) -> Result<(), ViewerError> {
        self.hot_key = B256::random().0;
        self.hot = address_of_secret(&self.hot_key)?;
        self.last_nonce = None;
        let fresh: Offer = json(self.http.get(format!(
            "{}/v1/watch/{}/offer?viewer={}",
            self.base, self.stream, self.funder
        )))
        .await?;
        self.open(&fresh).await
    }

    pub fn offer(&self) -> &Offer {
        &self.offer
    }

    pub fn session(&self) -> Option<&SessionView> {
        self.session.as_ref()
    }

    pub fn funder(&self) -> Address {
        self.funder
    }

    /// The hot key's address.
    pub fn signer(&self) -> Address {
        self.hot
    }

    /// Milliseconds of video received.
    pub fn received_ms(&self) -> u64 {
        self.received_ms
    }

    /// Reads the session again.
    pub async fn refresh(&mut self) -> Result<Option<&SessionView>, ViewerError> {
        let Some(s) = &self.session else {
            return Ok(None);
        };
        let view: SessionView = json(
            self.http
                .get(format!("{}/v1/watch/sessions/{}", self.base, s.session)),
        )
        .await?;
        self.session = Some(view);
        Ok(self.session.as_ref())
    }

    /// Checks a ticket the session offers: ours to sign, worth what the first offer says.
    fn check(&self, t: &TicketToSign) -> Result<(), ViewerError> {
        let bad = |what: &str| Err(ViewerError::BadTicket(what.to_owned()));
        if t.recipient != self.offer.recipient {
            return bad("recipient is not the broadcaster's");
        }
        if t.sender != self.funder || t.signer != self.hot {
            return bad("sender or signer is not ours");
        }
        if t.face_value != self.offer.face_value || t.win_prob != self.offer.win_prob {
            return bad("face value or odds differ from the offer");
        }
        let value = peerflow_orchestrator::params::expected_value(t.face_value, t.win_prob);
        let price = self.offer.price_per_minute * U256::from(self.offer.ms_per_ticket)
            / U256::from(60_000u64);
        if value > price {
            return bad("the ticket is worth more than the price of the video it pays for");
        }
        if let Some(last) = self.last_nonce
            && t.sender_nonce <= last
        {
            return bad("the nonce was signed before");
        }
        Ok(())
    }

    /// Pays every ticket due, as far as the video received covers it; how many. A grant spent
    /// is replaced by a new one (a new hot key).
    pub async fn pay_due(&mut self) -> Result<u32, ViewerError> {
        let mut paid = 0;
        let mut reopened = false;
        loop {
            let Some(s) = &self.session else {
                return Ok(paid);
            };
            let per_ticket = self.offer.ms_per_ticket;
            if s.due_ms < per_ticket || s.subscriber {
                return Ok(paid);
            }
            // Our own count, not the broadcaster's: what we signed never pays for more than we got.
            if (self.tickets_paid + 1) * per_ticket > self.received_ms {
                return Ok(paid);
            }
            let Some(t) = s.ticket.clone() else {
                if s.grant_left < self.offer.face_value && !reopened {
                    reopened = true;
                    self.reopen().await?;
                    continue;
                }
                return Ok(paid);
            };
            self.check(&t)?;
            let signature = Signature::sign(&self.hot_key, t.ticket().hash(&self.domain()))?;
            let req = TicketPayment {
                recipient_rand_hash: t.recipient_rand_hash,
                sender_nonce: t.sender_nonce,
                signature: format!("0x{}", hex::encode(signature.to_bytes())),
            };
            self.last_nonce = Some(t.sender_nonce);
            let view: SessionView = json(
                self.http
                    .post(format!(
                        "{}/v1/watch/sessions/{}/tickets",
                        self.base, s.session
                    ))
                    .json(&req),
            )
            .await?;
            self.session = Some(view);
            self.tickets_paid += 1;
            paid += 1;
        }
    }

    /// GETs `url` with the session's token; a refusal for payment due is paid (as far as the
    /// video received covers it) and asked again.
    pub async fn get(&mut self, url: &str) -> Result<Bytes, ViewerError> {
        for attempt in 0..3 {
            let mut request = self.http.get(url);
            if let Some(s) = &self.session {
                request = request.header(VIEWER_HEADER, &s.session);
            }
            let response = request.send().await?;
            if response.status().is_success() {
                return Ok(response.bytes().await?);
            }
            let err = refusal(response).await;
            if err.code() == Some("payment_due") && attempt < 2 {
                self.refresh().await?;
                self.pay_due().await?;
                continue;
            }
            return Err(err);
        }
        unreachable!("the loop returns")
    }

    /// GETs a media segment `duration_ms` long, and counts it as received.
    pub async fn segment(&mut self, url: &str, duration_ms: u64) -> Result<Bytes, ViewerError> {
        let bytes = self.get(url).await?;
        self.received_ms += duration_ms;
        Ok(bytes)
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn stream(&self) -> &str {
        &self.stream
    }
}

/// One media segment in a playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub seq: u64,
    pub uri: String,
    pub duration_s: f64,
}

/// A media playlist's segments (gaps left out) and whether it ended.
pub fn parse_media(text: &str) -> Result<(Vec<Entry>, bool), ViewerError> {
    let mut seq = None;
    let mut entries = Vec::new();
    let mut duration = None;
    let mut gap = false;
    let mut ended = false;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            seq = Some(
                v.parse::<u64>()
                    .map_err(|_| ViewerError::Playlist(format!("media sequence {v:?}")))?,
            );
        } else if let Some(v) = line.strip_prefix("#EXTINF:") {
            let d = v.split(',').next().unwrap_or("");
            duration = Some(
                d.parse::<f64>()
                    .map_err(|_| ViewerError::Playlist(format!("duration {d:?}")))?,
            );
        } else if line == "#EXT-X-GAP" {
            gap = true;
        } else if line == "#EXT-X-ENDLIST" {
            ended = true;
        } else if !line.starts_with('#') {
            let n = seq.ok_or_else(|| ViewerError::Playlist("no media sequence".into()))?;
            if !gap {
                entries.push(Entry {
                    seq: n,
                    uri: line.to_owned(),
                    duration_s: duration.unwrap_or(0.0),
                });
            }
            seq = Some(n + 1);
            gap = false;
            duration = None;
        }
    }
    Ok((entries, ended))
}

/// The variants of a master playlist: `(bandwidth, uri)`.
pub fn parse_master(text: &str) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    let mut bandwidth = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(attrs) = line.strip_prefix("#EXT-X-STREAM-INF:") {
            bandwidth = attrs
                .split(',')
                .find_map(|a| a.strip_prefix("BANDWIDTH="))
                .and_then(|b| b.parse().ok());
        } else if !line.starts_with('#') {
            out.push((bandwidth.take().unwrap_or(0), line.to_owned()));
        }
    }
    out
}

/// What a watch did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WatchReport {
    pub segments: u64,
    pub bytes: u64,
    pub seconds: f64,
    pub tickets_paid: u64,
}

/// Plays `viewer`'s stream into `sink` (segments in order, as fetched): the rendition named, or
/// the one with the highest bandwidth; for `duration` of video, or until the stream ends.
pub async fn watch<W: tokio::io::AsyncWrite + Unpin>(
    viewer: &mut Viewer,
    sink: &mut W,
    rendition: Option<&str>,
    duration: Option<Duration>,
) -> Result<WatchReport, ViewerError> {
    use tokio::io::AsyncWriteExt;
    let live = format!("{}/live/{}", viewer.base(), viewer.stream());
    let master =
        String::from_utf8_lossy(&viewer.get(&format!("{live}/index.m3u8")).await?).into_owned();
    let variants = parse_master(&master);
    let uri = match rendition {
        Some(name) => variants
            .iter()
            .find(|(_, u)| u.trim_end_matches(".m3u8") == name)
            .map(|(_, u)| u.clone())
            .ok_or_else(|| ViewerError::Playlist(format!("no rendition {name:?}")))?,
        None => variants
            .iter()
            .max_by_key(|(b, _)| *b)
            .map(|(_, u)| u.clone())
            .ok_or_else(|| ViewerError::Playlist("no variant in the master playlist".into()))?,
    };
    let mut report = WatchReport::default();
    let mut next: Option<u64> = None;
    loop {
        let text =
            String::from_utf8_lossy(&viewer.get(&format!("{live}/{uri}")).await?).into_owned();
        let (entries, ended) = parse_media(&text)?;
        let mut fetched = false;
        let new: Vec<_> = entries
            .into_iter()
            .filter(|e| next.is_none_or(|n| e.seq >= n))
            .collect();
        for e in new {
            let bytes = viewer
                .segment(
                    &format!("{live}/{}", e.uri),
                    (e.duration_s * 1000.0).round() as u64,
                )
                .await?;
            sink.write_all(&bytes)
                .await
                .map_err(|err| ViewerError::Playlist(format!("writing the output: {err}")))?;
            report.segments += 1;
            report.bytes += bytes.len() as u64;
            report.seconds += e.duration_s;
            next = Some(e.seq + 1);
            fetched = true;
            viewer.refresh().await?;
            viewer.pay_due().await?;
            if duration.is_some_and(|d| report.seconds >= d.as_secs_f64()) {
                report.tickets_paid = viewer.tickets_paid;
                sink.flush().await.ok();
                return Ok(report);
            }
        }
        if ended && !fetched {
            break;
        }
        if !fetched {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    sink.flush().await.ok();
    report.tickets_paid = viewer.tickets_paid;
    Ok(report)
}

async fn refusal(response: reqwest::Response) -> ViewerError {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let parsed: Option<serde_json::Value> = serde_json::from_str(&text).ok();
    let field = |k: &str| {
        parsed
            .as_ref()
            .and_then(|v| v["error"][k].as_str())
            .map(str::to_owned)
    };
    ViewerError::Refused {
        status,
        code: field("code").unwrap_or_else(|| "http_error".into()),
        message: field("message").unwrap_or(text),
    }
}

async fn json<T: DeserializeOwned>(request: reqwest::RequestBuilder) -> Result<T, ViewerError> {
    let response = request.send().await?;
    if !response.status().is_success() {
        return Err(refusal(response).await);
    }
    Ok(response.json().await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    use axum::Json;
    use axum::extract::State;
    use axum::routing::{get, post};

    use crate::proto::SessionState;

    /// A broadcaster that claims every viewer owes a minute of video, whatever it got.
    #[derive(Default)]
    struct Greedy {
        signer: Mutex<Option<Address>>,
        tickets: Mutex<u64>,
    }

    fn offer(funder: Address) -> Offer {
        Offer {
            stream: "s".into(),
            paid: true,
            price_per_minute: U256::from(600u64),
            recipient: Address::repeat_byte(0xee),
            chain_id: 1,
            broker: Address::repeat_byte(0xbb),
            token: Address::ZERO,
            support: Address::ZERO,
            ms_per_ticket: 4_000,
            credit_ms: 10_000,
            face_value: U256::from(40u64),
            win_prob: U256::MAX,
            round: 3,
            round_length_blocks: 50,
            grant_rounds: 1_000_000,
            deadline_secs: 10_000_000,
            grant_max_spend: U256::from(1_000u64),
            min_deposit: U256::from(40u64),
            subscription_price: U256::ZERO,
            subscription_period_secs: 0,
            viewer: Some(crate::proto::ViewerFunds {
                address: funder,
                grant_nonce: U256::ZERO,
                deposit: U256::from(1_000u64),
                subscribed_until: 0,
            }),
        }
    }

    fn view(g: &Greedy, funder: Address) -> SessionView {
        let signer = g.signer.lock().unwrap().unwrap();
        let n = *g.tickets.lock().unwrap();
        SessionView {
            session: "s1".into(),
            stream: "s".into(),
            funder,
            signer,
            subscriber: false,
            subscribed_until: 0,
            paid_ms: 0,
            consumed_ms: 60_000,
            due_ms: 60_000,
            credit_ms: 10_000,
            ms_per_ticket: 4_000,
            tickets_accepted: n,
            state: SessionState::Ok,
            until_round: 100,
            grant_left: U256::from(1_000u64),
            ticket: Some(TicketToSign {
                recipient: Address::repeat_byte(0xee),
                sender: funder,
                signer,
                face_value: U256::from(40u64),
                win_prob: U256::MAX,
                sender_nonce: U256::from(n),
                recipient_rand_hash: B256::repeat_byte(n as u8 + 1),
                creation_round: U256::from(3u64),
            }),
        }
    }

    #[tokio::test]
    async fn a_viewer_pays_for_the_video_it_received_whatever_the_broadcaster_claims() {
        let key = [9u8; 32];
        let funder = address_of_secret(&key).unwrap();
        let greedy = Arc::new(Greedy::default());
        let app = axum::Router::new()
            .route(
                "/v1/watch/s/offer",
                get(move || async move { Json(offer(funder)) }),
            )
            .route(
                "/v1/watch/s/sessions",
                post(
                    move |State(g): State<Arc<Greedy>>, Json(req): Json<OpenSession>| async move {
                        // The grant carries the viewer's bounds, not the offer's.
                        assert!(req.until_round <= U256::from(3 + MAX_GRANT_ROUNDS));
                        assert_eq!(req.recipient, Address::repeat_byte(0xee));
                        *g.signer.lock().unwrap() = Some(req.signer);
                        Json(view(&g, funder))
                    },
                ),
            )
            .route(
                "/v1/watch/sessions/s1",
                get(move |State(g): State<Arc<Greedy>>| async move { Json(view(&g, funder)) }),
            )
            .route(
                "/v1/watch/sessions/s1/tickets",
                post(move |State(g): State<Arc<Greedy>>| async move {
                    *g.tickets.lock().unwrap() += 1;
                    Json(view(&g, funder))
                }),
            )
            .with_state(Arc::clone(&greedy));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let mut viewer = Viewer::connect(&base, "s", key, Limits::default())
            .await
            .unwrap();
        // Nothing received: nothing paid, though the broadcaster says a minute is due.
        assert_eq!(viewer.pay_due().await.unwrap(), 0);
        // 9 s received: two tickets of 4 s, not fifteen.
        viewer.received_ms = 9_000;
        assert_eq!(viewer.pay_due().await.unwrap(), 2);
        assert_eq!(*greedy.tickets.lock().unwrap(), 2);
        assert_eq!(viewer.pay_due().await.unwrap(), 0);
    }

    #[test]
    fn watch_urls_name_the_broadcaster_and_the_stream() {
        assert_eq!(
            parse_watch_url("http://127.0.0.1:8936/live/cam1/index.m3u8").unwrap(),
            ("http://127.0.0.1:8936".into(), "cam1".into())
        );
        assert_eq!(
            parse_watch_url("https://b.example/watch/cam1").unwrap(),
            ("https://b.example".into(), "cam1".into())
        );
        assert!(parse_watch_url("http://h/other/cam1").is_err());
        assert!(parse_watch_url("cam1").is_err());
    }

    #[test]
    fn media_playlists_skip_gaps_and_see_the_end() {
        let text = "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:2.000,\n360p/7.ts\n#EXT-X-GAP\n#EXTINF:2.000,\n360p/8.ts\n#EXTINF:1.500,\n360p/9.ts\n#EXT-X-ENDLIST\n";
        let (entries, ended) = parse_media(text).unwrap();
        assert!(ended);
        assert_eq!(
            entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![7, 9]
        );
        assert_eq!(entries[1].uri, "360p/9.ts");
        assert_eq!(entries[1].duration_s, 1.5);
        let master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\n360p.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=400000\n240p.m3u8\n";
        assert_eq!(
            parse_master(master),
            vec![(800_000, "360p.m3u8".into()), (400_000, "240p.m3u8".into())]
        );
    }
}
