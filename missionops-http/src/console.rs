//! The operator console (SPEC §10, feature `console`): a small single-page app served at `/`,
//! its assets compiled into the binary (no Node build, no CDN: it works with no internet).
//!
//! - `console/index.html`, `console/app.js`, `console/app.css`: our own page, plain ES modules.
//! - `console/vendor/uplot/`: uPlot 1.6.32 (MIT, its `LICENSE` served beside it), the plots.
//!
//! The page and its assets are public (declared so in the route table): they hold no data,
//! and a browser has to load the page to sign in. Every data request the page makes goes
//! through the API's own role table with the session cookie (`session`). Responses carry an
//! `ETag` (revalidated with `If-None-Match`, `Cache-Control: no-cache`, so a new binary's
//! assets are seen at once), a `Content-Security-Policy` that allows only this origin's
//! scripts (no inline script, so injected markup could not run even if it got into the page),
//! and are gzip-compressed for clients that accept it.

use std::sync::OnceLock;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ErrorBody};
use crate::extract::Path;

/// One file of the console.
#[derive(Debug)]
pub struct Asset {
    /// Its name under `/console/` (the page itself: `index.html`, served at `/`).
    pub name: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes, compiled in.
    pub body: &'static [u8],
}

/// Every file the console serves.
pub const ASSETS: &[Asset] = &[
    Asset {
        name: "index.html",
        content_type: "text/html; charset=utf-8",
        body: include_bytes!("../console/index.html"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../console/app.js"),
    },
    Asset {
        name: "markdown.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../console/markdown.js"),
    },
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../console/app.css"),
    },
    Asset {
        name: "uPlot.iife.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../console/vendor/uplot/uPlot.iife.min.js"),
    },
    Asset {
        name: "uPlot.min.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../console/vendor/uplot/uPlot.min.css"),
    },
    Asset {
        name: "uPlot.LICENSE.txt",
        content_type: "text/plain; charset=utf-8",
        body: include_bytes!("../console/vendor/uplot/LICENSE"),
    },
];

/// Scripts only from this origin, no inline script or `eval`; styles from this origin (uPlot
/// sets element styles from script, which CSP does not restrict); images from this origin
/// and `data:` (uPlot's canvas export); no framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
                   frame-ancestors 'none'";

/// Each asset's `ETag`: a quoted prefix of its SHA-256, computed once.
fn etag(index: usize) -> &'static str {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|asset| {
                let digest = Sha256::digest(asset.body);
                let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
                format!("\"{hex}\"")
            })
            .collect()
    })[index]
        .as_str()
}

fn serve(name: &str, headers: &HeaderMap) -> Response {
    let Some(index) = ASSETS.iter().position(|a| a.name == name) else {
        return ApiError::from(missionops_core::Error::not_found("console file", name))
            .into_response();
    };
    let asset = &ASSETS[index];
    let tag = etag(index);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let common = [
        (header::ETAG, HeaderValue::from_static(tag)),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ];
    if fresh {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        )],
        asset.body,
    )
        .into_response()
}

/// The console's page.
#[utoipa::path(get, path = "/", tag = "console",
    responses((status = 200, content_type = "text/html", description = "the operator console (SPEC §10)"),
        (status = 304, description = "the page has not changed (`If-None-Match`)")))]
#[tracing::instrument(skip_all)]
pub async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

/// A script, style sheet or licence of the console.
#[utoipa::path(get, path = "/console/{file}", tag = "console",
    params(("file" = String, Path, description = "`app.js`, `app.css`, `uPlot.iife.min.js`, …")),
    responses((status = 200, description = "the file"),
        (status = 304, description = "the file has not changed (`If-None-Match`)"),
        (status = 404, body = ErrorBody, description = "no such file")))]
#[tracing::instrument(skip_all)]
pub async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    serve(&file, &headers)
}
