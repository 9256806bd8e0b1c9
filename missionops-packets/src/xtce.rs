//! The XTCE subset parser: XML in, a [`Definition`] out, or an error naming the element or
//! attribute and its line.
//!
//! Each supported element has one function that lists the attributes and children it takes;
//! anything else is refused there, so nothing in a document is silently skipped. Documentation
//! (`shortDescription`, `LongDescription`, a `Header`'s `version` and `date`) is accepted and
//! has no effect on decoding.

use std::collections::HashSet;

use missionops_core::{ParameterName, Timestamp};
use roxmltree::{Document, Node, ParsingOptions};

use crate::definition::{
    AlarmRanges, BaseDef, ComparisonDef, ContainerDef, Definition, EntryDef, Epoch, IntEncoding,
    NumberEncoding, Operator, ParameterDef, Reference, SystemDef, TimeEncoding, TypeDef, TypeKind,
};
use crate::error::DefinitionError;

type Result<T> = std::result::Result<T, DefinitionError>;

const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// The XTCE namespaces (1.2 and the older 1.0/1.1 one); elements in another namespace are not
/// XTCE and are refused.
const XTCE_NAMESPACES: [&str; 2] = [
    "http://www.omg.org/spec/XTCE/20180204",
    "http://www.omg.org/space/xtce",
];
/// How deep `SpaceSystem`s may nest: deep enough for any real mission tree, and a bound on the
/// parser's recursion for hostile input.
const MAX_SYSTEM_DEPTH: usize = 16;
/// A bound on the document's nodes, so a hostile definition cannot take the memory of the
/// process (a real definition of thousands of parameters stays far below it).
const MAX_NODES: u32 = 1_000_000;
/// The longest fixed string, in bytes (the core's longest text value).
const MAX_STRING_BYTES: u32 = missionops_core::MAX_TEXT_VALUE_LEN as u32;
/// The highest polynomial exponent accepted.
const MAX_EXPONENT: usize = 16;

pub(crate) fn parse(xml: &str) -> Result<Definition> {
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(xml, options).map_err(|e| DefinitionError::Xml {
        reason: e.to_string(),
    })?;
    let mut parser = Parser {
        doc: &doc,
        def: Definition {
            systems: Vec::new(),
            types: Vec::new(),
            parameters: Vec::new(),
            containers: Vec::new(),
        },
        seen: HashSet::new(),
    };
    let root = doc.root_element();
    parser.check_namespace(root, "document")?;
    if root.tag_name().name() != "SpaceSystem" {
        return Err(parser.invalid(root, "the document's root element must be a SpaceSystem"));
    }
    parser.space_system(root, None, 0)?;
    Ok(parser.def)
}

struct Parser<'a, 'input> {
    doc: &'a Document<'input>,
    def: Definition,
    /// (kind, system, name) of every named item so far, to refuse duplicates.
    seen: HashSet<(&'static str, usize, String)>,
}

fn local<'a>(node: Node<'a, '_>) -> &'a str {
    node.tag_name().name()
}

impl<'a, 'input> Parser<'a, 'input> {
    fn line_at(&self, pos: usize) -> u32 {
        self.doc.text_pos_at(pos).row
    }

    fn line(&self, node: Node<'_, '_>) -> u32 {
        self.line_at(node.range().start)
    }

    fn invalid(&self, node: Node<'_, '_>, reason: impl Into<String>) -> DefinitionError {
        DefinitionError::Invalid {
            element: local(node).to_owned(),
            reason: reason.into(),
            line: self.line(node),
        }
    }

    fn unsupported(&self, child: Node<'_, '_>, parent: Node<'_, '_>) -> DefinitionError {
        DefinitionError::UnsupportedElement {
            element: local(child).to_owned(),
            parent: local(parent).to_owned(),
            line: self.line(child),
        }
    }

    fn check_namespace(&self, node: Node<'_, '_>, parent: &str) -> Result<()> {
        match node.tag_name().namespace() {
            None => Ok(()),
            Some(ns) if XTCE_NAMESPACES.contains(&ns) => Ok(()),
            Some(_) => Err(DefinitionError::UnsupportedElement {
                element: local(node).to_owned(),
                parent: parent.to_owned(),
                line: self.line(node),
            }),
        }
    }

    /// Refuses any attribute of `node` outside `allowed` (schema locations excepted).
    fn attributes(&self, node: Node<'_, '_>, allowed: &[&str]) -> Result<()> {
        for attr in node.attributes() {
            let fine = match attr.namespace() {
                None => allowed.contains(&attr.name()),
                Some(XSI) => matches!(attr.name(), "schemaLocation" | "noNamespaceSchemaLocation"),
                Some(_) => false,
            };
            if !fine {
                return Err(DefinitionError::UnsupportedAttribute {
                    element: local(node).to_owned(),
                    attribute: attr.name().to_owned(),
                    line: self.line_at(attr.range().start),
                });
            }
        }
        Ok(())
    }

    /// The element children of `node`, refusing text between them and foreign elements.
    fn children(&self, node: Node<'a, 'input>) -> Result<Vec<Node<'a, 'input>>> {
        let mut out = Vec::new();
        for child in node.children() {
            if child.is_element() {
                self.check_namespace(child, local(node))?;
                out.push(child);
            } else if child.is_text() && child.text().is_some_and(|t| !t.trim().is_empty()) {
                return Err(DefinitionError::Invalid {
                    element: local(node).to_owned(),
                    reason: "text is not expected here".to_owned(),
                    line: self.line(child),
                });
            }
        }
        Ok(out)
    }

    /// The text of a leaf element (one with no element children), trimmed.
    fn text(&self, node: Node<'a, 'input>) -> Result<&'a str> {
        if let Some(child) = node.children().find(|c| c.is_element()) {
            return Err(self.unsupported(child, node));
        }
        Ok(node.text().map(str::trim).unwrap_or(""))
    }

    fn required(&self, node: Node<'a, 'input>, name: &str) -> Result<&'a str> {
        node.attribute(name)
            .ok_or_else(|| self.invalid(node, format!("attribute `{name}` is required")))
    }

    fn number<T: std::str::FromStr>(
        &self,
        node: Node<'_, '_>,
        name: &str,
        text: &str,
    ) -> Result<T> {
        text.trim()
            .parse()
            .map_err(|_| self.invalid(node, format!("`{name}` must be a number, not {text:?}")))
    }

    fn finite(&self, node: Node<'_, '_>, name: &str, text: &str) -> Result<f64> {
        let value: f64 = self.number(node, name, text)?;
        if value.is_finite() {
            Ok(value)
        } else {
            Err(self.invalid(node, format!("`{name}` must be a finite number")))
        }
    }

    fn boolean(&self, node: Node<'_, '_>, name: &str) -> Result<bool> {
        match node.attribute(name) {
            None | Some("false") | Some("0") => Ok(false),
            Some("true") | Some("1") => Ok(true),
            Some(other) => Err(self.invalid(
                node,
                format!("`{name}` must be true or false, not {other:?}"),
            )),
        }
    }

    /// Records a named item, refusing a second one of the same kind in the same system.
    fn declare(&mut self, kind: &'static str, system: usize, node: Node<'_, '_>) -> Result<String> {
        let name = self.required(node, "name")?.to_owned();
        if name.is_empty() || name.contains('/') {
            return Err(self.invalid(node, "`name` must be non-empty and contain no `/`"));
        }
        if !self.seen.insert((kind, system, name.clone())) {
            return Err(DefinitionError::Duplicate {
                kind,
                name,
                line: self.line(node),
            });
        }
        Ok(name)
    }

    fn space_system(
        &mut self,
        node: Node<'a, 'input>,
        parent: Option<usize>,
        depth: usize,
    ) -> Result<()> {
        self.attributes(node, &["name", "shortDescription"])?;
        if depth >= MAX_SYSTEM_DEPTH {
            return Err(self.invalid(
                node,
                format!("SpaceSystems nest at most {MAX_SYSTEM_DEPTH} deep"),
            ));
        }
        let name = match parent {
            // Systems share one namespace per parent: index them under the parent's slot.
            Some(p) => self.declare("space system", p, node)?,
            None => self.declare("space system", usize::MAX, node)?,
        };
        let system = self.def.systems.len();
        self.def.systems.push(SystemDef { name, parent });
        for child in self.children(node)? {
            match local(child) {
                "LongDescription" => {
                    self.text(child)?;
                }
                "Header" => {
                    self.attributes(child, &["version", "date"])?;
                    if let Some(inner) = self.children(child)?.first() {
                        return Err(self.unsupported(*inner, child));
                    }
                }
                "TelemetryMetaData" => self.telemetry(child, system)?,
                "SpaceSystem" => self.space_system(child, Some(system), depth + 1)?,
                _ => return Err(self.unsupported(child, node)),
            }
        }
        Ok(())
    }

    fn telemetry(&mut self, node: Node<'a, 'input>, system: usize) -> Result<()> {
        self.attributes(node, &[])?;
        for child in self.children(node)? {
            match local(child) {
                "ParameterTypeSet" => {
                    self.attributes(child, &[])?;
                    for ty in self.children(child)? {
                        self.parameter_type(ty, child, system)?;
                    }
                }
                "ParameterSet" => {
                    self.attributes(child, &[])?;
                    for p in self.children(child)? {
                        self.parameter(p, child, system)?;
                    }
                }
                "ContainerSet" => {
                    self.attributes(child, &[])?;
                    for c in self.children(child)? {
                        self.container(c, child, system)?;
                    }
                }
                _ => return Err(self.unsupported(child, node)),
            }
        }
        Ok(())
    }

    fn parameter_type(
        &mut self,
        node: Node<'a, 'input>,
        parent: Node<'a, 'input>,
        system: usize,
    ) -> Result<()> {
        let kind_name = local(node);
        let extra: &[&str] = match kind_name {
            "IntegerParameterType" => &["name", "shortDescription", "signed", "sizeInBits"],
            "FloatParameterType" => &["name", "shortDescription", "sizeInBits"],
            "EnumeratedParameterType"
            | "BooleanParameterType"
            | "StringParameterType"
            | "AbsoluteTimeParameterType" => &["name", "shortDescription"],
            _ => return Err(self.unsupported(node, parent)),
        };
        self.attributes(node, extra)?;
        if kind_name == "IntegerParameterType" {
            self.boolean(node, "signed")?;
            if let Some(size) = node.attribute("sizeInBits") {
                let bits: u32 = self.number(node, "sizeInBits", size)?;
                if !(1..=64).contains(&bits) {
                    return Err(self.invalid(node, "`sizeInBits` must be 1 to 64"));
                }
            }
        }
        if kind_name == "FloatParameterType"
            && !matches!(node.attribute("sizeInBits"), None | Some("32") | Some("64"))
        {
            return Err(self.invalid(node, "`sizeInBits` must be 32 or 64"));
        }
        let name = self.declare("parameter type", system, node)?;
        let line = self.line(node);

        let mut unit = None;
        let mut alarm = None;
        let mut int_encoding = None;
        let mut float_encoding = None;
        let mut calibrator = None;
        let mut labels = None;
        let mut string_bytes = None;
        let mut time_encoding = None;
        let mut epoch = None;
        for child in self.children(node)? {
            let allowed = match (kind_name, local(child)) {
                (_, "LongDescription") => {
                    self.text(child)?;
                    continue;
                }
                (
                    "IntegerParameterType"
                    | "FloatParameterType"
                    | "EnumeratedParameterType"
                    | "BooleanParameterType"
                    | "StringParameterType",
                    "UnitSet",
                ) => {
                    unit = self.unit_set(child)?;
                    continue;
                }
                ("IntegerParameterType" | "FloatParameterType", "DefaultAlarm") => {
                    alarm = Some(self.default_alarm(child)?);
                    continue;
                }
                ("IntegerParameterType" | "FloatParameterType", "IntegerDataEncoding") => true,
                ("EnumeratedParameterType" | "BooleanParameterType", "IntegerDataEncoding") => {
                    false
                }
                ("FloatParameterType", "FloatDataEncoding") => {
                    let (enc, cal) = self.float_encoding(child)?;
                    float_encoding = Some(enc);
                    calibrator = cal;
                    continue;
                }
                ("EnumeratedParameterType", "EnumerationList") => {
                    labels = Some(self.enumeration_list(child)?);
                    continue;
                }
                ("StringParameterType", "StringDataEncoding") => {
                    string_bytes = Some(self.string_encoding(child)?);
                    continue;
                }
                ("AbsoluteTimeParameterType", "Encoding") => {
                    time_encoding = Some(self.time_encoding(child)?);
                    continue;
                }
                ("AbsoluteTimeParameterType", "ReferenceTime") => {
                    epoch = Some(self.reference_time(child)?);
                    continue;
                }
                _ => return Err(self.unsupported(child, node)),
            };
            // An IntegerDataEncoding; `allowed` says whether it may carry a calibrator.
            let (enc, cal) = self.integer_encoding(child, allowed)?;
            int_encoding = Some(enc);
            calibrator = cal;
        }
        let missing = |what: &str| self.invalid(node, format!("a {what} is required"));
        let kind = match kind_name {
            "IntegerParameterType" => TypeKind::Integer {
                encoding: int_encoding.ok_or_else(|| missing("IntegerDataEncoding"))?,
                calibrator,
            },
            "FloatParameterType" => TypeKind::Float {
                encoding: match (int_encoding, float_encoding) {
                    (Some(i), None) => NumberEncoding::Integer(i),
                    (None, Some(f)) => f,
                    (None, None) => {
                        return Err(missing("FloatDataEncoding or IntegerDataEncoding"));
                    }
                    (Some(_), Some(_)) => {
                        return Err(self.invalid(node, "give one data encoding, not two"));
                    }
                },
                calibrator,
            },
            "EnumeratedParameterType" => TypeKind::Enumerated {
                encoding: int_encoding.ok_or_else(|| missing("IntegerDataEncoding"))?,
                labels: labels.ok_or_else(|| missing("EnumerationList"))?,
            },
            "BooleanParameterType" => TypeKind::Boolean {
                encoding: int_encoding.ok_or_else(|| missing("IntegerDataEncoding"))?,
            },
            "StringParameterType" => TypeKind::String {
                bytes: string_bytes.ok_or_else(|| missing("StringDataEncoding"))?,
            },
            _ => {
                let (coarse, fine_bits, scale, offset) =
                    time_encoding.ok_or_else(|| missing("Encoding"))?;
                TypeKind::AbsoluteTime(TimeEncoding {
                    coarse,
                    fine_bits,
                    scale,
                    offset,
                    epoch: epoch.ok_or_else(|| missing("ReferenceTime"))?,
                })
            }
        };
        self.def.types.push(TypeDef {
            system,
            name,
            line,
            unit,
            alarm,
            kind,
        });
        Ok(())
    }

    fn unit_set(&self, node: Node<'a, 'input>) -> Result<Option<String>> {
        self.attributes(node, &[])?;
        let mut unit = None;
        for child in self.children(node)? {
            if local(child) != "Unit" {
                return Err(self.unsupported(child, node));
            }
            self.attributes(child, &["description"])?;
            if unit.is_some() {
                return Err(self.invalid(child, "a UnitSet holds one Unit"));
            }
            unit = Some(self.text(child)?.to_owned());
        }
        Ok(unit.filter(|u| !u.is_empty()))
    }

    fn default_alarm(&self, node: Node<'a, 'input>) -> Result<AlarmRanges> {
        self.attributes(node, &[])?;
        let mut ranges = AlarmRanges::default();
        for child in self.children(node)? {
            if local(child) != "StaticAlarmRanges" {
                return Err(self.unsupported(child, node));
            }
            self.attributes(child, &[])?;
            for range in self.children(child)? {
                self.attributes(range, &["minInclusive", "maxInclusive"])?;
                let bound = |attr: &str| -> Result<Option<f64>> {
                    range
                        .attribute(attr)
                        .map(|v| self.finite(range, attr, v))
                        .transpose()
                };
                let pair = (bound("minInclusive")?, bound("maxInclusive")?);
                if let (Some(lo), Some(hi)) = pair
                    && lo > hi
                {
                    return Err(self.invalid(range, "`minInclusive` is above `maxInclusive`"));
                }
                match local(range) {
                    "WarningRange" => ranges.warning = pair,
                    "CriticalRange" => ranges.critical = pair,
                    _ => return Err(self.unsupported(range, child)),
                }
            }
        }
        Ok(ranges)
    }

    fn byte_order(&self, node: Node<'_, '_>, bits: u8) -> Result<bool> {
        match node.attribute("byteOrder") {
            None | Some("mostSignificantByteFirst") => Ok(false),
            Some("leastSignificantByteFirst") if bits % 8 == 0 => Ok(true),
            Some("leastSignificantByteFirst") => Err(self.invalid(
                node,
                "`byteOrder` leastSignificantByteFirst needs a size in whole bytes",
            )),
            Some(other) => Err(self.invalid(
                node,
                format!(
                    "`byteOrder` must be mostSignificantByteFirst or leastSignificantByteFirst, \
                     not {other:?}"
                ),
            )),
        }
    }

    fn integer_encoding(
        &self,
        node: Node<'a, 'input>,
        calibrator_allowed: bool,
    ) -> Result<(IntEncoding, Option<Vec<f64>>)> {
        self.attributes(node, &["sizeInBits", "encoding", "byteOrder"])?;
        let bits: u32 = match node.attribute("sizeInBits") {
            Some(v) => self.number(node, "sizeInBits", v)?,
            None => 8,
        };
        if !(1..=64).contains(&bits) {
            return Err(self.invalid(node, "`sizeInBits` must be 1 to 64"));
        }
        let bits = bits as u8;
        let signed = match node.attribute("encoding") {
            None | Some("unsigned") => false,
            Some("twosComplement") => true,
            Some(other) => {
                return Err(self.invalid(
                    node,
                    format!("`encoding` must be unsigned or twosComplement, not {other:?}"),
                ));
            }
        };
        let lsb_first = self.byte_order(node, bits)?;
        let calibrator = self.calibrator_child(node, calibrator_allowed)?;
        Ok((
            IntEncoding {
                bits,
                signed,
                lsb_first,
            },
            calibrator,
        ))
    }

    fn float_encoding(&self, node: Node<'a, 'input>) -> Result<(NumberEncoding, Option<Vec<f64>>)> {
        self.attributes(node, &["sizeInBits", "encoding", "byteOrder"])?;
        let bits = match node.attribute("sizeInBits") {
            None | Some("32") => 32,
            Some("64") => 64,
            Some(other) => {
                return Err(self.invalid(
                    node,
                    format!("`sizeInBits` must be 32 or 64, not {other:?}"),
                ));
            }
        };
        if !matches!(
            node.attribute("encoding"),
            None | Some("IEEE754_1985") | Some("IEEE754")
        ) {
            return Err(self.invalid(node, "`encoding` must be IEEE754_1985 or IEEE754"));
        }
        let lsb_first = self.byte_order(node, bits)?;
        let calibrator = self.calibrator_child(node, true)?;
        Ok((NumberEncoding::Float { bits, lsb_first }, calibrator))
    }

    fn calibrator_child(&self, node: Node<'a, 'input>, allowed: bool) -> Result<Option<Vec<f64>>> {
        let mut calibrator = None;
        for child in self.children(node)? {
            if local(child) != "DefaultCalibrator" || !allowed || calibrator.is_some() {
                return Err(self.unsupported(child, node));
            }
            self.attributes(child, &[])?;
            for poly in self.children(child)? {
                if local(poly) != "PolynomialCalibrator" || calibrator.is_some() {
                    return Err(self.unsupported(poly, child));
                }
                calibrator = Some(self.polynomial(poly)?);
            }
            if calibrator.is_none() {
                return Err(self.invalid(child, "a PolynomialCalibrator is required"));
            }
        }
        Ok(calibrator)
    }

    fn polynomial(&self, node: Node<'a, 'input>) -> Result<Vec<f64>> {
        self.attributes(node, &[])?;
        let mut coefficients: Vec<Option<f64>> = Vec::new();
        for term in self.children(node)? {
            if local(term) != "Term" {
                return Err(self.unsupported(term, node));
            }
            self.attributes(term, &["coefficient", "exponent"])?;
            let coefficient =
                self.finite(term, "coefficient", self.required(term, "coefficient")?)?;
            let exponent: usize =
                self.number(term, "exponent", self.required(term, "exponent")?)?;
            if exponent > MAX_EXPONENT {
                return Err(self.invalid(term, format!("`exponent` must be 0 to {MAX_EXPONENT}")));
            }
            if coefficients.len() <= exponent {
                coefficients.resize(exponent + 1, None);
            }
            if coefficients[exponent].replace(coefficient).is_some() {
                return Err(self.invalid(term, format!("exponent {exponent} is given twice")));
            }
        }
        if coefficients.is_empty() {
            return Err(self.invalid(node, "at least one Term is required"));
        }
        Ok(coefficients.into_iter().map(|c| c.unwrap_or(0.0)).collect())
    }

    fn enumeration_list(&self, node: Node<'a, 'input>) -> Result<Vec<(i64, String)>> {
        self.attributes(node, &[])?;
        let mut labels: Vec<(i64, String)> = Vec::new();
        for item in self.children(node)? {
            if local(item) != "Enumeration" {
                return Err(self.unsupported(item, node));
            }
            self.attributes(item, &["value", "label", "shortDescription"])?;
            let value: i64 = self.number(item, "value", self.required(item, "value")?)?;
            let label = self.required(item, "label")?;
            missionops_core::ParameterValue::text(label)
                .map_err(|e| self.invalid(item, format!("`label` {e}")))?;
            if labels.iter().any(|(v, _)| *v == value) {
                return Err(self.invalid(item, format!("value {value} is given twice")));
            }
            labels.push((value, label.to_owned()));
        }
        Ok(labels)
    }

    fn string_encoding(&self, node: Node<'a, 'input>) -> Result<u32> {
        self.attributes(node, &["encoding"])?;
        if !matches!(
            node.attribute("encoding"),
            None | Some("UTF-8") | Some("US-ASCII")
        ) {
            return Err(self.invalid(node, "`encoding` must be UTF-8 or US-ASCII"));
        }
        let mut bits = None;
        for size in self.children(node)? {
            if local(size) != "SizeInBits" || bits.is_some() {
                return Err(self.unsupported(size, node));
            }
            self.attributes(size, &[])?;
            for fixed in self.children(size)? {
                if local(fixed) != "Fixed" || bits.is_some() {
                    return Err(self.unsupported(fixed, size));
                }
                self.attributes(fixed, &[])?;
                for value in self.children(fixed)? {
                    if local(value) != "FixedValue" || bits.is_some() {
                        return Err(self.unsupported(value, fixed));
                    }
                    self.attributes(value, &[])?;
                    let n: u32 = self.number(value, "FixedValue", self.text(value)?)?;
                    if n == 0 || n % 8 != 0 || n / 8 > MAX_STRING_BYTES {
                        return Err(self.invalid(
                            value,
                            format!(
                                "a fixed string size is 8 to {} bits, in whole bytes",
                                MAX_STRING_BYTES * 8
                            ),
                        ));
                    }
                    bits = Some(n);
                }
            }
        }
        bits.map(|b| b / 8)
            .ok_or_else(|| self.invalid(node, "a SizeInBits/Fixed/FixedValue is required"))
    }

    fn time_encoding(&self, node: Node<'a, 'input>) -> Result<(IntEncoding, Option<u8>, f64, f64)> {
        self.attributes(node, &["scale", "offset", "units"])?;
        if !matches!(node.attribute("units"), None | Some("seconds")) {
            return Err(self.invalid(node, "`units` must be seconds"));
        }
        let scale = node
            .attribute("scale")
            .map(|v| self.finite(node, "scale", v))
            .transpose()?
            .unwrap_or(1.0);
        let offset = node
            .attribute("offset")
            .map(|v| self.finite(node, "offset", v))
            .transpose()?
            .unwrap_or(0.0);
        let mut parts = Vec::new();
        for child in self.children(node)? {
            if local(child) != "IntegerDataEncoding" || parts.len() == 2 {
                return Err(self.unsupported(child, node));
            }
            parts.push(self.integer_encoding(child, false)?.0);
        }
        match parts.as_slice() {
            [whole] => Ok((*whole, None, scale, offset)),
            [coarse, fine] => {
                if fine.signed || fine.lsb_first {
                    return Err(self.invalid(
                        node,
                        "the fine part of a coarse + fine time is unsigned and big-endian",
                    ));
                }
                Ok((*coarse, Some(fine.bits), scale, offset))
            }
            _ => Err(self.invalid(
                node,
                "an IntegerDataEncoding (seconds), or two (coarse seconds, then fine fraction), is required",
            )),
        }
    }

    fn reference_time(&self, node: Node<'a, 'input>) -> Result<Epoch> {
        self.attributes(node, &[])?;
        let children = self.children(node)?;
        let [epoch] = children.as_slice() else {
            return Err(self.invalid(node, "one Epoch is required"));
        };
        if local(*epoch) != "Epoch" {
            return Err(self.unsupported(*epoch, node));
        }
        self.attributes(*epoch, &[])?;
        let text = self.text(*epoch)?;
        Ok(match text {
            "UNIX" => Epoch::Unix,
            "J2000" => Epoch::J2000,
            "GPS" => Epoch::Gps,
            "TAI" => Epoch::Tai,
            date => Epoch::Date(parse_epoch_date(date).ok_or_else(|| {
                self.invalid(
                    *epoch,
                    format!(
                        "must be UNIX, J2000, GPS, TAI or a UTC date (1958-01-01 or \
                         1958-01-01T00:00:00Z), not {date:?}"
                    ),
                )
            })?),
        })
    }

    fn parameter(
        &mut self,
        node: Node<'a, 'input>,
        parent: Node<'a, 'input>,
        system: usize,
    ) -> Result<()> {
        if local(node) != "Parameter" {
            return Err(self.unsupported(node, parent));
        }
        self.attributes(node, &["name", "parameterTypeRef", "shortDescription"])?;
        let name = self.declare("parameter", system, node)?;
        ParameterName::parse(name.as_str())
            .map_err(|e| self.invalid(node, format!("`name` {e}")))?;
        let type_ref = self.required(node, "parameterTypeRef")?.to_owned();
        for child in self.children(node)? {
            if local(child) != "LongDescription" {
                return Err(self.unsupported(child, node));
            }
            self.text(child)?;
        }
        let line = self.line(node);
        self.def.parameters.push(ParameterDef {
            system,
            name,
            line,
            type_ref,
        });
        Ok(())
    }

    fn container(
        &mut self,
        node: Node<'a, 'input>,
        parent: Node<'a, 'input>,
        system: usize,
    ) -> Result<()> {
        if local(node) != "SequenceContainer" {
            return Err(self.unsupported(node, parent));
        }
        self.attributes(node, &["name", "abstract", "shortDescription"])?;
        let name = self.declare("container", system, node)?;
        let is_abstract = self.boolean(node, "abstract")?;
        let mut base = None;
        let mut entries = Vec::new();
        let mut had_entry_list = false;
        for child in self.children(node)? {
            match local(child) {
                "LongDescription" => {
                    self.text(child)?;
                }
                "EntryList" if !had_entry_list => {
                    had_entry_list = true;
                    self.attributes(child, &[])?;
                    for entry in self.children(child)? {
                        entries.push(self.entry(entry, child)?);
                    }
                }
                "BaseContainer" if base.is_none() => base = Some(self.base_container(child)?),
                _ => return Err(self.unsupported(child, node)),
            }
        }
        let line = self.line(node);
        self.def.containers.push(ContainerDef {
            system,
            name,
            line,
            is_abstract,
            base,
            entries,
        });
        Ok(())
    }

    fn entry(&self, node: Node<'a, 'input>, parent: Node<'a, 'input>) -> Result<EntryDef> {
        if local(node) != "ParameterRefEntry" {
            return Err(self.unsupported(node, parent));
        }
        self.attributes(node, &["parameterRef"])?;
        let parameter_ref = self.required(node, "parameterRef")?.to_owned();
        let mut location = None;
        for child in self.children(node)? {
            if local(child) != "LocationInContainerInBits" || location.is_some() {
                return Err(self.unsupported(child, node));
            }
            self.attributes(child, &["referenceLocation"])?;
            let reference = match child.attribute("referenceLocation") {
                None | Some("previousEntry") => Reference::PreviousEntry,
                Some("containerStart") => Reference::ContainerStart,
                Some(other) => {
                    return Err(self.invalid(
                        child,
                        format!(
                            "`referenceLocation` must be previousEntry or containerStart, not \
                             {other:?}"
                        ),
                    ));
                }
            };
            let mut bits = None;
            for value in self.children(child)? {
                if local(value) != "FixedValue" || bits.is_some() {
                    return Err(self.unsupported(value, child));
                }
                self.attributes(value, &[])?;
                bits = Some(self.number::<i64>(value, "FixedValue", self.text(value)?)?);
            }
            let bits = bits.ok_or_else(|| self.invalid(child, "a FixedValue is required"))?;
            location = Some((reference, bits));
        }
        Ok(EntryDef {
            parameter_ref,
            line: self.line(node),
            location,
        })
    }

    fn base_container(&self, node: Node<'a, 'input>) -> Result<BaseDef> {
        self.attributes(node, &["containerRef"])?;
        let container_ref = self.required(node, "containerRef")?.to_owned();
        let mut criteria = Vec::new();
        let mut had_criteria = false;
        for child in self.children(node)? {
            if local(child) != "RestrictionCriteria" || had_criteria {
                return Err(self.unsupported(child, node));
            }
            had_criteria = true;
            self.attributes(child, &[])?;
            for item in self.children(child)? {
                match local(item) {
                    "Comparison" => criteria.push(self.comparison(item)?),
                    "ComparisonList" => {
                        self.attributes(item, &[])?;
                        for c in self.children(item)? {
                            if local(c) != "Comparison" {
                                return Err(self.unsupported(c, item));
                            }
                            criteria.push(self.comparison(c)?);
                        }
                    }
                    _ => return Err(self.unsupported(item, child)),
                }
            }
        }
        Ok(BaseDef {
            container_ref,
            line: self.line(node),
            criteria,
        })
    }

    fn comparison(&self, node: Node<'a, 'input>) -> Result<ComparisonDef> {
        self.attributes(
            node,
            &[
                "parameterRef",
                "value",
                "comparisonOperator",
                "useCalibratedValue",
            ],
        )?;
        self.boolean(node, "useCalibratedValue")?;
        if let Some(child) = self.children(node)?.first() {
            return Err(self.unsupported(*child, node));
        }
        let operator = match node.attribute("comparisonOperator") {
            None => Operator::Eq,
            Some(op) => Operator::parse(op).ok_or_else(|| {
                self.invalid(
                    node,
                    format!("`comparisonOperator` must be ==, !=, <, <=, > or >=, not {op:?}"),
                )
            })?,
        };
        Ok(ComparisonDef {
            parameter_ref: self.required(node, "parameterRef")?.to_owned(),
            operator,
            value: self.number(node, "value", self.required(node, "value")?)?,
            line: self.line(node),
        })
    }
}

/// A date epoch (`1958-01-01`, `2000-01-01T12:00:00`, with or without `Z`) as UTC milliseconds
/// since the UNIX epoch.
fn parse_epoch_date(text: &str) -> Option<i64> {
    let full = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else if text.ends_with('Z') || text.contains('+') {
        text.to_owned()
    } else {
        format!("{text}Z")
    };
    Timestamp::parse(&full).ok().map(Timestamp::as_millis)
}
