//! Handlers: each parses its input into domain values, calls one application service and
//! renders the result. No business rule lives here.

pub mod anomalies;
pub mod docs;
pub mod events;
pub mod keys;
pub mod ops;
pub mod outbox;
pub mod packets;
pub mod session;
pub mod spacecraft;
pub mod telemetry;

/// Runs a write on a task of its own, so that it completes even when the client goes away or
/// the request times out: a store write cut off mid-transaction can hold SQLite's single
/// writer connection until the pool gives up on it, and the client's retry of a write that did
/// commit is idempotent anyway.
pub(crate) async fn completed<T, W>(write: W) -> Result<T, crate::error::ApiError>
where
    T: Send + 'static,
    W: std::future::Future<Output = missionops_core::Result<T>> + Send + 'static,
{
    match tokio::spawn(write).await {
        Ok(result) => result.map_err(crate::error::ApiError::from),
        Err(join) => {
            Err(missionops_core::Error::backend(format!("a write task ended: {join}")).into())
        }
    }
}
