//! Containers: inheritance with restriction criteria picks the most specific container per
//! packet; packets of an APID no concrete container takes are unknown.

#![allow(clippy::unwrap_used)]

mod common;

use common::{definition, packet, tc_packet};
use missionops_core::ParameterValue;
use missionops_packets::{Decoder, OnError};

const TYPES: &str = r#"<IntegerParameterType name="U8"><IntegerDataEncoding sizeInBits="8"/></IntegerParameterType>"#;
const PARAMETERS: &str = r#"<Parameter name="common" parameterTypeRef="U8"/>
    <Parameter name="power" parameterTypeRef="U8"/>
    <Parameter name="thermal" parameterTypeRef="U8"/>
    <Parameter name="detail" parameterTypeRef="U8"/>
    <Parameter name="other" parameterTypeRef="U8"/>
    <Parameter name="command" parameterTypeRef="U8"/>"#;

/// Root (abstract, `common`) → Power (APID 10) → PowerDetail (APID 10 and secondary header);
/// Root → Thermal (APID 11..=20 except 15); Root → Commands (telecommands, any APID);
/// Root → Fallback (concrete, APID ≥ 1000).
const CONTAINERS: &str = r#"
<SequenceContainer name="Root" abstract="true">
  <EntryList><ParameterRefEntry parameterRef="common"/></EntryList>
  <BaseContainer containerRef="Tm"><RestrictionCriteria><Comparison parameterRef="CCSDS_Type" value="0"/></RestrictionCriteria></BaseContainer>
</SequenceContainer>
<SequenceContainer name="Tm" abstract="true"/>
<SequenceContainer name="Power">
  <EntryList><ParameterRefEntry parameterRef="power"/></EntryList>
  <BaseContainer containerRef="Root"><RestrictionCriteria><Comparison parameterRef="CCSDS_APID" value="10"/></RestrictionCriteria></BaseContainer>
</SequenceContainer>
<SequenceContainer name="PowerDetail">
  <EntryList><ParameterRefEntry parameterRef="detail"/></EntryList>
  <BaseContainer containerRef="Power"><RestrictionCriteria><Comparison parameterRef="CCSDS_SecHdrFlag" value="1"/></RestrictionCriteria></BaseContainer>
</SequenceContainer>
<SequenceContainer name="Thermal">
  <EntryList><ParameterRefEntry parameterRef="thermal"/></EntryList>
  <BaseContainer containerRef="Root"><RestrictionCriteria><ComparisonList>
    <Comparison parameterRef="CCSDS_APID" value="11" comparisonOperator="&gt;="/>
    <Comparison parameterRef="CCSDS_APID" value="20" comparisonOperator="&lt;="/>
    <Comparison parameterRef="CCSDS_APID" value="15" comparisonOperator="!="/>
  </ComparisonList></RestrictionCriteria></BaseContainer>
</SequenceContainer>
<SequenceContainer name="Commands">
  <EntryList><ParameterRefEntry parameterRef="command"/></EntryList>
  <BaseContainer containerRef="Tm"><RestrictionCriteria><Comparison parameterRef="/Test/CCSDS_Type" value="1"/></RestrictionCriteria></BaseContainer>
</SequenceContainer>
<SequenceContainer name="Fallback">
  <EntryList><ParameterRefEntry parameterRef="other"/></EntryList>
  <BaseContainer containerRef="Root"><RestrictionCriteria><Comparison parameterRef="CCSDS_APID" value="1000" comparisonOperator="&gt;"/></RestrictionCriteria></BaseContainer>
</SequenceContainer>"#;

fn decoder() -> Decoder {
    Decoder::from_xml(&definition(TYPES, PARAMETERS, CONTAINERS)).unwrap()
}

fn names(decoder: &Decoder, bytes: &[u8]) -> Option<Vec<String>> {
    let out = decoder.decode_buffer(bytes, OnError::Reject).unwrap();
    out.packets.first().map(|p| {
        p.parameters
            .names()
            .iter()
            .map(|n| n.as_str().to_owned())
            .collect()
    })
}

#[test]
fn the_apid_picks_the_derived_container_and_base_entries_come_first() {
    let d = decoder();
    assert_eq!(
        names(&d, &packet(10, 0, false, &[1, 2])).unwrap(),
        ["common", "power"]
    );
    let out = d
        .decode_buffer(&packet(10, 0, false, &[7, 9]), OnError::Reject)
        .unwrap();
    let p = &out.packets[0];
    assert_eq!(
        p.parameters.get("common"),
        Some(&ParameterValue::Number(7.0))
    );
    assert_eq!(
        p.parameters.get("power"),
        Some(&ParameterValue::Number(9.0))
    );
}

#[test]
fn a_deeper_container_wins_when_its_criteria_hold() {
    let d = decoder();
    assert_eq!(
        names(&d, &packet(10, 0, true, &[1, 2, 3])).unwrap(),
        ["common", "power", "detail"]
    );
}

#[test]
fn range_and_inequality_comparisons_select_apids() {
    let d = decoder();
    for apid in [11, 14, 16, 20] {
        assert_eq!(
            names(&d, &packet(apid, 0, false, &[1, 2])).unwrap(),
            ["common", "thermal"],
            "APID {apid}"
        );
    }
    for apid in [15, 21, 9, 1000] {
        assert_eq!(
            names(&d, &packet(apid, 0, false, &[1, 2])),
            None,
            "APID {apid}"
        );
    }
    assert_eq!(
        names(&d, &packet(2047, 0, false, &[1, 2])).unwrap(),
        ["common", "other"]
    );
}

#[test]
fn criteria_on_the_packet_type_separate_telecommands() {
    let d = decoder();
    assert_eq!(names(&d, &tc_packet(10, 0, &[5])).unwrap(), ["command"]);
}

#[test]
fn packets_of_unknown_apids_are_counted_and_skipped_not_errors() {
    let d = decoder();
    let mut buffer = packet(10, 0, false, &[1, 2]);
    buffer.extend(packet(15, 1, false, &[1, 2]));
    buffer.extend(packet(3, 2, false, &[1]));
    buffer.extend(packet(12, 3, false, &[1, 2]));
    let out = d.decode_buffer(&buffer, OnError::Reject).unwrap();
    assert_eq!(out.counts.packets, 4);
    assert_eq!(out.counts.unknown_apid, 2);
    assert_eq!(out.counts.malformed, 0);
    let seqs: Vec<_> = out.packets.iter().map(|p| p.sequence_count).collect();
    assert_eq!(seqs, [0, 3]);
}

#[test]
fn a_packet_shorter_than_its_container_is_malformed_at_its_offset() {
    let d = decoder();
    let mut buffer = packet(10, 0, false, &[1, 2]);
    buffer.extend(packet(10, 1, false, &[1]));
    let err = d.decode_buffer(&buffer, OnError::Reject).unwrap_err();
    assert_eq!(err.offset, 8);
    assert_eq!(
        err.to_string(),
        "packet at byte offset 8: 7 bytes long but its container `Power` needs 8"
    );
    let out = d.decode_buffer(&buffer, OnError::Skip).unwrap();
    assert_eq!((out.packets.len(), out.counts.malformed), (1, 1));
}

#[test]
fn references_resolve_through_nested_space_systems() {
    let xml = r#"<SpaceSystem name="Sat">
  <TelemetryMetaData>
    <ParameterTypeSet><IntegerParameterType name="U8"><IntegerDataEncoding/></IntegerParameterType></ParameterTypeSet>
    <ContainerSet><SequenceContainer name="Root" abstract="true"/></ContainerSet>
  </TelemetryMetaData>
  <SpaceSystem name="Power">
    <TelemetryMetaData>
      <ParameterSet><Parameter name="soc" parameterTypeRef="U8"/></ParameterSet>
    </TelemetryMetaData>
  </SpaceSystem>
  <SpaceSystem name="Thermal">
    <TelemetryMetaData>
      <ParameterSet><Parameter name="temp" parameterTypeRef="/Sat/U8"/></ParameterSet>
      <ContainerSet>
        <SequenceContainer name="Hk">
          <EntryList><ParameterRefEntry parameterRef="../Power/soc"/><ParameterRefEntry parameterRef="temp"/></EntryList>
          <BaseContainer containerRef="Root"><RestrictionCriteria><Comparison parameterRef="CCSDS_APID" value="5"/></RestrictionCriteria></BaseContainer>
        </SequenceContainer>
      </ContainerSet>
    </TelemetryMetaData>
  </SpaceSystem>
</SpaceSystem>"#;
    let d = Decoder::from_xml(xml).unwrap();
    assert_eq!(
        names(&d, &packet(5, 0, false, &[1, 2])).unwrap(),
        ["soc", "temp"]
    );
}
