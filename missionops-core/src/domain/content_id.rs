//! The id of a snapshot sent without one in bulk (an NDJSON body, an imported file), derived from
//! its content, so that sending or importing the same lines twice stores them once.

use uuid::Uuid;

use super::ids::{SnapshotId, SpacecraftId};
use super::snapshot::NewSnapshot;
use super::time::Timestamp;
use super::value::Parameters;

/// The UUIDv5 namespace of derived snapshot ids: `uuid5(NAMESPACE_URL,
/// "urn:missionops:telemetry-import")`. Fixed for good: changing it would change every derived
/// id, and a re-import of an old file would then store its snapshots a second time.
const NAMESPACE: Uuid = Uuid::from_u128(0x3758942f_6b08_5dd6_b805_4fab564470d1);

impl SnapshotId {
    /// The id of a snapshot sent without one, derived from its content: a UUID (version 8,
    /// "custom") whose first 48 bits are the sample time in Unix milliseconds, as in a UUIDv7,
    /// and whose other 74 bits are those of the UUIDv5 of its spacecraft, its timestamp (in the
    /// canonical millisecond UTC rendering, so `+02:00` and `Z` spellings of one instant agree)
    /// and its parameters as canonical JSON (in order, numbers as JavaScript prints them, so
    /// `15` and `15.0` agree).
    ///
    /// The same content always gets the same id; two snapshots that differ in anything get
    /// different ids. The time prefix is for the store: a plain UUIDv5 scatters the ids of a
    /// time-ordered import all over the primary-key index, which made a 1 M-snapshot SQLite
    /// import three times slower. Samples before 1970 get a zero prefix.
    ///
    /// ```
    /// use missionops_core::{Parameters, SnapshotId, SpacecraftId, Timestamp};
    ///
    /// let sc = SpacecraftId::parse("SC-1")?;
    /// let a = Parameters::from_json(&serde_json::json!({"t": 15.0}))?;
    /// let b = Parameters::from_json(&serde_json::json!({"t": 15}))?;
    /// let at = |s| Timestamp::parse(s);
    /// assert_eq!(
    ///     SnapshotId::derived(&sc, at("2025-01-01T02:00:00+02:00")?, &a),
    ///     SnapshotId::derived(&sc, at("2025-01-01T00:00:00Z")?, &b),
    /// );
    /// # Ok::<(), missionops_core::Error>(())
    /// ```
    pub fn derived(
        spacecraft: &SpacecraftId,
        timestamp: Timestamp,
        parameters: &Parameters,
    ) -> SnapshotId {
        let mut name = Vec::with_capacity(128);
        // Neither a spacecraft id nor a timestamp can contain a newline, so the parts cannot
        // run into each other.
        name.extend_from_slice(spacecraft.as_str().as_bytes());
        name.push(b'\n');
        name.extend_from_slice(timestamp.to_string().as_bytes());
        name.push(b'\n');
        // Serializing a validated parameter map cannot fail; an empty name part would still
        // give a stable id.
        if let Ok(json) = crate::js_json::to_vec_js(parameters) {
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
}

/// The UUIDv5 namespace of packet snapshot ids: `uuid5(NAMESPACE_URL,
/// "urn:missionops:packet")`. Fixed for good, as [`NAMESPACE`].
const PACKET_NAMESPACE: Uuid = Uuid::from_u128(0x5f826279_8b6e_5dcb_a508_7a3fff0cfffa);

impl SnapshotId {
    /// The id of the snapshot a Space Packet makes (SPEC §11): derived from its spacecraft,
    /// APID, sequence count and time only, so that a packet sent again is stored once. Laid out
    /// as [`SnapshotId::derived`] (time prefix, then hash bits).
    pub fn from_packet(
        spacecraft: &SpacecraftId,
        apid: u16,
        sequence_count: u16,
        time: Timestamp,
    ) -> SnapshotId {
        let name = format!(
            "{}\n{apid}\n{sequence_count}\n{}",
            spacecraft.as_str(),
            time.as_millis()
        );
        let hash = Uuid::new_v5(&PACKET_NAMESPACE, name.as_bytes()).into_bytes();
        let millis = u64::try_from(time.as_millis()).unwrap_or(0) & 0xFFFF_FFFF_FFFF;
        let mut bytes = [0u8; 16];
        bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
        bytes[6..].copy_from_slice(&hash[6..]);
        SnapshotId::from(uuid::Builder::from_custom_bytes(bytes).into_uuid())
    }
}

impl NewSnapshot {
    /// This snapshot with its content-derived id ([`SnapshotId::derived`]) when it has none;
    /// an id given is kept.
    pub fn with_derived_id(mut self) -> Self {
        if self.id.is_none() {
            self.id = Some(SnapshotId::derived(
                &self.spacecraft_id,
                self.timestamp,
                &self.parameters,
            ));
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The id the CLI derived for `SC-1`, `2025-01-01T00:00:00Z`, `{"t": 15, "m": "A"}` before
    /// the rule moved into the core.
    const PINNED: &str = "01941f29-7c00-86c3-9cb7-cdcb6b460742";

    fn params(value: serde_json::Value) -> Parameters {
        Parameters::from_json(&value).expect("parameters")
    }

    fn id(sc: &str, ts: &str, p: serde_json::Value) -> String {
        SnapshotId::derived(
            &SpacecraftId::parse(sc).expect("id"),
            Timestamp::parse(ts).expect("ts"),
            &params(p),
        )
        .into_string()
    }

    #[test]
    fn the_packet_namespace_is_the_uuid5_it_says() {
        assert_eq!(
            PACKET_NAMESPACE,
            Uuid::new_v5(&Uuid::NAMESPACE_URL, b"urn:missionops:packet")
        );
    }

    #[test]
    fn packet_ids_depend_on_spacecraft_apid_sequence_and_time_only() {
        let at = Timestamp::parse("2025-01-01T00:00:00Z").expect("ts");
        let a = SpacecraftId::parse("SC-1").expect("id");
        let b = SpacecraftId::parse("SC-2").expect("id");
        let id = SnapshotId::from_packet(&a, 100, 7, at);
        assert_eq!(id, SnapshotId::from_packet(&a, 100, 7, at));
        assert_ne!(id, SnapshotId::from_packet(&b, 100, 7, at));
        assert_ne!(id, SnapshotId::from_packet(&a, 101, 7, at));
        assert_ne!(id, SnapshotId::from_packet(&a, 100, 8, at));
        assert_ne!(id, SnapshotId::from_packet(&a, 100, 7, at.add_millis(1)));
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

    /// The ids the CLI derived before the rule moved into the core: files imported then must
    /// get the same ids now, or a re-import would store them twice.
    #[test]
    fn ids_are_byte_identical_to_those_derived_before() {
        assert_eq!(
            id("SC-1", "2025-01-01T00:00:00Z", json!({"t": 15, "m": "A"})),
            PINNED
        );
    }

    #[test]
    fn an_id_given_is_kept_and_a_missing_one_derived() {
        let new = |id: Option<&str>| NewSnapshot {
            id: id.map(|i| SnapshotId::parse(i).expect("id")),
            spacecraft_id: SpacecraftId::parse("SC-1").expect("sc"),
            timestamp: Timestamp::parse("2025-01-01T00:00:00Z").expect("ts"),
            parameters: params(json!({"t": 15, "m": "A"})),
        };
        assert_eq!(
            new(Some("mine")).with_derived_id().id.expect("id").as_str(),
            "mine"
        );
        assert_eq!(new(None).with_derived_id().id.expect("id").as_str(), PINNED);
    }
}
