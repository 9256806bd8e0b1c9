//! A definition compiled into a packet decoder, and the decoding of packets with it.
//!
//! Compiling resolves every name once: each container becomes its flattened list of entries
//! (base containers first), each entry a bit offset, an encoding and an index into the
//! calibrator, enumeration and time tables; the containers a packet may belong to are listed
//! per APID, most specific first. Decoding a packet then reads its header, walks that short list,
//! and reads the entries: no string is compared or hashed.

use std::collections::HashMap;

use missionops_core::{
    Layout, LayoutInterner, ParameterName, ParameterValue, Parameters, Timestamp,
};

use crate::bits::{read_be, read_le, sign_extend};
use crate::definition::{
    AlarmRanges, ContainerDef, Definition, Epoch, IntEncoding, NumberEncoding, Operator, Reference,
    TypeKind,
};
use crate::error::{DefinitionError, PacketError, PacketErrorKind};
use crate::framing::{PRIMARY_HEADER_LEN, Packet, Packets, PrimaryHeader};

type Result<T> = std::result::Result<T, DefinitionError>;

/// The number of APIDs (11 bits).
const APIDS: usize = 2048;

/// The names of the primary header fields in `RestrictionCriteria`.
const HEADER_FIELDS: [(&str, HeaderField); 7] = [
    ("CCSDS_Version", HeaderField::Version),
    ("CCSDS_Type", HeaderField::Type),
    ("CCSDS_SecHdrFlag", HeaderField::SecondaryHeader),
    ("CCSDS_APID", HeaderField::Apid),
    ("CCSDS_SeqFlags", HeaderField::SequenceFlags),
    ("CCSDS_SeqCount", HeaderField::SequenceCount),
    ("CCSDS_Length", HeaderField::DataLength),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeaderField {
    Version,
    Type,
    SecondaryHeader,
    Apid,
    SequenceFlags,
    SequenceCount,
    DataLength,
}

impl HeaderField {
    #[inline]
    fn get(self, h: &PrimaryHeader) -> u64 {
        u64::from(match self {
            HeaderField::Version => u16::from(h.version),
            HeaderField::Type => u16::from(h.packet_type),
            HeaderField::SecondaryHeader => u16::from(h.secondary_header),
            HeaderField::Apid => h.apid,
            HeaderField::SequenceFlags => u16::from(h.sequence_flags),
            HeaderField::SequenceCount => h.sequence_count,
            HeaderField::DataLength => h.data_length,
        })
    }
}

/// What a parameter of the definition is: its name, unit and static alarm ranges.
#[derive(Debug, Clone, PartialEq)]
pub struct ParameterInfo {
    /// The parameter's name, as in snapshots.
    pub name: ParameterName,
    /// Its unit (`UnitSet`), when given.
    pub unit: Option<String>,
    /// Its type's static alarm ranges (`DefaultAlarm`), when given.
    pub alarm: Option<AlarmRanges>,
}

/// One decoded packet: its header's APID and sequence count, its time when its container has
/// an absolute-time parameter, and its parameters' calibrated values in entry order.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedPacket {
    /// The application process id.
    pub apid: u16,
    /// The packet sequence count.
    pub sequence_count: u16,
    /// The first absolute-time parameter of the container, in UTC; `None` when the container
    /// has none or its value is out of the range of a timestamp.
    pub time: Option<Timestamp>,
    /// The values. A float that decodes to NaN or an infinity, or a string that is not a valid
    /// telemetry string, is left out rather than stored as something it is not.
    pub parameters: Parameters,
}

/// How [`Decoder::decode_buffer`] treats a bad packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// The first bad packet refuses the whole buffer (all-or-nothing).
    #[default]
    Reject,
    /// Bad packets are counted in [`Counts::malformed`] and skipped.
    Skip,
}

/// The counts of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Packets framed in the buffer: decoded, of an unknown APID, or malformed.
    pub packets: usize,
    /// Well-formed packets of an APID no concrete container matches (skipped, not an error).
    pub unknown_apid: usize,
    /// Bad packets skipped under [`OnError::Skip`]. A truncated tail or a length beyond the
    /// body counts once: the rest of the buffer cannot be framed.
    pub malformed: usize,
}

/// The packets of a buffer, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedBuffer {
    /// The decoded packets, in buffer order.
    pub packets: Vec<DecodedPacket>,
    /// What the buffer held.
    pub counts: Counts,
}

/// A packet definition compiled for decoding; build it once per definition version and share
/// it (it is `Send + Sync` and decoding takes `&self`).
#[derive(Debug, Clone)]
pub struct Decoder {
    containers: Vec<Compiled>,
    /// Per APID, the concrete containers whose APID comparisons hold, most specific (deepest
    /// inheritance) first, then in document order.
    by_apid: Vec<Box<[u32]>>,
    calibrators: Vec<Box<[f64]>>,
    /// Enumeration labels, sorted by value for a binary search.
    enumerations: Vec<Box<[(i64, String)]>>,
    times: Vec<TimeConversion>,
    parameters: Vec<ParameterInfo>,
}

#[derive(Debug, Clone)]
struct Compiled {
    name: String,
    is_abstract: bool,
    depth: usize,
    layout: Layout,
    /// The bytes a packet of this container needs, header included.
    needed: usize,
    /// Every comparison of the inheritance chain (the APID ones are also in `by_apid`).
    criteria: Box<[(HeaderField, Operator, u64)]>,
    entries: Box<[Entry]>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// From the start of the packet (header included).
    bit: usize,
    op: Op,
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Integer {
        enc: IntEncoding,
        calibrator: Option<u32>,
    },
    Float {
        bits: u8,
        lsb_first: bool,
        calibrator: Option<u32>,
    },
    Enumerated {
        enc: IntEncoding,
        table: u32,
    },
    Boolean {
        enc: IntEncoding,
    },
    Text {
        bytes: u32,
    },
    Time {
        coarse: IntEncoding,
        fine_bits: u8,
        conversion: u32,
    },
}

#[derive(Debug, Clone, Copy)]
struct TimeConversion {
    scale: f64,
    offset: f64,
    epoch: Epoch,
}

impl Op {
    fn size_bits(&self) -> usize {
        match *self {
            Op::Integer { enc, .. } | Op::Enumerated { enc, .. } | Op::Boolean { enc } => {
                usize::from(enc.bits)
            }
            Op::Float { bits, .. } => usize::from(bits),
            Op::Text { bytes } => bytes as usize * 8,
            Op::Time {
                coarse, fine_bits, ..
            } => usize::from(coarse.bits) + usize::from(fine_bits),
        }
    }
}

impl Decoder {
    /// Parses and compiles an XTCE document.
    pub fn from_xml(xml: &str) -> Result<Self> {
        Self::compile(&Definition::parse(xml)?)
    }

    /// Compiles a parsed definition: resolves every reference (an unknown one is an error
    /// naming it and its line), flattens inheritance and lays out every entry.
    pub fn compile(def: &Definition) -> Result<Self> {
        Compiler::new(def).run()
    }

    /// Every parameter of the definition, in document order, with its unit and alarm ranges.
    pub fn parameters(&self) -> &[ParameterInfo] {
        &self.parameters
    }

    /// The static alarm ranges of each parameter that has some.
    pub fn alarm_ranges(&self) -> impl Iterator<Item = (&ParameterName, &AlarmRanges)> {
        self.parameters
            .iter()
            .filter_map(|p| p.alarm.as_ref().map(|a| (&p.name, a)))
    }

    /// Decodes one framed packet. `Ok(None)`: no concrete container matches its header (an
    /// unknown APID).
    pub fn decode(
        &self,
        packet: &Packet<'_>,
    ) -> std::result::Result<Option<DecodedPacket>, PacketErrorKind> {
        let header = &packet.header;
        let bytes = packet.bytes;
        let candidates = &self.by_apid[usize::from(header.apid) & (APIDS - 1)];
        let Some(container) = candidates
            .iter()
            .map(|&i| &self.containers[i as usize])
            .find(|c| {
                c.criteria
                    .iter()
                    .all(|&(field, op, value)| op.holds(field.get(header), value))
            })
        else {
            return Ok(None);
        };
        if bytes.len() < container.needed {
            return Err(PacketErrorKind::ShorterThanContainer {
                container: container.name.clone(),
                needed: container.needed,
                length: bytes.len(),
            });
        }
        let mut time = None;
        let mut values = Vec::with_capacity(container.entries.len());
        // Indices of the values left out; allocated only in the rare case that there are any.
        let mut left_out: Vec<usize> = Vec::new();
        for (i, entry) in container.entries.iter().enumerate() {
            match self.value(bytes, entry, &mut time) {
                Some(value) => values.push(value),
                None => left_out.push(i),
            }
        }
        let parameters = if left_out.is_empty() {
            Parameters::with_layout(&container.layout, values)
        } else {
            // The names differ from the layout's: pair the kept values with their names.
            let names = container
                .layout
                .names()
                .iter()
                .enumerate()
                .filter(|(i, _)| !left_out.contains(i))
                .map(|(_, n)| n.clone());
            Parameters::new(names.zip(values))
        };
        Ok(Some(DecodedPacket {
            apid: header.apid,
            sequence_count: header.sequence_count,
            time,
            // Both constructors only fail on a count mismatch or repeated names, which the
            // compiler rules out; should that change, the packet is refused, not a panic.
            parameters: parameters.map_err(|e| PacketErrorKind::Values {
                reason: e.to_string(),
            })?,
        }))
    }

    /// Decodes a buffer of packets back to back.
    ///
    /// With [`OnError::Reject`], the first bad packet (framing, or shorter than its container)
    /// is the error, with its byte offset, and nothing is returned. With [`OnError::Skip`], bad
    /// packets are counted and skipped. Either way, packets of an unknown APID are counted
    /// and skipped.
    pub fn decode_buffer(
        &self,
        buffer: &[u8],
        on_error: OnError,
    ) -> std::result::Result<DecodedBuffer, PacketError> {
        let mut packets = Vec::new();
        let counts = self.decode_buffer_into(buffer, on_error, &mut packets)?;
        Ok(DecodedBuffer { packets, counts })
    }

    /// [`Decoder::decode_buffer`] appending to `out`, so that a caller decoding buffer after
    /// buffer reuses one allocation. On an error (with [`OnError::Reject`]) `out` is left as it
    /// was: nothing of a refused buffer is kept.
    pub fn decode_buffer_into(
        &self,
        buffer: &[u8],
        on_error: OnError,
        out: &mut Vec<DecodedPacket>,
    ) -> std::result::Result<Counts, PacketError> {
        let before = out.len();
        let mut counts = Counts::default();
        for item in Packets::new(buffer) {
            counts.packets += 1;
            let failure = match item {
                Ok(packet) => match self.decode(&packet) {
                    Ok(Some(decoded)) => {
                        out.push(decoded);
                        continue;
                    }
                    Ok(None) => {
                        counts.unknown_apid += 1;
                        continue;
                    }
                    Err(kind) => PacketError {
                        offset: packet.offset,
                        kind,
                    },
                },
                Err(e) => e,
            };
            match on_error {
                OnError::Reject => {
                    out.truncate(before);
                    return Err(failure);
                }
                OnError::Skip => counts.malformed += 1,
            }
        }
        Ok(counts)
    }

    #[inline]
    fn value(
        &self,
        bytes: &[u8],
        entry: &Entry,
        time: &mut Option<Timestamp>,
    ) -> Option<ParameterValue> {
        match entry.op {
            Op::Integer { enc, calibrator } => {
                let raw = int_value(bytes, entry.bit, enc);
                self.number(raw, calibrator)
            }
            Op::Float {
                bits,
                lsb_first,
                calibrator,
            } => {
                let raw = if lsb_first {
                    read_le(bytes, entry.bit, bits)
                } else {
                    read_be(bytes, entry.bit, bits)
                };
                let value = if bits == 32 {
                    f64::from(f32::from_bits(raw as u32))
                } else {
                    f64::from_bits(raw)
                };
                self.number(value, calibrator)
            }
            Op::Enumerated { enc, table } => {
                let raw = int_value(bytes, entry.bit, enc) as i64;
                let labels = &self.enumerations[table as usize];
                Some(ParameterValue::Text(
                    match labels.binary_search_by_key(&raw, |(v, _)| *v) {
                        Ok(i) => labels[i].1.clone(),
                        Err(_) => format!("UNDEFINED({raw})"),
                    },
                ))
            }
            Op::Boolean { enc } => Some(ParameterValue::Bool(raw_bits(bytes, entry.bit, enc) != 0)),
            Op::Text { bytes: len } => {
                let mut text = Vec::with_capacity(len as usize);
                for i in 0..len as usize {
                    text.push(read_be(bytes, entry.bit + i * 8, 8) as u8);
                }
                let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
                ParameterValue::text(String::from_utf8_lossy(&text[..end])).ok()
            }
            Op::Time {
                coarse,
                fine_bits,
                conversion,
            } => {
                let mut seconds = int_value(bytes, entry.bit, coarse);
                if fine_bits > 0 {
                    let fine = read_be(bytes, entry.bit + usize::from(coarse.bits), fine_bits);
                    seconds += fine as f64 / 2f64.powi(i32::from(fine_bits));
                }
                let conv = self.times[conversion as usize];
                let millis =
                    crate::time::utc_millis(conv.epoch, conv.offset + conv.scale * seconds)?;
                let at = Timestamp::from_millis(millis).ok()?;
                time.get_or_insert(at);
                Some(ParameterValue::Text(at.to_string()))
            }
        }
    }

    #[inline]
    fn number(&self, raw: f64, calibrator: Option<u32>) -> Option<ParameterValue> {
        let value = match calibrator {
            None => raw,
            Some(i) => self.calibrators[i as usize]
                .iter()
                .rev()
                .fold(0.0, |acc, c| acc * raw + c),
        };
        value.is_finite().then_some(ParameterValue::Number(value))
    }
}

#[inline]
fn raw_bits(bytes: &[u8], bit: usize, enc: IntEncoding) -> u64 {
    if enc.lsb_first {
        read_le(bytes, bit, enc.bits)
    } else {
        read_be(bytes, bit, enc.bits)
    }
}

#[inline]
fn int_value(bytes: &[u8], bit: usize, enc: IntEncoding) -> f64 {
    let raw = raw_bits(bytes, bit, enc);
    if enc.signed {
        sign_extend(raw, enc.bits) as f64
    } else {
        raw as f64
    }
}

/// One compilation: the lookup tables of names, built once, and the tables of the decoder.
struct Compiler<'d> {
    def: &'d Definition,
    types: HashMap<(usize, &'d str), usize>,
    parameters: HashMap<(usize, &'d str), usize>,
    containers: HashMap<(usize, &'d str), usize>,
    /// (parent, name) → system; roots have `usize::MAX` as parent.
    systems: HashMap<(usize, &'d str), usize>,
    /// The op of each parameter, by parameter index.
    ops: Vec<Op>,
    compiled: Vec<Option<Compiled>>,
    /// The flattened (parameter, bit) entries of each compiled container, for its children.
    flat: Vec<Vec<(usize, usize)>>,
    ends: Vec<usize>,
    criteria: Vec<Vec<(HeaderField, Operator, u64)>>,
    interner: LayoutInterner,
    out_calibrators: Vec<Box<[f64]>>,
    out_enumerations: Vec<Box<[(i64, String)]>>,
    out_times: Vec<TimeConversion>,
}

impl<'d> Compiler<'d> {
    fn new(def: &'d Definition) -> Self {
        let index = |items: Vec<(usize, &'d str)>| -> HashMap<(usize, &'d str), usize> {
            items.into_iter().enumerate().map(|(i, k)| (k, i)).collect()
        };
        Compiler {
            def,
            types: index(
                def.types
                    .iter()
                    .map(|t| (t.system, t.name.as_str()))
                    .collect(),
            ),
            parameters: index(
                def.parameters
                    .iter()
                    .map(|p| (p.system, p.name.as_str()))
                    .collect(),
            ),
            containers: index(
                def.containers
                    .iter()
                    .map(|c| (c.system, c.name.as_str()))
                    .collect(),
            ),
            systems: index(
                def.systems
                    .iter()
                    .map(|s| (s.parent.unwrap_or(usize::MAX), s.name.as_str()))
                    .collect(),
            ),
            ops: Vec::new(),
            compiled: vec![None; def.containers.len()],
            flat: vec![Vec::new(); def.containers.len()],
            ends: vec![0; def.containers.len()],
            criteria: vec![Vec::new(); def.containers.len()],
            interner: LayoutInterner::new(),
            out_calibrators: Vec::new(),
            out_enumerations: Vec::new(),
            out_times: Vec::new(),
        }
    }

    /// Resolves an XTCE reference from `system`: `/Root/Sub/name` (absolute), `Sub/name` or
    /// `../name` (relative), or a bare `name`, looked up in `system` and then its ancestors.
    fn resolve(
        &self,
        table: &HashMap<(usize, &'d str), usize>,
        kind: &'static str,
        system: usize,
        reference: &str,
        line: u32,
    ) -> Result<usize> {
        let unknown = || DefinitionError::UnknownReference {
            kind,
            name: reference.to_owned(),
            line,
        };
        let Some((path, name)) = reference.rsplit_once('/') else {
            let mut at = Some(system);
            while let Some(s) = at {
                if let Some(&i) = table.get(&(s, reference)) {
                    return Ok(i);
                }
                at = self.def.systems[s].parent;
            }
            return Err(unknown());
        };
        let (mut at, segments) = match path.strip_prefix('/') {
            Some(rest) => (usize::MAX, rest),
            None if path.is_empty() => (usize::MAX, ""),
            None => (system, path),
        };
        for segment in segments.split('/').filter(|s| !s.is_empty()) {
            at = match segment {
                "." => at,
                ".." => self
                    .def
                    .systems
                    .get(at)
                    .and_then(|s| s.parent)
                    .ok_or_else(unknown)?,
                child => *self.systems.get(&(at, child)).ok_or_else(unknown)?,
            };
        }
        table.get(&(at, name)).copied().ok_or_else(unknown)
    }

    fn run(mut self) -> Result<Decoder> {
        let def = self.def;
        let mut infos = Vec::with_capacity(def.parameters.len());
        for p in &def.parameters {
            let t = self.resolve(&self.types, "parameter type", p.system, &p.type_ref, p.line)?;
            let ty = &def.types[t];
            let op = self.op(&ty.kind);
            self.ops.push(op);
            infos.push(ParameterInfo {
                name: ParameterName::parse(p.name.as_str()).map_err(|e| {
                    DefinitionError::Invalid {
                        element: "Parameter".to_owned(),
                        reason: format!("`name` {e}"),
                        line: p.line,
                    }
                })?,
                unit: ty.unit.clone(),
                alarm: ty.alarm,
            });
        }
        for i in 0..def.containers.len() {
            self.container(i, &infos, 0)?;
        }
        let containers: Vec<Compiled> = self.compiled.into_iter().flatten().collect();
        let mut by_apid = Vec::with_capacity(APIDS);
        for apid in 0..APIDS as u64 {
            let mut matching: Vec<u32> = (0..containers.len() as u32)
                .filter(|&i| {
                    let c = &containers[i as usize];
                    !c.is_abstract
                        && c.criteria
                            .iter()
                            .filter(|(f, _, _)| *f == HeaderField::Apid)
                            .all(|&(_, op, v)| op.holds(apid, v))
                })
                .collect();
            // Deepest first; the sort is stable, so document order breaks ties.
            matching.sort_by_key(|&i| std::cmp::Reverse(containers[i as usize].depth));
            by_apid.push(matching.into_boxed_slice());
        }
        Ok(Decoder {
            containers,
            by_apid,
            calibrators: self.out_calibrators,
            enumerations: self.out_enumerations,
            times: self.out_times,
            parameters: infos,
        })
    }

    fn op(&mut self, kind: &TypeKind) -> Op {
        let calibrator = |c: &Option<Vec<f64>>, out: &mut Vec<Box<[f64]>>| {
            c.as_ref().map(|c| {
                out.push(c.clone().into_boxed_slice());
                (out.len() - 1) as u32
            })
        };
        match kind {
            TypeKind::Integer {
                encoding,
                calibrator: c,
            } => Op::Integer {
                enc: *encoding,
                calibrator: calibrator(c, &mut self.out_calibrators),
            },
            TypeKind::Float {
                encoding: NumberEncoding::Integer(enc),
                calibrator: c,
            } => Op::Integer {
                enc: *enc,
                calibrator: calibrator(c, &mut self.out_calibrators),
            },
            TypeKind::Float {
                encoding: NumberEncoding::Float { bits, lsb_first },
                calibrator: c,
            } => Op::Float {
                bits: *bits,
                lsb_first: *lsb_first,
                calibrator: calibrator(c, &mut self.out_calibrators),
            },
            TypeKind::Enumerated { encoding, labels } => {
                let mut sorted = labels.clone();
                sorted.sort_by_key(|(v, _)| *v);
                self.out_enumerations.push(sorted.into_boxed_slice());
                Op::Enumerated {
                    enc: *encoding,
                    table: (self.out_enumerations.len() - 1) as u32,
                }
            }
            TypeKind::Boolean { encoding } => Op::Boolean { enc: *encoding },
            TypeKind::String { bytes } => Op::Text { bytes: *bytes },
            TypeKind::AbsoluteTime(t) => {
                self.out_times.push(TimeConversion {
                    scale: t.scale,
                    offset: t.offset,
                    epoch: t.epoch,
                });
                Op::Time {
                    coarse: t.coarse,
                    fine_bits: t.fine_bits.unwrap_or(0),
                    conversion: (self.out_times.len() - 1) as u32,
                }
            }
        }
    }

    /// Compiles container `i` (its base first), once.
    fn container(&mut self, i: usize, infos: &[ParameterInfo], depth: usize) -> Result<usize> {
        let def: &'d ContainerDef = &self.def.containers[i];
        if let Some(c) = &self.compiled[i] {
            return Ok(c.depth);
        }
        if depth > self.def.containers.len() {
            return Err(DefinitionError::Invalid {
                element: "SequenceContainer".to_owned(),
                reason: format!("`{}` inherits from itself", def.name),
                line: def.line,
            });
        }
        let (mut entries, mut cursor, criteria, my_depth) = match &def.base {
            None => (Vec::new(), 0usize, Vec::new(), 0),
            Some(base) => {
                let b = self.resolve(
                    &self.containers,
                    "container",
                    def.system,
                    &base.container_ref,
                    base.line,
                )?;
                let base_depth = self.container(b, infos, depth + 1)?;
                let mut criteria = self.criteria[b].clone();
                for c in &base.criteria {
                    let field_name = c.parameter_ref.rsplit('/').next().unwrap_or("");
                    let field = HEADER_FIELDS
                        .iter()
                        .find(|(n, _)| *n == field_name)
                        .map(|(_, f)| *f)
                        .ok_or_else(|| DefinitionError::Invalid {
                            element: "Comparison".to_owned(),
                            reason: format!(
                                "RestrictionCriteria compare the CCSDS primary header fields \
                                 ({}), not `{}`",
                                HEADER_FIELDS.map(|(n, _)| n).join(", "),
                                c.parameter_ref
                            ),
                            line: c.line,
                        })?;
                    criteria.push((field, c.operator, c.value));
                }
                (self.flat[b].clone(), self.ends[b], criteria, base_depth + 1)
            }
        };
        let mut needed = entries
            .iter()
            .map(|&(p, bit)| bit + self.ops[p].size_bits())
            .max()
            .unwrap_or(0);
        for e in &def.entries {
            let p = self.resolve(
                &self.parameters,
                "parameter",
                def.system,
                &e.parameter_ref,
                e.line,
            )?;
            let start = match e.location {
                None => Some(cursor as i64),
                Some((Reference::PreviousEntry, n)) => (cursor as i64).checked_add(n),
                Some((Reference::ContainerStart, n)) => Some(n),
            }
            .filter(|s| (0..=1 << 32).contains(s))
            .ok_or_else(|| DefinitionError::Invalid {
                element: "LocationInContainerInBits".to_owned(),
                reason: "the entry would start before the container or beyond 4 Gbit".to_owned(),
                line: e.line,
            })? as usize;
            if entries.iter().any(|&(q, _)| infos[q].name == infos[p].name) {
                return Err(DefinitionError::Duplicate {
                    kind: "parameter entry",
                    name: infos[p].name.to_string(),
                    line: e.line,
                });
            }
            cursor = start + self.ops[p].size_bits();
            needed = needed.max(cursor);
            entries.push((p, start));
        }
        let names: Vec<ParameterName> = entries
            .iter()
            .map(|&(p, _)| infos[p].name.clone())
            .collect();
        if names.len() > missionops_core::MAX_PARAMETERS {
            return Err(DefinitionError::Invalid {
                element: "SequenceContainer".to_owned(),
                reason: format!(
                    "`{}` has {} entries; a snapshot holds at most {}",
                    def.name,
                    names.len(),
                    missionops_core::MAX_PARAMETERS
                ),
                line: def.line,
            });
        }
        let header_bits = PRIMARY_HEADER_LEN * 8;
        let compiled = Compiled {
            name: def.name.clone(),
            is_abstract: def.is_abstract,
            depth: my_depth,
            layout: self.interner.intern(&names),
            needed: PRIMARY_HEADER_LEN + needed.div_ceil(8),
            criteria: criteria.clone().into_boxed_slice(),
            entries: entries
                .iter()
                .map(|&(p, bit)| Entry {
                    bit: header_bits + bit,
                    op: self.ops[p],
                })
                .collect(),
        };
        self.compiled[i] = Some(compiled);
        self.flat[i] = entries;
        self.ends[i] = cursor;
        self.criteria[i] = criteria;
        Ok(my_depth)
    }
}
