//! Browser sessions (SPEC §9, the console's paragraph): a key is posted once to
//! `POST /session`, and the browser then holds only a random session id in an `HttpOnly`,
//! `SameSite=Strict` cookie (`Secure` under TLS). The key itself never reaches the page's
//! script, a URL or the cookie.
//!
//! - The server keeps each session as its key's id and an expiry ([`SESSION_LIFETIME`]). Every
//!   request made with the cookie looks the key up again through the authenticator, whose
//!   cache is trusted for at most a second, so a revoked or expired key ends its sessions
//!   within about a second, on every server sharing the database.
//! - A write (any method but `GET`, `HEAD`, `OPTIONS`) made with the cookie must come from the
//!   server's own origin ([`same_origin`]): `Sec-Fetch-Site: same-origin`, or an `Origin`
//!   equal to the request's own scheme and `Host`. Otherwise it answers 403, whatever the role:
//!   a page on another site cannot act with an operator's cookie.
//! - Sessions live in this process's memory: a restart signs everyone out, which is what an
//!   operator expects of a server restart, and a session never has to be stored as a secret.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, Method, header};
use missionops_core::ApiKeyId;

/// The cookie holding the session id.
pub const COOKIE: &str = "mo_session";

/// How long a session lasts from sign-in (a control-room shift and some).
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// The most sessions kept at once; beyond it expired ones are dropped, then the oldest, so a
/// flood of sign-ins cannot grow the server's memory.
const MAX_SESSIONS: usize = 10_000;

/// Marks a request that arrived over TLS (inserted by the connection loop), so that the
/// session cookie gets `Secure`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OverTls;

/// One signed-in browser.
#[derive(Debug, Clone)]
struct Session {
    /// The key it signed in with: looked up again on every request.
    key: ApiKeyId,
    expires: Instant,
}

/// The sessions of this process, by id.
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// No session.
    pub fn new() -> Self {
        Sessions::default()
    }

    /// Opens a session for `key` and returns its id: 32 bytes of the operating system's
    /// randomness as 64 hex digits.
    pub(crate) fn open(&self, key: ApiKeyId) -> missionops_core::Result<String> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| {
            missionops_core::Error::backend(format!("the operating system gave no randomness: {e}"))
        })?;
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let now = Instant::now();
        let mut map = lock(&self.map);
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| s.expires > now);
            if map.len() >= MAX_SESSIONS {
                if let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, s)| s.expires)
                    .map(|(id, _)| id.clone())
                {
                    map.remove(&oldest);
                }
            }
        }
        map.insert(
            id.clone(),
            Session {
                key,
                expires: now + SESSION_LIFETIME,
            },
        );
        Ok(id)
    }

    /// The key of a live session; an expired one is forgotten.
    pub(crate) fn key_of(&self, id: &str) -> Option<ApiKeyId> {
        let mut map = lock(&self.map);
        let session = map.get(id)?;
        if session.expires <= Instant::now() {
            map.remove(id);
            return None;
        }
        Some(session.key.clone())
    }

    /// Ends a session (sign-out, or its key no longer valid).
    pub(crate) fn close(&self, id: &str) {
        lock(&self.map).remove(id);
    }

    /// How many sessions are held (for tests of the bound).
    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.map).len()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every update is one insert or remove: a panic elsewhere leaves the map usable.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The session id the request's `Cookie` header carries, if any.
pub(crate) fn cookie_of(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// Whether `method` changes nothing (no same-origin check needed).
pub(crate) fn is_read(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether a request comes from the server's own origin: `Sec-Fetch-Site: same-origin`, or
/// else an `Origin` naming the request's scheme and `Host`. A request with neither is not
/// (a browser sends at least one with every write; a script without a browser has no
/// cookie to forge with).
pub(crate) fn same_origin(headers: &HeaderMap, over_tls: bool) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    let (Some(origin), Some(host)) = (headers.get(header::ORIGIN), headers.get(header::HOST))
    else {
        return false;
    };
    let (Ok(origin), Ok(host)) = (origin.to_str(), host.to_str()) else {
        return false;
    };
    let scheme = if over_tls { "https" } else { "http" };
    origin
        .strip_prefix(scheme)
        .and_then(|rest| rest.strip_prefix("://"))
        .is_some_and(|rest| rest.eq_ignore_ascii_case(host))
}

/// Whether a sign-in request may come from where it says: browsers' cross-site posts are
/// refused (`Sec-Fetch-Site` or `Origin` naming another site); a client that sends neither
/// (curl, a script) holds the key itself and may sign in.
pub(crate) fn may_sign_in(headers: &HeaderMap, over_tls: bool) -> bool {
    if headers.contains_key("sec-fetch-site") || headers.contains_key(header::ORIGIN) {
        same_origin(headers, over_tls)
    } else {
        true
    }
}

/// The `Set-Cookie` value that stores `id`.
pub(crate) fn set_cookie(id: &str, over_tls: bool) -> HeaderValue {
    let secure = if over_tls { "; Secure" } else { "" };
    let max_age = SESSION_LIFETIME.as_secs();
    HeaderValue::from_str(&format!(
        "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("mo_session=; Max-Age=0"))
}

/// The `Set-Cookie` value that removes the session cookie.
pub(crate) fn clear_cookie(over_tls: bool) -> HeaderValue {
    if over_tls {
        HeaderValue::from_static(
            "mo_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0; Secure",
        )
    } else {
        HeaderValue::from_static("mo_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let h = headers(&[("cookie", "a=1; mo_session=abc ; b=2")]);
        assert_eq!(cookie_of(&h), Some("abc"));
        assert_eq!(cookie_of(&headers(&[("cookie", "mo_session=")])), None);
        assert_eq!(cookie_of(&headers(&[("cookie", "xmo_session=1")])), None);
        assert_eq!(cookie_of(&HeaderMap::new()), None);
    }

    /// A case: request headers, over TLS, same origin expected.
    type OriginCase = (&'static [(&'static str, &'static str)], bool, bool);

    #[test]
    fn same_origin_needs_fetch_metadata_or_a_matching_origin() {
        let cases: &[OriginCase] = &[
            (&[("sec-fetch-site", "same-origin")], false, true),
            (
                &[
                    ("sec-fetch-site", "cross-site"),
                    ("origin", "http://h:1"),
                    ("host", "h:1"),
                ],
                false,
                false,
            ),
            (&[("sec-fetch-site", "same-site")], false, false),
            (&[("origin", "http://h:1"), ("host", "h:1")], false, true),
            (&[("origin", "https://h:1"), ("host", "h:1")], true, true),
            (&[("origin", "http://h:1"), ("host", "h:1")], true, false),
            (
                &[("origin", "http://evil:1"), ("host", "h:1")],
                false,
                false,
            ),
            (&[("origin", "null"), ("host", "h:1")], false, false),
            (&[("host", "h:1")], false, false),
            (&[], false, false),
        ];
        for (pairs, tls, expected) in cases {
            assert_eq!(
                same_origin(&headers(pairs), *tls),
                *expected,
                "{pairs:?} tls={tls}"
            );
        }
        assert!(may_sign_in(&headers(&[("host", "h:1")]), false));
        assert!(!may_sign_in(
            &headers(&[("origin", "http://evil"), ("host", "h")]),
            false
        ));
    }

    #[test]
    fn sessions_open_expire_close_and_stay_bounded() {
        let sessions = Sessions::new();
        let key = ApiKeyId::parse_strict("abcdEFGH1234").expect("key id");
        let id = sessions.open(key.clone()).expect("open");
        assert_eq!(id.len(), 64);
        assert_eq!(sessions.key_of(&id), Some(key.clone()));
        assert_eq!(sessions.key_of("nope"), None);
        lock(&sessions.map).get_mut(&id).expect("held").expires = Instant::now();
        assert_eq!(sessions.key_of(&id), None, "an expired session is gone");
        let id = sessions.open(key.clone()).expect("open");
        sessions.close(&id);
        assert_eq!(sessions.key_of(&id), None);
        for _ in 0..MAX_SESSIONS + 5 {
            sessions.open(key.clone()).expect("open");
        }
        assert!(sessions.len() <= MAX_SESSIONS);
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_under_tls() {
        let plain = set_cookie("abc", false);
        let plain = plain.to_str().expect("ascii");
        assert!(plain.starts_with("mo_session=abc;"));
        for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(plain.contains(part), "{plain}");
        }
        assert!(!plain.contains("Secure"));
        assert!(
            set_cookie("abc", true)
                .to_str()
                .expect("ascii")
                .ends_with("; Secure")
        );
    }
}
