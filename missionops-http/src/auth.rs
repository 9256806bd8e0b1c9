//! Authentication and roles (SPEC §9): API keys `mo_<keyId>_<secret>` sent as
//! `Authorization: Bearer`, each route's minimum role declared next to its registration
//! (`openapi`), and the middleware that checks both.
//!
//! - Keys: the secret is 32 bytes of the operating system's randomness, written as 64 hex
//!   digits; the store keeps its SHA-256 only, compared in constant time.
//! - Open mode: while the store holds no key every request runs as [`Caller::open`].
//! - Caching: whether any key exists, and each key's record, are trusted for at most
//!   [`REVALIDATE`] (1 s): a key created or revoked by the CLI or by another server sharing the
//!   database takes effect within that, without a store read per request.
//! - `lastUsedAt`: at most one use per key per minute is noted, in memory; the server flushes
//!   the notes in one write now and then ([`Authenticator::flush_uses`]).
//! - Failures: more than [`MAX_FAILURES`] failed authentications from one client address
//!   within a minute answer 429 for a minute, in a bounded map.
//!
//! A secret never reaches a log line, an error message or a metric label: [`PresentedKey`]
//! and [`NewKey`] print as `…`, and every failure answers the same 401.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use missionops_core::{
    ApiKey, ApiKeyId, Caller, KeyLifetime, KeyName, MissionOps, Role, SecretHash, Timestamp,
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::SecurityRequirement;
use utoipa_axum::router::UtoipaMethodRouter;

use crate::error::ApiError;
use crate::state::AppState;

/// How long a cached answer of the store (any key? this key's record) is trusted.
pub const REVALIDATE: Duration = Duration::from_secs(1);

/// Failed authentications from one address allowed within [`FAILURE_WINDOW`] by default
/// (`HttpConfig::max_auth_failures`); the next request answers 429 until the block ends.
pub const MAX_FAILURES: u32 = 20;

/// The window failures are counted in, and how long an address is then refused.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// How often a key's use is noted for `lastUsedAt`.
pub const USE_RESOLUTION: Duration = Duration::from_secs(60);

/// The most key records (known or unknown ids) and client addresses kept in memory; beyond it
/// stale entries are dropped first, then everything (a flood of random key ids must not grow
/// the server's memory).
const MAX_ENTRIES: usize = 10_000;

/// The prefix every key starts with.
pub const KEY_PREFIX: &str = "mo_";

/// The name of the bearer security scheme in the OpenAPI document.
pub const SECURITY_SCHEME: &str = "bearer";

/// The OpenAPI extension that carries each operation's minimum role (or `public`).
pub const ROLE_EXTENSION: &str = "x-required-role";

// ---------------------------------------------------------------------------------------------
// Keys

/// A key as a client presented it: its public id and secret. Prints without its secret.
pub struct PresentedKey {
    id: ApiKeyId,
    secret: [u8; 32],
}

impl std::fmt::Debug for PresentedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PresentedKey({}, …)", self.id)
    }
}

impl PresentedKey {
    /// Parses `mo_<keyId>_<64 hex digits>`; `None` for anything else (the caller answers the
    /// one 401, never saying what was wrong).
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix(KEY_PREFIX)?;
        let (id, secret) = rest.rsplit_once('_')?;
        let id = ApiKeyId::parse_strict(id).ok()?;
        Some(PresentedKey {
            id,
            secret: decode_hex(secret)?,
        })
    }

    /// The key's public id.
    pub fn id(&self) -> &ApiKeyId {
        &self.id
    }

    /// Whether the secret hashes to `hash`, compared in constant time.
    pub fn matches(&self, hash: &SecretHash) -> bool {
        hash_secret(&self.secret).0.ct_eq(&hash.0).into()
    }
}

/// A key just created: the record and the full key text, shown once. Prints without it.
pub struct NewKey {
    /// The stored record (its hash, never the secret).
    pub record: ApiKey,
    /// `mo_<keyId>_<secret>`: the only place the secret ever is.
    pub key: String,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NewKey({}, …)", self.record.id)
    }
}

/// SHA-256 of a secret: what the store keeps.
pub fn hash_secret(secret: &[u8; 32]) -> SecretHash {
    SecretHash(Sha256::digest(secret).into())
}

fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

fn decode_hex(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let digit = |c: u8| {
        char::from(c)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Some(out)
}

/// Creates a key of `caller`'s tenant: 32 bytes from the operating system's random source,
/// stored as their SHA-256. The HTTP `POST /keys` and the CLI's `keys create` both use it.
pub async fn create_key(
    ops: &MissionOps,
    caller: &Caller,
    name: KeyName,
    role: Role,
    lifetime: Option<KeyLifetime>,
) -> missionops_core::Result<NewKey> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| {
        missionops_core::Error::backend(format!("the operating system gave no randomness: {e}"))
    })?;
    let record = ops
        .create_key(caller, name, role, hash_secret(&secret), lifetime)
        .await?;
    let key = format!("{KEY_PREFIX}{}_{}", record.id, encode_hex(&secret));
    Ok(NewKey { record, key })
}

// ---------------------------------------------------------------------------------------------
// Route roles

/// Who may call an operation: anyone, or a key with at least a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No key needed (`/healthz`, `/readyz`, `/openapi.json`).
    Public,
    /// A key with this role or a higher one.
    Role(Role),
}

impl Access {
    fn as_str(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::Role(role) => role.as_str(),
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "public" => Some(Access::Public),
            other => Role::parse(other).ok().map(Access::Role),
        }
    }
}

/// No key needed.
pub(crate) const PUBLIC: Access = Access::Public;
/// Reads and the event stream.
pub(crate) const VIEWER: Access = Access::Role(Role::Viewer);
/// Ingest, alarm handling, detection.
pub(crate) const OPERATOR: Access = Access::Role(Role::Operator);
/// Configurations, documents, spacecraft registration.
pub(crate) const ENGINEER: Access = Access::Role(Role::Engineer);
/// Keys and the outbox.
pub(crate) const ADMIN: Access = Access::Role(Role::Admin);

/// Declares the minimum role of each operation of one `routes!(…)` group, by method: the
/// OpenAPI operations get the bearer security requirement, a note of the role and the
/// [`ROLE_EXTENSION`] the router's table is read from. Panics (so the router cannot be built
/// and every test fails) when an operation has no declared role or a declared method has no
/// operation.
pub(crate) fn secured<S>(
    (schemas, mut paths, router): UtoipaMethodRouter<S>,
    declared: &[(Method, Access)],
) -> UtoipaMethodRouter<S> {
    for (path, item) in paths.paths.iter_mut() {
        let mut seen = Vec::new();
        let operations = [
            (Method::GET, &mut item.get),
            (Method::POST, &mut item.post),
            (Method::PUT, &mut item.put),
            (Method::DELETE, &mut item.delete),
            (Method::PATCH, &mut item.patch),
        ];
        for (method, operation) in operations {
            let Some(operation) = operation else { continue };
            let access = declared
                .iter()
                .find(|(m, _)| *m == method)
                .map(|(_, access)| *access)
                .unwrap_or_else(|| panic!("{method} {path} has no declared role"));
            annotate(operation, access);
            seen.push(method);
        }
        for (method, _) in declared {
            assert!(
                seen.contains(method),
                "a role is declared for {method} {path}, which has no such operation"
            );
        }
    }
    (schemas, paths, router)
}

fn annotate(operation: &mut Operation, access: Access) {
    operation
        .extensions
        .get_or_insert_with(Extensions::default)
        .insert(ROLE_EXTENSION.to_owned(), access.as_str().into());
    let note = match access {
        Access::Public => "Needs no API key.".to_owned(),
        Access::Role(role) => {
            operation.security = Some(vec![SecurityRequirement::new(
                SECURITY_SCHEME,
                Vec::<String>::new(),
            )]);
            format!("Needs an API key with the role `{role}` or above (401 without, 403 below).")
        }
    };
    operation.description = Some(match operation.description.take() {
        Some(text) if !text.is_empty() => format!("{text}\n\n{note}"),
        _ => note,
    });
}

/// One operation of the API and the role it needs (`None`: none declared, which the route
/// table test reports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteAccess {
    /// `GET`, `POST`, …
    pub method: Method,
    /// The path template as the OpenAPI document writes it (`/spacecraft/{id}`).
    pub path: String,
    /// Who may call it.
    pub access: Option<Access>,
}

/// Every operation of the API with its declared access, read from the OpenAPI document (the
/// router enforces the same table).
pub fn route_table() -> Vec<RouteAccess> {
    let mut table = Vec::new();
    for (path, item) in &crate::openapi::document().paths.paths {
        let operations = [
            (Method::GET, &item.get),
            (Method::POST, &item.post),
            (Method::PUT, &item.put),
            (Method::DELETE, &item.delete),
            (Method::PATCH, &item.patch),
        ];
        for (method, operation) in operations {
            let Some(operation) = operation else { continue };
            let access = operation
                .extensions
                .as_ref()
                .and_then(|e| e.get(ROLE_EXTENSION))
                .and_then(|v| v.as_str())
                .and_then(Access::parse);
            table.push(RouteAccess {
                method,
                path: path.clone(),
                access,
            });
        }
    }
    table
}

/// [`route_table`] by (method, path template), built once.
fn access_of(method: &Method, path: &str) -> Option<Access> {
    static TABLE: OnceLock<HashMap<(Method, String), Option<Access>>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        route_table()
            .into_iter()
            .map(|r| ((r.method, r.path), r.access))
            .collect()
    });
    // axum answers HEAD with the GET handler.
    let method = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    table
        .get(&(method.clone(), path.to_owned()))
        .copied()
        .flatten()
}

// ---------------------------------------------------------------------------------------------
// The authenticator

/// Why a request was refused.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// 401, the same for every cause.
    Unauthenticated,
    /// 429 for this many more seconds.
    Limited(u64),
    /// The store failed.
    Store(missionops_core::Error),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Unauthenticated => {
                let mut response = ApiError::unauthorized().into_response();
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                response
            }
            Refusal::Limited(secs) => {
                let mut response = ApiError::too_many_failures(secs).into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
                response
            }
            Refusal::Store(err) => ApiError::from(err).into_response(),
        }
    }
}

#[derive(Debug, Default)]
struct Failures {
    /// When the counting window started and how many failures it holds.
    started: Option<Instant>,
    count: u32,
}

/// Checks keys against the store with the caches and limits of the module docs. One per
/// server, shared by its requests.
pub struct Authenticator {
    ops: MissionOps,
    max_failures: u32,
    any_key: Mutex<Option<(Instant, bool)>>,
    keys: Mutex<HashMap<ApiKeyId, (Instant, Option<ApiKey>)>>,
    failures: Mutex<HashMap<Option<IpAddr>, Failures>>,
    /// Uses noted since the last flush, and when each key's use was last noted.
    uses: Mutex<(HashMap<ApiKeyId, Timestamp>, HashMap<ApiKeyId, Instant>)>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

impl Authenticator {
    /// An authenticator over the keys of `ops`'s store, refusing a client address after
    /// `max_failures` failed authentications within a minute (`FAILURE_WINDOW`).
    pub fn new(ops: MissionOps, max_failures: u32) -> Self {
        Authenticator {
            ops,
            max_failures: max_failures.max(1),
            any_key: Mutex::new(None),
            keys: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            uses: Mutex::new((HashMap::new(), HashMap::new())),
        }
    }

    /// Whether the store holds a key (authentication on), asked at most once a
    /// second (`REVALIDATE`).
    pub async fn auth_enabled(&self) -> missionops_core::Result<bool> {
        let now = Instant::now();
        if let Some((at, any)) = *lock(&self.any_key) {
            if now.duration_since(at) < REVALIDATE {
                return Ok(any);
            }
        }
        let any = self.ops.any_key_exists().await?;
        *lock(&self.any_key) = Some((now, any));
        Ok(any)
    }

    async fn key(&self, id: &ApiKeyId) -> missionops_core::Result<Option<ApiKey>> {
        let now = Instant::now();
        if let Some((at, key)) = lock(&self.keys).get(id) {
            if now.duration_since(*at) < REVALIDATE {
                return Ok(key.clone());
            }
        }
        let key = self.ops.find_key(id).await?;
        let mut keys = lock(&self.keys);
        if keys.len() >= MAX_ENTRIES {
            keys.retain(|_, (at, _)| now.duration_since(*at) < REVALIDATE);
            if keys.len() >= MAX_ENTRIES {
                keys.clear();
            }
        }
        keys.insert(id.clone(), (now, key.clone()));
        Ok(key)
    }

    /// The caller of a request with `headers` from `client`: [`Caller::open`] while no key
    /// exists, the key's caller for a valid key, otherwise a refusal.
    pub(crate) async fn authenticate(
        &self,
        headers: &HeaderMap,
        client: Option<IpAddr>,
    ) -> Result<Caller, Refusal> {
        if !self.auth_enabled().await.map_err(Refusal::Store)? {
            return Ok(Caller::open());
        }
        if let Some(secs) = self.blocked(client) {
            return Err(Refusal::Limited(secs));
        }
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .and_then(|v| PresentedKey::parse(v.trim()));
        self.check_presented(presented, client).await
    }

    /// Signs a key in for a browser session (`POST /session`): the key's caller, or the
    /// same refusals as a bearer key (failures count towards the 429). Only called while
    /// authentication is on.
    pub(crate) async fn sign_in(
        &self,
        key: &str,
        client: Option<IpAddr>,
    ) -> Result<Caller, Refusal> {
        if let Some(secs) = self.blocked(client) {
            return Err(Refusal::Limited(secs));
        }
        self.check_presented(PresentedKey::parse(key.trim()), client)
            .await
    }

    /// The caller of a browser session signed in with key `id`, the key looked up again
    /// (trusted for at most [`REVALIDATE`]): `None` once it is revoked, expired or gone.
    pub(crate) async fn session_caller(
        &self,
        id: &ApiKeyId,
    ) -> missionops_core::Result<Option<Caller>> {
        let key = self.key(id).await?;
        Ok(key
            .filter(|key| key.is_active_at(self.ops.now()))
            .map(|key| {
                self.note_use(&key.id);
                key.caller()
            }))
    }

    async fn check_presented(
        &self,
        presented: Option<PresentedKey>,
        client: Option<IpAddr>,
    ) -> Result<Caller, Refusal> {
        let Some(presented) = presented else {
            return Err(self.failed(client));
        };
        let key = self.key(presented.id()).await.map_err(Refusal::Store)?;
        match key {
            Some(key)
                if presented.matches(&key.secret_hash) && key.is_active_at(self.ops.now()) =>
            {
                self.note_use(&key.id);
                Ok(key.caller())
            }
            _ => Err(self.failed(client)),
        }
    }

    fn blocked(&self, client: Option<IpAddr>) -> Option<u64> {
        let failures = lock(&self.failures);
        let entry = failures.get(&client)?;
        let started = entry.started?;
        let elapsed = started.elapsed();
        (entry.count >= self.max_failures && elapsed < FAILURE_WINDOW)
            .then(|| (FAILURE_WINDOW - elapsed).as_secs().max(1))
    }

    fn failed(&self, client: Option<IpAddr>) -> Refusal {
        let now = Instant::now();
        let mut failures = lock(&self.failures);
        if failures.len() >= MAX_ENTRIES && !failures.contains_key(&client) {
            failures.retain(|_, f| {
                f.started
                    .is_some_and(|s| now.duration_since(s) < FAILURE_WINDOW)
            });
        }
        if failures.len() < MAX_ENTRIES || failures.contains_key(&client) {
            let entry = failures.entry(client).or_default();
            match entry.started {
                Some(started) if now.duration_since(started) < FAILURE_WINDOW => {
                    entry.count += 1;
                    if entry.count == self.max_failures {
                        // Blocked for a whole window from the failure that reached the limit.
                        entry.started = Some(now);
                    }
                }
                _ => {
                    entry.started = Some(now);
                    entry.count = 1;
                }
            }
        }
        Refusal::Unauthenticated
    }

    fn note_use(&self, id: &ApiKeyId) {
        let now = Instant::now();
        let mut uses = lock(&self.uses);
        let (pending, noted) = &mut *uses;
        if noted
            .get(id)
            .is_some_and(|at| now.duration_since(*at) < USE_RESOLUTION)
        {
            return;
        }
        if noted.len() >= MAX_ENTRIES {
            noted.retain(|_, at| now.duration_since(*at) < USE_RESOLUTION);
        }
        noted.insert(id.clone(), now);
        pending.insert(id.clone(), self.ops.now());
    }

    /// Writes the uses noted since the last flush in one store write. On failure they are
    /// kept for the next flush.
    pub async fn flush_uses(&self) -> missionops_core::Result<()> {
        let pending: Vec<(ApiKeyId, Timestamp)> = lock(&self.uses).0.drain().collect();
        if pending.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.ops.record_key_use(&pending).await {
            lock(&self.uses).0.extend(pending);
            return Err(e);
        }
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these maps leaves it usable: every update is one insert.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The middleware: looks up the matched route's access in the route table, authenticates the
/// request when it needs a key, answers 401/403/429, and puts the [`Caller`] into the request
/// extensions for the handlers. A route with no declared access needs an admin key (deny by
/// default); a path no route serves goes on to the 404 fallback.
pub(crate) async fn authorize<F>(
    state: &AppState,
    mut request: Request,
    next: impl FnOnce(Request) -> F,
) -> Response
where
    F: std::future::Future<Output = Response>,
{
    let Some(path) = request.extensions().get::<MatchedPath>().cloned() else {
        return next(request).await;
    };
    let needed = match access_of(request.method(), path.as_str()) {
        Some(Access::Public) => return next(request).await,
        Some(Access::Role(role)) => role,
        None => Role::Admin,
    };
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let authenticated = match session_of(&request) {
        Some(session) => {
            let over_tls = request
                .extensions()
                .get::<crate::session::OverTls>()
                .is_some();
            let write = !crate::session::is_read(request.method());
            match state
                .session_caller(request.headers(), write, over_tls, &session)
                .await
            {
                Ok(caller) => Ok(caller),
                Err(response) => return response,
            }
        }
        None => state.auth.authenticate(request.headers(), client).await,
    };
    match authenticated {
        Ok(caller) if caller.role.includes(needed) => {
            request.extensions_mut().insert(caller);
            next(request).await
        }
        Ok(_) => ApiError::forbidden(needed).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

/// The session id of a request authenticated by its cookie: one with a session cookie and no
/// `Authorization` header (a bearer key, when sent, is what counts).
fn session_of(request: &Request) -> Option<String> {
    if request.headers().contains_key(header::AUTHORIZATION) {
        return None;
    }
    crate::session::cookie_of(request.headers()).map(str::to_owned)
}

impl AppState {
    /// The caller of a request carrying the session cookie `session`, or the answer refusing
    /// it: 401 for an unknown or ended session (or one whose key is no longer valid, which
    /// also ends it), 403 for a write that is not same-origin. In open mode the session does
    /// not matter: every request is the open caller's.
    async fn session_caller(
        &self,
        headers: &HeaderMap,
        write: bool,
        over_tls: bool,
        session: &str,
    ) -> Result<Caller, Response> {
        match self.auth.auth_enabled().await {
            Ok(false) => return Ok(Caller::open()),
            Ok(true) => {}
            Err(e) => return Err(Refusal::Store(e).into_response()),
        }
        let Some(key) = self.sessions.key_of(session) else {
            return Err(Refusal::Unauthenticated.into_response());
        };
        let caller = match self.auth.session_caller(&key).await {
            Ok(Some(caller)) => caller,
            Ok(None) => {
                self.sessions.close(session);
                return Err(Refusal::Unauthenticated.into_response());
            }
            Err(e) => return Err(Refusal::Store(e).into_response()),
        };
        if write && !crate::session::same_origin(headers, over_tls) {
            return Err(ApiError::cross_origin().into_response());
        }
        Ok(caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_only_in_their_exact_shape() {
        let secret = [0xab; 32];
        let text = format!("mo_abcdEFGH1234_{}", encode_hex(&secret));
        let key = PresentedKey::parse(&text).expect("a well-formed key");
        assert_eq!(key.id().as_str(), "abcdEFGH1234");
        assert!(key.matches(&hash_secret(&secret)));
        assert!(!key.matches(&hash_secret(&[0xac; 32])));
        assert!(
            !format!("{key:?}").contains("abab"),
            "Debug must hide the secret"
        );
        for bad in [
            "",
            "mo_",
            &text[3..],
            &format!("mo_short_{}", encode_hex(&secret)),
            &format!("mo_abcdEFGH1234_{}", &encode_hex(&secret)[1..]),
            &format!("mo_abcdEFGH1234_{}g", &encode_hex(&secret)[1..]),
            &format!("xx_abcdEFGH1234_{}", encode_hex(&secret)),
        ] {
            assert!(PresentedKey::parse(bad).is_none(), "{bad:?} must not parse");
        }
    }

    #[tokio::test]
    async fn key_uses_are_noted_once_a_minute_and_written_in_one_flush() {
        use std::sync::Arc;

        use missionops_core::{Clock, ManualClock, SequentialIds};
        use missionops_store::MemoryStore;

        let clock = Arc::new(ManualClock::new(
            Timestamp::parse("2025-01-01T00:00:00Z").expect("time"),
        ));
        let ops = MissionOps::new(
            Arc::new(MemoryStore::new()),
            clock.clone(),
            Arc::new(SequentialIds::new()),
        );
        let made = create_key(
            &ops,
            &Caller::open(),
            KeyName::parse("k").expect("name"),
            Role::Viewer,
            None,
        )
        .await
        .expect("key");
        let auth = Authenticator::new(ops.clone(), MAX_FAILURES);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {}", made.key)).expect("header"),
        );
        let first = clock.now();
        for _ in 0..5 {
            let caller = auth.authenticate(&headers, None).await.expect("valid key");
            assert_eq!(caller.role, Role::Viewer);
            clock.advance_millis(1_000);
        }
        let stored = || async {
            ops.find_key(&made.record.id)
                .await
                .expect("find")
                .expect("key")
        };
        assert_eq!(
            stored().await.last_used_at,
            None,
            "nothing is written per request"
        );
        auth.flush_uses().await.expect("flush");
        assert_eq!(
            stored().await.last_used_at,
            Some(first),
            "the first use of the minute is written"
        );
        auth.flush_uses().await.expect("an empty flush");
        assert_eq!(stored().await.last_used_at, Some(first));
    }

    #[test]
    fn hex_round_trips() {
        let bytes: [u8; 32] = std::array::from_fn(|i| (i * 37) as u8);
        assert_eq!(decode_hex(&encode_hex(&bytes)), Some(bytes));
    }
}
