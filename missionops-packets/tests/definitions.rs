//! Definitions: anything outside the XTCE subset is refused naming the element or attribute and
//! its line; unknown references and duplicates are refused naming them.

#![allow(clippy::unwrap_used)]

mod common;

use common::{container, definition};
use missionops_packets::{Decoder, Definition, DefinitionError};

const U8: &str = r#"<IntegerParameterType name="U8"><IntegerDataEncoding sizeInBits="8"/></IntegerParameterType>"#;

fn error_of(xml: &str) -> DefinitionError {
    Decoder::from_xml(xml).unwrap_err()
}

/// The 1-based line of the first occurrence of `needle` in `xml`.
fn line_of(xml: &str, needle: &str) -> u32 {
    let at = xml
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} not in the XML"));
    xml[..at].matches('\n').count() as u32 + 1
}

#[test]
fn unsupported_elements_are_refused_with_their_name_and_line() {
    // (a fragment placed inside the parameter type set, the element it brings)
    let cases = [
        (
            r#"<ArrayParameterType name="A" arrayTypeRef="U8"/>"#,
            "ArrayParameterType",
        ),
        (
            r#"<IntegerParameterType name="X"><IntegerDataEncoding/><ContextAlarmList/></IntegerParameterType>"#,
            "ContextAlarmList",
        ),
        (
            r#"<IntegerParameterType name="X"><IntegerDataEncoding><DefaultCalibrator><SplineCalibrator/></DefaultCalibrator></IntegerDataEncoding></IntegerParameterType>"#,
            "SplineCalibrator",
        ),
        (
            r#"<FloatParameterType name="X"><FloatDataEncoding/><DefaultAlarm><StaticAlarmRanges><SevereRange maxInclusive="3"/></StaticAlarmRanges></DefaultAlarm></FloatParameterType>"#,
            "SevereRange",
        ),
        (
            r#"<EnumeratedParameterType name="X"><IntegerDataEncoding><DefaultCalibrator/></IntegerDataEncoding><EnumerationList/></EnumeratedParameterType>"#,
            "DefaultCalibrator",
        ),
    ];
    for (fragment, element) in cases {
        let xml = definition(&format!("{U8}\n{fragment}"), "", "");
        match error_of(&xml) {
            DefinitionError::UnsupportedElement {
                element: got, line, ..
            } => {
                assert_eq!(got, element);
                assert_eq!(line, line_of(&xml, &format!("<{element}")), "{element}");
            }
            other => panic!("{element}: {other:?}"),
        }
    }
}

#[test]
fn unsupported_elements_elsewhere_in_the_document_are_refused_too() {
    let xml = definition(U8, "", "")
        .replace("<ParameterSet>", "<ParameterSet>\n<Parameter name=\"p\" parameterTypeRef=\"U8\"><ParameterProperties/></Parameter>")
        .replace(
            "</TelemetryMetaData>",
            "</TelemetryMetaData>\n<CommandMetaData/>",
        );
    let err = error_of(&xml);
    assert_eq!(
        err.to_string(),
        format!(
            "line {}: element `ParameterProperties` is not supported (inside `Parameter`)",
            line_of(&xml, "<ParameterProperties")
        )
    );
    let xml = definition(U8, "", "").replace(
        "</TelemetryMetaData>",
        "</TelemetryMetaData>\n<CommandMetaData/>",
    );
    assert!(matches!(
        error_of(&xml),
        DefinitionError::UnsupportedElement { element, parent, .. }
            if element == "CommandMetaData" && parent == "SpaceSystem"
    ));
}

#[test]
fn unsupported_attributes_are_refused_with_their_name_and_line() {
    let cases = [
        (
            r#"<IntegerParameterType name="X" initialValue="3"><IntegerDataEncoding/></IntegerParameterType>"#,
            "initialValue",
        ),
        (
            r#"<IntegerParameterType name="X"><IntegerDataEncoding bitOrder="leastSignificantBitFirst"/></IntegerParameterType>"#,
            "bitOrder",
        ),
        (
            r#"<FloatParameterType name="X"><FloatDataEncoding/><DefaultAlarm><StaticAlarmRanges><WarningRange minExclusive="3"/></StaticAlarmRanges></DefaultAlarm></FloatParameterType>"#,
            "minExclusive",
        ),
        (
            r#"<BooleanParameterType name="X" oneStringValue="ON"><IntegerDataEncoding/></BooleanParameterType>"#,
            "oneStringValue",
        ),
    ];
    for (fragment, attribute) in cases {
        // The attribute on a line of its own, to check the line is the attribute's.
        let fragment = fragment.replace(&format!(" {attribute}="), &format!("\n {attribute}="));
        let xml = definition(&format!("{U8}\n{fragment}"), "", "");
        match error_of(&xml) {
            DefinitionError::UnsupportedAttribute {
                attribute: got,
                line,
                ..
            } => {
                assert_eq!(got, attribute);
                assert_eq!(
                    line,
                    line_of(&xml, &format!(" {attribute}=")),
                    "{attribute}"
                );
            }
            other => panic!("{attribute}: {other:?}"),
        }
    }
}

#[test]
fn namespaces_prefixes_and_the_schema_location_are_accepted() {
    let xml = r#"<?xml version="1.0"?>
<xtce:SpaceSystem name="S" xmlns:xtce="http://www.omg.org/spec/XTCE/20180204"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:schemaLocation="http://www.omg.org/spec/XTCE/20180204 SpaceSystem.xsd">
  <xtce:TelemetryMetaData>
    <xtce:ParameterTypeSet><xtce:IntegerParameterType name="U8"><xtce:IntegerDataEncoding/></xtce:IntegerParameterType></xtce:ParameterTypeSet>
  </xtce:TelemetryMetaData>
</xtce:SpaceSystem>"#;
    Decoder::from_xml(xml).unwrap();
    let foreign = xml.replace(
        "<xtce:TelemetryMetaData>",
        r#"<ext:Extra xmlns:ext="urn:other"/><xtce:TelemetryMetaData>"#,
    );
    assert!(matches!(
        error_of(&foreign),
        DefinitionError::UnsupportedElement { element, .. } if element == "Extra"
    ));
}

#[test]
fn unknown_references_are_refused_naming_them() {
    let xml = definition(U8, r#"<Parameter name="p" parameterTypeRef="U16"/>"#, "");
    assert_eq!(
        error_of(&xml).to_string(),
        format!(
            "line {}: parameter type `U16` is not defined",
            line_of(&xml, "<Parameter ")
        )
    );
    let xml = definition(
        U8,
        r#"<Parameter name="p" parameterTypeRef="U8"/>"#,
        &container("C", 1, &["p", "missing"]),
    );
    assert!(matches!(
        error_of(&xml),
        DefinitionError::UnknownReference { kind: "parameter", name, .. } if name == "missing"
    ));
    let xml = definition(
        U8,
        "",
        r#"<SequenceContainer name="C"><BaseContainer containerRef="Nowhere"/></SequenceContainer>"#,
    );
    assert!(matches!(
        error_of(&xml),
        DefinitionError::UnknownReference { kind: "container", name, .. } if name == "Nowhere"
    ));
}

#[test]
fn duplicates_are_refused_naming_them() {
    let xml = definition(&format!("{U8}\n{U8}"), "", "");
    assert_eq!(
        error_of(&xml).to_string(),
        format!(
            "line {}: parameter type `U8` is defined more than once",
            line_of(&xml, "<IntegerParameterType") + 1
        )
    );
    let xml = definition(
        U8,
        r#"<Parameter name="p" parameterTypeRef="U8"/><Parameter name="p" parameterTypeRef="U8"/>"#,
        "",
    );
    assert!(matches!(
        error_of(&xml),
        DefinitionError::Duplicate { kind: "parameter", name, .. } if name == "p"
    ));
    let xml = definition(
        U8,
        r#"<Parameter name="p" parameterTypeRef="U8"/>"#,
        &container("C", 1, &["p", "p"]),
    );
    assert!(matches!(
        error_of(&xml),
        DefinitionError::Duplicate { kind: "parameter entry", name, .. } if name == "p"
    ));
}

#[test]
fn bad_values_are_refused_naming_the_element() {
    let cases = [
        (
            r#"<IntegerParameterType name="X"><IntegerDataEncoding sizeInBits="65"/></IntegerParameterType>"#,
            "IntegerDataEncoding",
            "`sizeInBits` must be 1 to 64",
        ),
        (
            r#"<IntegerParameterType name="X"><IntegerDataEncoding encoding="BCD"/></IntegerParameterType>"#,
            "IntegerDataEncoding",
            "`encoding` must be unsigned or twosComplement",
        ),
        (
            r#"<IntegerParameterType name="X"><IntegerDataEncoding sizeInBits="12" byteOrder="leastSignificantByteFirst"/></IntegerParameterType>"#,
            "IntegerDataEncoding",
            "whole bytes",
        ),
        (
            r#"<FloatParameterType name="X"><FloatDataEncoding sizeInBits="16"/></FloatParameterType>"#,
            "FloatDataEncoding",
            "32 or 64",
        ),
        (
            r#"<IntegerParameterType name="X"/>"#,
            "IntegerParameterType",
            "IntegerDataEncoding is required",
        ),
        (
            r#"<AbsoluteTimeParameterType name="X"><Encoding><IntegerDataEncoding/></Encoding><ReferenceTime><Epoch>MARS</Epoch></ReferenceTime></AbsoluteTimeParameterType>"#,
            "Epoch",
            "UNIX, J2000, GPS, TAI",
        ),
        (
            r#"<StringParameterType name="X"><StringDataEncoding><SizeInBits><Fixed><FixedValue>12</FixedValue></Fixed></SizeInBits></StringDataEncoding></StringParameterType>"#,
            "FixedValue",
            "whole bytes",
        ),
    ];
    for (fragment, element, reason) in cases {
        let xml = definition(fragment, "", "");
        match error_of(&xml) {
            DefinitionError::Invalid {
                element: got,
                reason: why,
                line,
            } => {
                assert_eq!(got, element, "{fragment}");
                assert!(why.contains(reason), "{why}");
                assert_eq!(line, line_of(&xml, &format!("<{element}")));
            }
            other => panic!("{fragment}: {other:?}"),
        }
    }
}

#[test]
fn restriction_criteria_on_anything_but_a_header_field_are_refused() {
    let xml = definition(
        U8,
        r#"<Parameter name="p" parameterTypeRef="U8"/>"#,
        r#"<SequenceContainer name="R" abstract="true"/>
           <SequenceContainer name="C"><BaseContainer containerRef="R"><RestrictionCriteria>
             <Comparison parameterRef="p" value="1"/></RestrictionCriteria></BaseContainer></SequenceContainer>"#,
    );
    let err = error_of(&xml).to_string();
    assert!(err.contains("CCSDS_APID"), "{err}");
    assert!(err.contains("not `p`"), "{err}");
}

#[test]
fn inheritance_cycles_are_refused() {
    let xml = definition(
        U8,
        "",
        r#"<SequenceContainer name="A"><BaseContainer containerRef="B"/></SequenceContainer>
           <SequenceContainer name="B"><BaseContainer containerRef="A"/></SequenceContainer>"#,
    );
    assert!(error_of(&xml).to_string().contains("inherits from itself"));
}

#[test]
fn text_where_none_belongs_and_bad_xml_are_refused() {
    let xml = definition(U8, "stray words", "");
    assert!(matches!(
        error_of(&xml),
        DefinitionError::Invalid { element, .. } if element == "ParameterSet"
    ));
    assert!(matches!(
        Definition::parse("<SpaceSystem name=\"x\">"),
        Err(DefinitionError::Xml { .. })
    ));
    assert!(matches!(
        Definition::parse("<Other/>"),
        Err(DefinitionError::Invalid { .. })
    ));
}

#[test]
fn documentation_is_accepted_and_changes_nothing() {
    let xml = definition(
        r#"<IntegerParameterType name="U8" shortDescription="byte"><LongDescription>A byte.</LongDescription><IntegerDataEncoding/></IntegerParameterType>"#,
        r#"<Parameter name="p" parameterTypeRef="U8" shortDescription="P"><LongDescription>Long.</LongDescription></Parameter>"#,
        "",
    )
    .replace(
        "<TelemetryMetaData>",
        r#"<Header version="1.0" date="2026-01-01"/><LongDescription>Test system.</LongDescription><TelemetryMetaData>"#,
    );
    let def = Definition::parse(&xml).unwrap();
    Decoder::compile(&def).unwrap();
}

#[test]
fn deeply_nested_documents_are_refused_without_overflowing_the_stack() {
    let depth = 50_000;
    let xml = format!(
        "{}{}",
        "<SpaceSystem name=\"s\">".repeat(depth),
        "</SpaceSystem>".repeat(depth)
    );
    assert!(Definition::parse(&xml).is_err());
    let other = format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth));
    assert!(Definition::parse(&other).is_err());
}

#[test]
fn a_decoder_can_be_shared_between_threads() {
    fn shared<T: Send + Sync + Clone>() {}
    shared::<Decoder>();
}
