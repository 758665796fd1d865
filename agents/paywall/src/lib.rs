//! Paid playback: viewers pay a streamer per minute of video they get.
//!
//! A stream is paid when its stream key has a price per minute (`peerflow broadcaster keys create
//! --price-per-minute`). The broadcaster is the tickets' recipient; never registered as an
//! orchestrator, it is paid straight from the viewer's deposit when a ticket wins (the
//! TicketBroker's direct path, as lease providers are).
//!
//! How a viewer pays ([`proto`] has the messages):
//! 1. It reads the offer (`GET /v1/watch/{stream}/offer?viewer=ADDR`): price, ticket size, credit.
//! 2. It makes a hot key and has its wallet sign one EIP-712 [`grant::SignerGrant`] authorizing
//!    it (`eth_signTypedData_v4`); `POST /v1/watch/{stream}/sessions` hands the grant over. The
//!    broadcaster checks it and the viewer's deposit, relays it to the broker
//!    (`authorizeSignerWithSig`, gas on the broadcaster), and opens a session.
//! 3. Every segment it fetches (`X-Peerflow-Viewer: <session>`) is charged its duration, once per
//!    sequence number whatever the rendition; a segment that would put the viewer more than the
//!    credit behind is refused with 402 `payment_due`.
//! 4. When a whole ticket's worth of video is due, the viewer signs the ticket the session offers
//!    with its hot key and posts it; no ticket is taken before that much is due, so a viewer
//!    never pays for video it did not get, and nothing is due while nothing new is published.
//!
//! Subscribers ([`support`], the StreamSupport contract) watch the streamer's paid streams
//! without tickets while their subscription runs. [`server`] is the broadcaster's side,
//! [`viewer`] the viewer's (`peerflow watch`).

pub mod grant;
pub mod http;
pub mod proto;
pub mod server;
pub mod store;
pub mod support;
pub mod viewer;

pub use server::{Paywall, PaywallConfig, PaywallError};
