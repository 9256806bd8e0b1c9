//! Browser sign-in (SPEC §9, the console's paragraph): a key posted once becomes a session
//! cookie (see `session`); who the session is; sign-out. All three are public routes: they
//! authenticate (or end) the session themselves.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use missionops_core::{Caller, Role};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, ok};
use crate::session::{OverTls, clear_cookie, cookie_of, may_sign_in, same_origin, set_cookie};
use crate::state::AppState;

/// The body of `POST /session`.
#[derive(Deserialize)]
pub struct SignIn {
    /// The API key, `mo_<keyId>_<secret>`. Never logged or echoed.
    key: String,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignIn { key: … }")
    }
}

/// Who a browser session is.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    /// Whether the server needs a key (`false` in open mode: no sign-in).
    auth_required: bool,
    /// Whether the request is signed in (always in open mode).
    signed_in: bool,
    /// The key's name (`null` in open mode or when not signed in).
    name: Option<String>,
    /// The role, which decides what the console offers.
    role: Option<Role>,
    /// The tenant whose data the session sees.
    tenant: Option<String>,
}

impl SessionView {
    fn of(caller: &Caller, auth_required: bool) -> Self {
        SessionView {
            auth_required,
            signed_in: true,
            name: caller.actor.key_name().map(ToString::to_string),
            role: Some(caller.role),
            tenant: Some(caller.tenant.to_string()),
        }
    }

    fn signed_out() -> Self {
        SessionView {
            auth_required: true,
            signed_in: false,
            name: None,
            role: None,
            tenant: None,
        }
    }
}

fn over_tls(over_tls: Option<axum::Extension<OverTls>>) -> bool {
    over_tls.is_some()
}

/// Signs a key in: answers who it is and sets the session cookie (`HttpOnly`,
/// `SameSite=Strict`, `Path=/`, `Secure` under TLS). In open mode nothing is needed and no
/// cookie is set.
#[utoipa::path(post, path = "/session", tag = "session",
    request_body(content = Object, description = "`{key}`: an API key, sent once; the browser then holds only a session cookie"),
    responses((status = 200, description = "`{authRequired, signedIn, name, role, tenant}`, with `Set-Cookie`"),
        (status = 400, body = ErrorBody, description = "no key in the body"),
        (status = 401, body = ErrorBody, description = "not a valid key (the same answer for every cause)"),
        (status = 403, body = ErrorBody, description = "posted by a page of another origin"),
        (status = 429, body = ErrorBody, description = "too many failed authentications")))]
#[tracing::instrument(skip_all)]
pub async fn sign_in(
    State(state): State<AppState>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    tls: Option<axum::Extension<OverTls>>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SignIn>,
) -> Result<Response, ApiError> {
    let over_tls = over_tls(tls);
    if !may_sign_in(&headers, over_tls) {
        return Err(ApiError::cross_origin());
    }
    if !state.auth.auth_enabled().await? {
        return Ok(ok(SessionView::of(&Caller::open(), false)).into_response());
    }
    let client = peer.map(|axum::Extension(ConnectInfo(addr))| addr.ip());
    let caller = match state.auth.sign_in(&body.key, client).await {
        Ok(caller) => caller,
        Err(refusal) => return Ok(refusal.into_response()),
    };
    let key = match &caller.actor {
        missionops_core::Actor::Key { id, .. } => id.clone(),
        missionops_core::Actor::Anonymous => {
            return Ok(ok(SessionView::of(&caller, true)).into_response());
        }
    };
    let session = state.sessions.open(key)?;
    let mut response = ok(SessionView::of(&caller, true)).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&session, over_tls));
    Ok(response)
}

/// Who the request's session is: signed in (name, role, tenant), signed out, or open mode.
/// Always 200, so the console can ask before it has a session.
#[utoipa::path(get, path = "/session", tag = "session",
    responses((status = 200, description = "`{authRequired, signedIn, name, role, tenant}`")))]
#[tracing::instrument(skip_all)]
pub async fn current(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !state.auth.auth_enabled().await? {
        return Ok(ok(SessionView::of(&Caller::open(), false)).into_response());
    }
    let Some(session) = cookie_of(&headers) else {
        return Ok(ok(SessionView::signed_out()).into_response());
    };
    let caller = match state.sessions.key_of(session) {
        Some(key) => state.auth.session_caller(&key).await?,
        None => None,
    };
    Ok(match caller {
        Some(caller) => ok(SessionView::of(&caller, true)).into_response(),
        None => {
            state.sessions.close(session);
            ok(SessionView::signed_out()).into_response()
        }
    })
}

/// Signs out: ends the session and clears its cookie. A request with a session cookie must
/// be same-origin (403 otherwise); one without has nothing to end (204).
#[utoipa::path(delete, path = "/session", tag = "session",
    responses((status = 204, description = "signed out"),
        (status = 403, body = ErrorBody, description = "a cross-origin request carrying the cookie")))]
#[tracing::instrument(skip_all)]
pub async fn sign_out(
    State(state): State<AppState>,
    tls: Option<axum::Extension<OverTls>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let over_tls = over_tls(tls);
    let Some(session) = cookie_of(&headers) else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    if !same_origin(&headers, over_tls) {
        return Err(ApiError::cross_origin());
    }
    state.sessions.close(session);
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, clear_cookie(over_tls))],
    )
        .into_response())
}
