//! The broadcaster's web pages, served by the broadcaster itself with no build step: `GET /` is the
//! streamer's page, `GET /watch/{stream}` a viewer's, `GET /ui/{file}` their scripts, style sheet
//! and vendored libraries. The streamer's page lists the streams from `GET /v1/status` (see
//! `network::status`), plays each with hls.js and shows the chosen orchestrator, latency,
//! verification results and money spent, and the paying viewers, tips and subscribers from
//! `GET /v1/watch/status`, refreshing every few seconds. The viewer's page (watch.js, with eth.js
//! for keccak, secp256k1, EIP-712 and ABI encoding) plays one stream and, when it is paid, has the
//! viewer's wallet authorize a key generated in the page, which then signs the lottery tickets the
//! `/v1/watch` API asks for. Every number carries a stable `data-field` attribute (per stream
//! inside an element with `data-stream="<id>"`), which the browser tests read.
//!
//! Each file under `vendor/` is a file of an npm package of the version pinned in package.json,
//! with its licence beside it (see `VENDORED` in the tests); a unit test keeps the two identical,
//! so an upgrade goes through package.json (`npm install --save-exact --save-dev PACKAGE@X`, then
//! copy the file here).

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

/// The viewer's page, the same for every stream: it reads the stream's name from its own path.
const WATCH_PAGE: Asset = Asset {
    name: "watch.html",
    content_type: "text/html; charset=utf-8",
    bytes: include_bytes!("watch.html"),
};

const JS: &str = "text/javascript; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// What `/ui/{file}` serves.
const ASSETS: &[Asset] = &[
    Asset {
        name: "app.js",
        content_type: JS,
        bytes: include_bytes!("app.js"),
    },
    Asset {
        name: "watch.js",
        content_type: JS,
        bytes: include_bytes!("watch.js"),
    },
    Asset {
        name: "eth.js",
        content_type: JS,
        bytes: include_bytes!("eth.js"),
    },
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("style.css"),
    },
    Asset {
        name: "hls.min.js",
        content_type: JS,
        bytes: include_bytes!("vendor/hls.min.js"),
    },
    Asset {
        name: "hls.js.LICENSE",
        content_type: TEXT,
        bytes: include_bytes!("vendor/hls.js.LICENSE"),
    },
    Asset {
        name: "secp256k1.js",
        content_type: JS,
        bytes: include_bytes!("vendor/secp256k1.js"),
    },
    Asset {
        name: "noble-secp256k1.LICENSE",
        content_type: TEXT,
        bytes: include_bytes!("vendor/noble-secp256k1.LICENSE"),
    },
    Asset {
        name: "sha3.min.js",
        content_type: JS,
        bytes: include_bytes!("vendor/sha3.min.js"),
    },
    Asset {
        name: "js-sha3.LICENSE",
        content_type: TEXT,
        bytes: include_bytes!("vendor/js-sha3.LICENSE"),
    },
    Asset {
        name: "sha256.min.mjs",
        content_type: JS,
        bytes: include_bytes!("vendor/sha256.min.mjs"),
    },
    Asset {
        name: "js-sha256.LICENSE",
        content_type: TEXT,
        bytes: include_bytes!("vendor/js-sha256.LICENSE"),
    },
];

/// `GET /`, `GET /watch/{stream}` and `GET /ui/{file}`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { serve(&PAGE) }))
        .route("/watch/{stream}", get(|| async { serve(&WATCH_PAGE) }))
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
mod eth_tests;

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// A file under `vendor/`: which file of which npm package it is, and the licence beside it.
    struct Vendored {
        package: &'static str,
        /// The file inside `node_modules/<package>/`.
        file: &'static str,
        asset: &'static str,
        licence: &'static str,
        licence_asset: &'static str,
        /// How the file names its own version, when it does: checked even without node_modules.
        names_version: Option<fn(&str) -> String>,
    }

    const VENDORED: &[Vendored] = &[
        Vendored {
            package: "hls.js",
            file: "dist/hls.min.js",
            asset: "hls.min.js",
            licence: "LICENSE",
            licence_asset: "hls.js.LICENSE",
            // The minified build names its version as a string literal.
            names_version: Some(|v| format!("\"{v}\"")),
        },
        Vendored {
            package: "@noble/secp256k1",
            file: "index.js",
            asset: "secp256k1.js",
            licence: "LICENSE",
            licence_asset: "noble-secp256k1.LICENSE",
            names_version: None,
        },
        Vendored {
            package: "js-sha3",
            file: "build/sha3.min.js",
            asset: "sha3.min.js",
            licence: "LICENSE.txt",
            licence_asset: "js-sha3.LICENSE",
            names_version: Some(|v| format!("@version {v}")),
        },
        Vendored {
            package: "js-sha256",
            file: "build/sha256.min.mjs",
            asset: "sha256.min.mjs",
            licence: "LICENSE.txt",
            licence_asset: "js-sha256.LICENSE",
            names_version: Some(|v| format!("@version {v}")),
        },
    ];

    fn repo_root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    fn asset(name: &str) -> &'static Asset {
        ASSETS
            .iter()
            .find(|a| a.name == name)
            .unwrap_or_else(|| panic!("{name} is not served"))
    }

    /// The version package.json pins for `package`, e.g. `1.7.4`.
    fn pinned_version(package: &str) -> String {
        let manifest: serde_json::Value = serde_json::from_slice(
            &std::fs::read(repo_root().join("package.json")).expect("package.json"),
        )
        .expect("package.json is JSON");
        manifest["devDependencies"][package]
            .as_str()
            .unwrap_or_else(|| panic!("package.json pins {package} in devDependencies"))
            .to_owned()
    }

    #[test]
    fn every_vendored_file_is_its_pinned_npm_release() {
        for v in VENDORED {
            let pinned = pinned_version(v.package);
            assert!(
                pinned.chars().all(|c| c.is_ascii_digit() || c == '.'),
                "{} is pinned to an exact version, not {pinned:?}",
                v.package
            );
            let vendored = asset(v.asset);
            if let Some(names_version) = v.names_version {
                let needle = names_version(&pinned);
                assert!(
                    vendored
                        .bytes
                        .windows(needle.len())
                        .any(|w| w == needle.as_bytes()),
                    "vendor/{} is not {} {pinned}: copy node_modules/{}/{}",
                    v.asset,
                    v.package,
                    v.package,
                    v.file
                );
            }
            let installed = repo_root().join("node_modules").join(v.package);
            if !installed.join("package.json").is_file() {
                // Without node_modules (npm ci not run) only the version string can be compared.
                eprintln!(
                    "node_modules/{} absent: compared the version string only",
                    v.package
                );
                continue;
            }
            let package: serde_json::Value =
                serde_json::from_slice(&std::fs::read(installed.join("package.json")).unwrap())
                    .unwrap();
            assert_eq!(
                package["version"].as_str(),
                Some(pinned.as_str()),
                "node_modules/{} is not the pinned version: run npm ci",
                v.package
            );
            let npm = std::fs::read(installed.join(v.file)).unwrap();
            assert!(
                npm == vendored.bytes,
                "vendor/{} differs from node_modules/{}/{}: copy it over",
                v.asset,
                v.package,
                v.file
            );
            let licence = std::fs::read(installed.join(v.licence)).unwrap();
            assert!(
                licence == asset(v.licence_asset).bytes,
                "vendor/{} is stale",
                v.licence_asset
            );
        }
    }

    #[test]
    fn the_pages_load_only_what_the_broadcaster_serves() {
        for page in [&PAGE, &WATCH_PAGE] {
            let html = std::str::from_utf8(page.bytes).unwrap();
            for src in html
                .split("src=\"")
                .skip(1)
                .chain(html.split("href=\"").skip(1))
            {
                let url = src.split('"').next().unwrap();
                assert!(
                    url.starts_with('/') && !url.starts_with("//"),
                    "{}: {url}: the pages load nothing from elsewhere (no CDN)",
                    page.name
                );
                let Some(file) = url.strip_prefix("/ui/") else {
                    continue; // an API link such as /v1/status
                };
                asset(file);
            }
        }
    }

    #[test]
    fn the_page_modules_import_only_served_files() {
        for module in ["watch.js", "eth.js"] {
            let source = std::str::from_utf8(asset(module).bytes).unwrap();
            for import in source.split(" from './").skip(1) {
                // Relative to /ui/, where the module itself is served.
                asset(import.split('\'').next().unwrap());
            }
        }
    }
}
