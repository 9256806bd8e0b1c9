//! The conformance suite on the in-memory backend.

use std::sync::Arc;

use missionops_core::Store;
use missionops_store::MemoryStore;
use missionops_store::conformance::Guard;

async fn fresh() -> (Arc<dyn Store>, Guard) {
    (Arc::new(MemoryStore::new()), Box::new(()))
}

missionops_store::conformance_tests!(fresh);
missionops_store::tenancy_conformance_tests!(fresh);
