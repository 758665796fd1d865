//! The broadcaster's web page, served by the broadcaster itself with no build step: `GET /` is the
//! page, `GET /ui/{file}` its script, style sheet and the vendored hls.js player. The page lists
//! the streams from `GET /v1/status` (see `network::status`), plays each with hls.js and shows the
//! chosen orchestrator, latency, verification results and money spent, refreshing every few
//! seconds. Every number carries a stable `data-field` attribute (per stream inside an element
//! with `data-stream="<id>"`), which the browser tests read.
//!
//! `vendor/hls.min.js` is `node_modules/hls.js/dist/hls.min.js` of the version pinned in
//! package.json, with its licence beside it; a unit test keeps the two identical, so an upgrade
//! goes through package.json (`npm install --save-exact hls.js@X`, then copy the file here).

use axum::Router;
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::ApiError;

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const PAGE: Asset = Asset {
    name: "index.html",
    content_type: "text/html; charset=utf-8",
    bytes: include_bytes!("index.html"),
};

/// What `/ui/{file}` serves.
const ASSETS: &[Asset] = &[
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("app.js"),
    },
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("style.css"),
    },
    Asset {
        name: "hls.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("vendor/hls.min.js"),
    },
    Asset {
        name: "hls.js.LICENSE",
        content_type: "text/plain; charset=utf-8",
        bytes: include_bytes!("vendor/hls.js.LICENSE"),
    },
];

/// `GET /` and `GET /ui/{file}`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { serve(&PAGE) }))
        .route("/ui/{file}", get(asset))
}

async fn asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    ASSETS
        .iter()
        .find(|a| a.name == file)
        .map(serve)
        .ok_or(ApiError::NotFound)
}

fn serve(asset: &Asset) -> Response {
    (
        [
            (header::CONTENT_TYPE, asset.content_type),
            // The files change only with the binary; revalidating keeps a rebuilt agent's page fresh.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        asset.bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn repo_root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    /// The version package.json pins, e.g. `1.7.4`.
    fn pinned_hls_version() -> String {
        let package: serde_json::Value = serde_json::from_slice(
            &std::fs::read(repo_root().join("package.json")).expect("package.json"),
        )
        .expect("package.json is JSON");
        package["devDependencies"]["hls.js"]
            .as_str()
            .expect("package.json pins hls.js in devDependencies")
            .to_owned()
    }

    #[test]
    fn the_vendored_player_is_the_pinned_npm_release() {
        let pinned = pinned_hls_version();
        assert!(
            pinned.chars().all(|c| c.is_ascii_digit() || c == '.'),
            "hls.js is pinned to an exact version, not {pinned:?}"
        );
        let vendored = ASSETS.iter().find(|a| a.name == "hls.min.js").unwrap();
        // The minified build names its version as a string literal.
        let needle = format!("\"{pinned}\"");
        assert!(
            vendored
                .bytes
                .windows(needle.len())
                .any(|w| w == needle.as_bytes()),
            "vendor/hls.min.js is not hls.js {pinned}: copy node_modules/hls.js/dist/hls.min.js"
        );
        let installed = repo_root().join("node_modules/hls.js");
        if !installed.join("package.json").is_file() {
            // Without node_modules (npm ci not run) only the version string can be compared.
            eprintln!("node_modules/hls.js absent: compared the version string only");
            return;
        }
        let package: serde_json::Value =
            serde_json::from_slice(&std::fs::read(installed.join("package.json")).unwrap())
                .unwrap();
        assert_eq!(
            package["version"].as_str(),
            Some(pinned.as_str()),
            "node_modules/hls.js is not the pinned version: run npm ci"
        );
        let npm = std::fs::read(installed.join("dist/hls.min.js")).unwrap();
        assert!(
            npm == vendored.bytes,
            "vendor/hls.min.js differs from node_modules/hls.js/dist/hls.min.js: copy it over"
        );
        let licence = std::fs::read(installed.join("LICENSE")).unwrap();
        let vendored_licence = ASSETS.iter().find(|a| a.name == "hls.js.LICENSE").unwrap();
        assert!(
            licence == vendored_licence.bytes,
            "vendor/hls.js.LICENSE is stale"
        );
    }

    #[test]
    fn the_page_loads_only_what_the_broadcaster_serves() {
        let page = std::str::from_utf8(PAGE.bytes).unwrap();
        for src in page
            .split("src=\"")
            .skip(1)
            .chain(page.split("href=\"").skip(1))
        {
            let url = src.split('"').next().unwrap();
            assert!(
                url.starts_with('/') && !url.starts_with("//"),
                "{url}: the page loads nothing from elsewhere (no CDN)"
            );
            let Some(file) = url.strip_prefix("/ui/") else {
                continue; // an API link such as /v1/status
            };
            assert!(ASSETS.iter().any(|a| a.name == file), "{url} is not served");
        }
    }
}
