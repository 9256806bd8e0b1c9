//! Who is asking (SPEC §9): the tenant a request acts in, the role it holds and the actor named
//! in the audit trail. Authentication happens at the edge (HTTP); the core only receives the
//! resulting [`Caller`] and trusts it.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::text::text_newtype;
use super::time::Timestamp;
use crate::error::{Error, Result};

text_newtype!(
    /// The tenant that owns a record (`default`, `mission-a`): 1–64 bytes, no whitespace,
    /// control characters or `/`. Everything a key creates belongs to the key's tenant.
    TenantId, field = "tenant", max = 64, rule = Identifier
);
text_newtype!(
    /// The public part of an API key (`mo_<keyId>_<secret>`): 12–64 letters and digits.
    ApiKeyId, field = "keyId", max = 64, rule = Identifier
);
text_newtype!(
    /// The human name of an API key (`ground-station-1`, `alice`): 1–128 bytes. It is what the
    /// audit trail and `acknowledgedBy` show.
    KeyName, field = "name", max = 128, rule = Label
);

impl TenantId {
    /// The tenant of data stored before tenants existed, and of the open mode.
    pub fn default_tenant() -> Self {
        TenantId("default".into())
    }

    /// Whether this is the `default` tenant.
    pub fn is_default(&self) -> bool {
        &*self.0 == "default"
    }
}

/// `default`: what a record made without naming a tenant (the CLI, embedding, data stored
/// before tenants existed) belongs to.
impl Default for TenantId {
    fn default() -> Self {
        TenantId::default_tenant()
    }
}

impl ApiKeyId {
    /// The shortest accepted key id.
    pub const MIN_LEN: usize = 12;

    /// Parses a key id: [`ApiKeyId::parse`] plus the SPEC's shape, 12 or more ASCII letters
    /// and digits.
    pub fn parse_strict(value: impl Into<String>) -> Result<Self> {
        let value = value.into();
        if value.len() < Self::MIN_LEN || !value.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Error::invalid(
                Self::FIELD,
                format!(
                    "must be at least {} ASCII letters and digits",
                    Self::MIN_LEN
                ),
            ));
        }
        Self::parse(value)
    }
}

/// What a key may do, each role including the ones before it (SPEC §9):
/// `viewer < operator < engineer < admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Every read and the event stream.
    Viewer,
    /// + telemetry and packet ingest, alarm acknowledge/shelve/unshelve, detect.
    Operator,
    /// + configurations, packet definitions, documents, spacecraft registration.
    Engineer,
    /// + keys of its tenant, outbox retry.
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Operator, Role::Engineer, Role::Admin];

    /// The role's name as the API and CLI spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Engineer => "engineer",
            Role::Admin => "admin",
        }
    }

    /// Parses `viewer`, `operator`, `engineer` or `admin`.
    pub fn parse(value: &str) -> Result<Self> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == value)
            .ok_or_else(|| {
                Error::invalid("role", "must be one of viewer, operator, engineer, admin")
            })
    }

    /// Whether this role includes everything `needed` may do.
    pub fn includes(self, needed: Role) -> bool {
        self >= needed
    }

    /// The role just below this one, if any (the table test of SPEC §9 uses it).
    pub fn below(self) -> Option<Role> {
        match self {
            Role::Viewer => None,
            Role::Operator => Some(Role::Viewer),
            Role::Engineer => Some(Role::Operator),
            Role::Admin => Some(Role::Engineer),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = Error;
    fn from_str(value: &str) -> Result<Self> {
        Role::parse(value)
    }
}

/// Who caused an event, as the audit trail records it (`metadata.actor`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Actor {
    /// No key: the open mode (no key exists yet), the CLI working on the database directly,
    /// or the server's own clock tick.
    Anonymous,
    /// An API key, by its public id and name (never its secret).
    Key {
        /// The key's public id.
        id: ApiKeyId,
        /// The key's name.
        name: KeyName,
    },
}

impl Actor {
    /// The actor as event metadata: `{"keyId": …, "name": …}` for a key, `"anonymous"`
    /// otherwise.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Actor::Anonymous => serde_json::Value::String("anonymous".into()),
            Actor::Key { id, name } => {
                serde_json::json!({"keyId": id.as_str(), "name": name.as_str()})
            }
        }
    }

    /// The key's name, if the actor is a key.
    pub fn key_name(&self) -> Option<&KeyName> {
        match self {
            Actor::Anonymous => None,
            Actor::Key { name, .. } => Some(name),
        }
    }
}

/// The authenticated caller of a use case: the tenant it acts in, its role and the actor the
/// audit trail names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The tenant whose data the caller sees and writes.
    pub tenant: TenantId,
    /// What the caller may do.
    pub role: Role,
    /// Who the caller is.
    pub actor: Actor,
}

impl Caller {
    /// The caller of the open mode (no key exists yet) and of the CLI on the database: the
    /// anonymous admin of the `default` tenant.
    pub fn open() -> Self {
        Caller {
            tenant: TenantId::default_tenant(),
            role: Role::Admin,
            actor: Actor::Anonymous,
        }
    }

    /// The anonymous admin of `tenant` (the CLI's `--tenant`).
    pub fn operator_of(tenant: TenantId) -> Self {
        Caller {
            tenant,
            ..Caller::open()
        }
    }
}

/// The SHA-256 hash of a key's secret, the only form in which a secret is stored. The secret
/// itself is made and hashed at the edge (the core has no randomness of the OS); 256 random
/// bits need no salt or slow hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecretHash(pub [u8; 32]);

impl fmt::Debug for SecretHash {
    /// Never printed: a hash in a log line would help nobody and is still key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

impl SecretHash {
    /// A hash read back from storage, which must be exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        <[u8; 32]>::try_from(bytes)
            .map(SecretHash)
            .map_err(|_| Error::invalid("secretHash", "must be 32 bytes"))
    }
}

/// How long a new key stays valid (`expiresIn`: `90d`, `12h`, `30m`, `45s`; 1 s to 10 years).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyLifetime {
    millis: i64,
}

impl KeyLifetime {
    /// The longest lifetime accepted: ten years.
    pub const MAX_MILLIS: i64 = 10 * 366 * 86_400_000;

    /// Parses a number followed by `d`, `h`, `m` or `s`.
    pub fn parse(value: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(
                "expiresIn",
                format!(
                    "must be a whole number followed by d, h, m or s (like 90d or 12h), up to 10 years; got {}",
                    crate::error::quote(value)
                ),
            )
        };
        let unit = value.chars().last().ok_or_else(bad)?;
        let per_unit: i64 = match unit {
            'd' => 86_400_000,
            'h' => 3_600_000,
            'm' => 60_000,
            's' => 1_000,
            _ => return Err(bad()),
        };
        let digits = &value[..value.len() - 1];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let count: i64 = digits.parse().map_err(|_| bad())?;
        let millis = count.checked_mul(per_unit).ok_or_else(bad)?;
        if !(1_000..=Self::MAX_MILLIS).contains(&millis) {
            return Err(bad());
        }
        Ok(KeyLifetime { millis })
    }

    /// The lifetime in milliseconds.
    pub fn as_millis(self) -> i64 {
        self.millis
    }
}

/// A stored API key (SPEC §9): everything but its secret, of which only the hash is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The public id (`mo_<id>_…`).
    pub id: ApiKeyId,
    /// Its human name.
    pub name: KeyName,
    /// The tenant it acts in.
    pub tenant: TenantId,
    /// What it may do.
    pub role: Role,
    /// SHA-256 of the secret.
    pub secret_hash: SecretHash,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it stops working, if ever.
    pub expires_at: Option<Timestamp>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
    /// When it was last used, to the minute (see `KeyRepository::record_key_use`).
    pub last_used_at: Option<Timestamp>,
}

impl ApiKey {
    /// Whether the key authenticates a request at `now`: not revoked, not expired.
    pub fn is_active_at(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|expires| now < expires)
    }

    /// The caller a request authenticated with this key acts as.
    pub fn caller(&self) -> Caller {
        Caller {
            tenant: self.tenant.clone(),
            role: self.role,
            actor: Actor::Key {
                id: self.id.clone(),
                name: self.name.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_include_the_ones_before_them() {
        assert!(Role::Admin.includes(Role::Viewer));
        assert!(Role::Engineer.includes(Role::Engineer));
        assert!(!Role::Operator.includes(Role::Engineer));
        assert_eq!(Role::Engineer.below(), Some(Role::Operator));
        assert_eq!(Role::Viewer.below(), None);
    }

    #[test]
    fn roles_parse_their_own_names_only() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()).unwrap(), role);
        }
        assert!(Role::parse("root").is_err());
        assert!(Role::parse("Admin").is_err());
    }

    #[test]
    fn key_ids_are_twelve_or_more_letters_and_digits() {
        assert!(ApiKeyId::parse_strict("abcdEFGH1234").is_ok());
        assert!(ApiKeyId::parse_strict("abcdEFGH123").is_err());
        assert!(ApiKeyId::parse_strict("abcdEFGH123_").is_err());
    }

    #[test]
    fn key_lifetimes_are_a_number_and_a_unit() {
        assert_eq!(
            KeyLifetime::parse("90d").unwrap().as_millis(),
            90 * 86_400_000
        );
        assert_eq!(
            KeyLifetime::parse("12h").unwrap().as_millis(),
            12 * 3_600_000
        );
        assert_eq!(KeyLifetime::parse("30m").unwrap().as_millis(), 1_800_000);
        assert_eq!(KeyLifetime::parse("45s").unwrap().as_millis(), 45_000);
        for bad in ["", "d", "90", "-1d", "1.5h", "0s", "99999d", "90 d", "1w"] {
            assert!(KeyLifetime::parse(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn a_key_is_active_until_it_expires_or_is_revoked() {
        let at = |ms| Timestamp::from_millis(ms).unwrap();
        let mut key = ApiKey {
            id: ApiKeyId::parse("abcdEFGH1234").unwrap(),
            name: KeyName::parse("alice").unwrap(),
            tenant: TenantId::default_tenant(),
            role: Role::Operator,
            secret_hash: SecretHash([7; 32]),
            created_at: at(0),
            expires_at: Some(at(1_000)),
            revoked_at: None,
            last_used_at: None,
        };
        assert!(key.is_active_at(at(999)));
        assert!(!key.is_active_at(at(1_000)));
        key.expires_at = None;
        assert!(key.is_active_at(at(5_000)));
        key.revoked_at = Some(at(2_000));
        assert!(!key.is_active_at(at(1)));
        assert_eq!(key.caller().role, Role::Operator);
        assert_eq!(format!("{:?}", key.secret_hash), "SecretHash(..)");
    }

    #[test]
    fn the_audit_actor_names_a_key_by_id_and_name_only() {
        let actor = Actor::Key {
            id: ApiKeyId::parse("abcdEFGH1234").unwrap(),
            name: KeyName::parse("alice").unwrap(),
        };
        assert_eq!(
            actor.to_json(),
            serde_json::json!({"keyId": "abcdEFGH1234", "name": "alice"})
        );
        assert_eq!(Actor::Anonymous.to_json(), serde_json::json!("anonymous"));
    }
}
