//! The outbox cases on the in-memory store.

use std::sync::Arc;

use missionops_store::MemoryStore;

#[macro_use]
#[path = "support/outbox_suite.rs"]
mod suite;

use suite::{Guard, TestStore};

async fn fresh() -> (Arc<dyn TestStore>, Guard) {
    (Arc::new(MemoryStore::new()), Box::new(()))
}

outbox_suite!(fresh);
