//! The write probe of the memory store: a map in memory cannot refuse a write.

use missionops_core::WriteProbe;

use super::MemoryStore;

impl WriteProbe for MemoryStore {}
