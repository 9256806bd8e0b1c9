//! Black-box tests of the HTTP service: the real server on port 0 over a fresh store, spoken to
//! over HTTP.

mod bad_requests;
mod beyond;
mod compat;
mod helpers;
mod openapi;
mod sse;
