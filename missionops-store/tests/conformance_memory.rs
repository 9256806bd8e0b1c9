//! The conformance suite on the in-memory backend.

missionops_store::conformance_tests!(missionops_store::MemoryStore::new());
