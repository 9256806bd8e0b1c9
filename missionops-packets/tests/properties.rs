//! Property tests: arbitrary bytes into the framer and decoder, and arbitrary XML-ish text into
//! the definition parser, never panic.

#![allow(clippy::unwrap_used)]

mod common;

use missionops_packets::{Decoder, OnError, Packets, SAT_IMAGER_001_DEFINITION};
use proptest::prelude::*;

fn demo() -> Decoder {
    Decoder::from_xml(SAT_IMAGER_001_DEFINITION).unwrap()
}

/// Pieces of XTCE and of XML syntax, so generated documents get past the tokenizer often.
const TOKENS: &[&str] = &[
    "<SpaceSystem name=\"S\">",
    "</SpaceSystem>",
    "<TelemetryMetaData>",
    "</TelemetryMetaData>",
    "<ParameterTypeSet>",
    "</ParameterTypeSet>",
    "<IntegerParameterType name=\"T\">",
    "</IntegerParameterType>",
    "<IntegerDataEncoding sizeInBits=\"13\" encoding=\"twosComplement\"/>",
    "<FloatDataEncoding sizeInBits=\"64\"/>",
    "<ParameterSet>",
    "</ParameterSet>",
    "<Parameter name=\"p\" parameterTypeRef=\"T\"/>",
    "<ContainerSet>",
    "</ContainerSet>",
    "<SequenceContainer name=\"C\">",
    "</SequenceContainer>",
    "<EntryList>",
    "</EntryList>",
    "<ParameterRefEntry parameterRef=\"p\"/>",
    "<BaseContainer containerRef=\"C\">",
    "</BaseContainer>",
    "<LocationInContainerInBits><FixedValue>-9</FixedValue></LocationInContainerInBits>",
    "<Comparison parameterRef=\"CCSDS_APID\" value=\"99999999999999999999\"/>",
    "<Term coefficient=\"1e308\" exponent=\"16\"/>",
    "<",
    ">",
    "/>",
    "=\"",
    "\"",
    "&amp;",
    "&#0;",
    "<!--",
    "-->",
    "<![CDATA[",
    " ",
    "x",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic_the_framer_or_the_decoder(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let decoder = demo();
        let _ = Packets::new(&bytes).count();
        let _ = decoder.decode_buffer(&bytes, OnError::Reject);
        let skipped = decoder.decode_buffer(&bytes, OnError::Skip).unwrap();
        prop_assert!(skipped.counts.packets >= skipped.packets.len() + skipped.counts.unknown_apid);
    }

    #[test]
    fn well_framed_packets_with_arbitrary_data_never_panic(
        apid in prop_oneof![Just(100u16), 0u16..2048],
        sec in any::<bool>(),
        data in prop::collection::vec(any::<u8>(), 1..80),
    ) {
        let decoder = demo();
        let bytes = common::packet(apid, 1, sec, &data);
        let out = decoder.decode_buffer(&bytes, OnError::Skip).unwrap();
        prop_assert_eq!(out.counts.packets, 1);
        prop_assert_eq!(out.packets.len() + out.counts.unknown_apid + out.counts.malformed, 1);
    }

    #[test]
    fn arbitrary_text_never_panics_the_parser(text in ".{0,400}") {
        let _ = Decoder::from_xml(&text);
    }

    #[test]
    fn xml_ish_token_soup_never_panics_the_parser(tokens in prop::collection::vec(prop::sample::select(TOKENS), 0..60)) {
        let _ = Decoder::from_xml(&tokens.concat());
    }

    #[test]
    fn mutations_of_a_valid_definition_never_panic_the_parser(
        at in 0usize..SAT_IMAGER_001_DEFINITION.len(),
        cut in 0usize..64,
        insert in prop::sample::select(TOKENS),
    ) {
        let mut text = SAT_IMAGER_001_DEFINITION.as_bytes().to_vec();
        let end = (at + cut).min(text.len());
        text.splice(at..end, insert.bytes());
        let text = String::from_utf8_lossy(&text);
        let _ = Decoder::from_xml(&text);
    }
}
