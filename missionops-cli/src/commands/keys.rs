//! `keys create|list|revoke`: API keys, on the database directly as the installation's
//! operator. A new key is printed once; listings never show a secret.

use missionops_core::{ApiKey, ApiKeyId, Caller, Error, KeyLifetime, KeyName, MissionOps, Role};
use serde_json::json;

use crate::args::KeysCommand;
use crate::output::{Output, or_dash};

fn key_json(key: &ApiKey) -> serde_json::Value {
    json!({
        "id": key.id.as_str(),
        "name": key.name.as_str(),
        "tenant": key.tenant.as_str(),
        "role": key.role.as_str(),
        "createdAt": key.created_at,
        "expiresAt": key.expires_at,
        "revokedAt": key.revoked_at,
        "lastUsedAt": key.last_used_at,
    })
}

/// Runs one `keys` subcommand.
/// `ops` acts in the tenant of `--tenant`: keys are created in it and listed from it.
pub(crate) async fn keys(
    ops: &MissionOps,
    out: Output,
    command: KeysCommand,
) -> anyhow::Result<()> {
    match command {
        KeysCommand::Create {
            name,
            role,
            expires_in,
        } => {
            let caller = Caller::operator_of(ops.tenant().clone());
            let name = KeyName::parse(name)?;
            let role = Role::parse(&role)?;
            let lifetime = expires_in.as_deref().map(KeyLifetime::parse).transpose()?;
            let made = missionops_http::create_key(ops, &caller, name, role, lifetime).await?;
            eprintln!(
                "warning: this key is shown only now; store it safely, it cannot be shown again"
            );
            if out.is_json() {
                let mut value = key_json(&made.record);
                value["key"] = json!(made.key);
                return out.json(&value);
            }
            out.line(&made.key)
        }
        KeysCommand::List => {
            let caller = Caller::operator_of(ops.tenant().clone());
            let keys = ops.list_keys(&caller).await?;
            if out.is_json() {
                return out.json(&keys.iter().map(key_json).collect::<Vec<_>>());
            }
            let mut table = out.table([
                "id",
                "name",
                "role",
                "created",
                "expires",
                "revoked",
                "last used",
            ]);
            for key in &keys {
                table.add_row(vec![
                    key.id.to_string(),
                    key.name.to_string(),
                    key.role.to_string(),
                    key.created_at.to_string(),
                    or_dash(key.expires_at),
                    or_dash(key.revoked_at),
                    or_dash(key.last_used_at),
                ]);
            }
            out.table_or(&table, "No keys: the server runs open.")
        }
        KeysCommand::Revoke { key_id } => {
            let id = ApiKeyId::parse(key_id)?;
            // The installation's operator may revoke a key of any tenant: revoke it in its own.
            let key = ops
                .find_key(&id)
                .await?
                .ok_or_else(|| Error::not_found("key", &id))?;
            let revoked = ops
                .revoke_key(&Caller::operator_of(key.tenant.clone()), &id)
                .await?;
            out.either(&key_json(&revoked), || {
                format!("Key {id} revoked; running servers refuse it within a second.")
            })
        }
    }
}
