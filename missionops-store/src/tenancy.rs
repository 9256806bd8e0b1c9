//! Tenancy in the durable backends.

use missionops_core::{Error, Result, TenantId};

/// Refuses every tenant but `default`: the PostgreSQL schema has no tenant column yet (SQLite's
/// has, since its migration 0009), so a record of another tenant could not be kept apart there.
/// Refusing is what keeps tenants from seeing each other's data until then.
pub(crate) fn only_default(tenant: &TenantId) -> Result<()> {
    if tenant.is_default() {
        Ok(())
    } else {
        Err(Error::invalid(
            "tenant",
            "this backend keeps only the `default` tenant (its schema has no tenants yet)",
        ))
    }
}
