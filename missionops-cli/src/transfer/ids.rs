//! Ids for imported snapshots that come without one, derived from their content.

use missionops_core::{Parameters, SnapshotId, SpacecraftId, Timestamp};
use uuid::Uuid;

/// The UUIDv5 namespace of derived snapshot ids: `uuid5(NAMESPACE_URL,
/// "urn:missionops:telemetry-import")`. Fixed for good: changing it would change every derived
/// id, and a re-import of an old file would then store its snapshots a second time.
const NAMESPACE: Uuid = Uuid::from_u128(0x3758942f_6b08_5dd6_b805_4fab564470d1);

/// The id of a snapshot imported without one, derived from its content: a UUID (version 8,
/// "custom") whose first 48 bits are the sample time in Unix milliseconds, as in a UUIDv7, and
/// whose other 74 bits are those of the UUIDv5 of its spacecraft, its timestamp (in the canonical
/// millisecond UTC rendering, so `+02:00` and `Z` spellings of one instant agree) and its
/// parameters as canonical JSON (in order, numbers as JavaScript prints them, so `15` and `15.0`
/// agree).
///
/// The same content always gets the same id, so importing a file twice stores it once; two
/// snapshots that differ in anything get different ids. The time prefix is for the store: a
/// plain UUIDv5 scatters the ids of a time-ordered import all over the primary-key index, which
/// made a 1 M-snapshot SQLite import three times slower. Samples before 1970 get a zero prefix.
pub(crate) fn derived_id(
    spacecraft: &SpacecraftId,
    timestamp: Timestamp,
    parameters: &Parameters,
) -> SnapshotId {
    let mut name = Vec::with_capacity(128);
    // Neither a spacecraft id nor a timestamp can contain a newline, so the parts cannot run
    // into each other.
    name.extend_from_slice(spacecraft.as_str().as_bytes());
    name.push(b'\n');
    name.extend_from_slice(timestamp.to_string().as_bytes());
    name.push(b'\n');
    // Serializing a validated parameter map cannot fail; an empty name part would still give a
    // stable id.
    if let Ok(json) = missionops_core::json::to_vec_js(parameters) {
        name.extend_from_slice(&json);
    }
    let hash = Uuid::new_v5(&NAMESPACE, &name).into_bytes();
    // The sample time leads, as in a UUIDv7, so that the ids of a time-ordered import land
    // next to each other in the store's primary-key index instead of all over it.
    let millis = u64::try_from(timestamp.as_millis()).unwrap_or(0) & 0xFFFF_FFFF_FFFF;
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    bytes[6..].copy_from_slice(&hash[6..]);
    SnapshotId::from(uuid::Builder::from_custom_bytes(bytes).into_uuid())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(value: serde_json::Value) -> Parameters {
        Parameters::from_json(&value).expect("parameters")
    }

    fn id(sc: &str, ts: &str, p: serde_json::Value) -> String {
        derived_id(
            &SpacecraftId::parse(sc).expect("id"),
            Timestamp::parse(ts).expect("ts"),
            &params(p),
        )
        .into_string()
    }

    #[test]
    fn the_namespace_is_the_documented_one() {
        assert_eq!(
            NAMESPACE,
            Uuid::new_v5(&Uuid::NAMESPACE_URL, b"urn:missionops:telemetry-import")
        );
    }

    #[test]
    fn the_same_content_gets_the_same_id_however_it_is_spelled() {
        let a = id(
            "SC-1",
            "2025-01-01T02:00:00+02:00",
            json!({"t": 15.0, "m": "A"}),
        );
        let b = id(
            "SC-1",
            "2025-01-01T00:00:00.000Z",
            json!({"t": 15, "m": "A"}),
        );
        assert_eq!(a, b);
        assert_eq!(Uuid::parse_str(&a).expect("uuid").get_version_num(), 8);
    }

    #[test]
    fn any_difference_gives_another_id() {
        let base = id("SC-1", "2025-01-01T00:00:00Z", json!({"t": 15, "m": "A"}));
        for other in [
            id("SC-2", "2025-01-01T00:00:00Z", json!({"t": 15, "m": "A"})),
            id(
                "SC-1",
                "2025-01-01T00:00:00.001Z",
                json!({"t": 15, "m": "A"}),
            ),
            id("SC-1", "2025-01-01T00:00:00Z", json!({"t": 16, "m": "A"})),
            id("SC-1", "2025-01-01T00:00:00Z", json!({"m": "A", "t": 15})),
            id("SC-1", "2025-01-01T00:00:00Z", json!({"t": "15", "m": "A"})),
        ] {
            assert_ne!(base, other);
        }
    }
}
