//! A parsed packet definition: the XTCE subset as plain data, references still by name. The
//! [`crate::Decoder`] resolves the names once when it compiles the definition.

use crate::error::DefinitionError;

/// A packet definition parsed from the XTCE subset, not yet compiled.
///
/// Parsing checks the document against the subset (elements, attributes, values); names are
/// resolved by [`crate::Decoder::compile`].
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub(crate) systems: Vec<SystemDef>,
    pub(crate) types: Vec<TypeDef>,
    pub(crate) parameters: Vec<ParameterDef>,
    pub(crate) containers: Vec<ContainerDef>,
}

impl Definition {
    /// Parses an XTCE document, refusing anything outside the subset with its line.
    pub fn parse(xml: &str) -> Result<Self, DefinitionError> {
        crate::xtce::parse(xml)
    }

    /// The names of the containers, in document order.
    pub fn container_names(&self) -> impl Iterator<Item = &str> {
        self.containers.iter().map(|c| c.name.as_str())
    }
}

/// One `SpaceSystem`; names inside it are looked up here, then in its ancestors.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SystemDef {
    pub name: String,
    pub parent: Option<usize>,
}

/// A parameter type with its encoding.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TypeDef {
    pub system: usize,
    pub name: String,
    pub line: u32,
    pub unit: Option<String>,
    pub alarm: Option<AlarmRanges>,
    pub kind: TypeKind,
}

/// What a parameter type decodes to, and from which bits.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TypeKind {
    /// An integer, calibrated to a number when a calibrator is given.
    Integer {
        encoding: IntEncoding,
        calibrator: Option<Vec<f64>>,
    },
    /// A float, from an integer or IEEE 754 encoding.
    Float {
        encoding: NumberEncoding,
        calibrator: Option<Vec<f64>>,
    },
    /// An integer shown as its label.
    Enumerated {
        encoding: IntEncoding,
        labels: Vec<(i64, String)>,
    },
    /// An integer, true when not zero.
    Boolean { encoding: IntEncoding },
    /// Fixed-size text.
    String { bytes: u32 },
    /// A time, seconds (or a CUC coarse + fine pair) since an epoch.
    AbsoluteTime(TimeEncoding),
}

/// An `IntegerDataEncoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IntEncoding {
    pub bits: u8,
    pub signed: bool,
    pub lsb_first: bool,
}

/// The raw encoding of a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumberEncoding {
    Integer(IntEncoding),
    /// IEEE 754, 32 or 64 bits.
    Float {
        bits: u8,
        lsb_first: bool,
    },
}

/// The encoding of an `AbsoluteTimeParameterType`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TimeEncoding {
    /// Whole seconds (or, without `fine`, the whole time in units of `scale`).
    pub coarse: IntEncoding,
    /// The bits of the binary fraction of a second that follows `coarse` (CUC style).
    pub fine_bits: Option<u8>,
    pub scale: f64,
    pub offset: f64,
    pub epoch: Epoch,
}

/// The `ReferenceTime` epoch of an absolute time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Epoch {
    /// 1970-01-01T00:00:00Z, POSIX seconds (no leap seconds).
    Unix,
    /// 2000-01-01T12:00:00 TT, counting SI seconds (leap seconds applied).
    J2000,
    /// 1980-01-06T00:00:00Z, GPS seconds (leap seconds applied).
    Gps,
    /// 1958-01-01T00:00:00 TAI, TAI seconds (leap seconds applied).
    Tai,
    /// A UTC date, milliseconds since the UNIX epoch; counts POSIX seconds like `Unix`.
    Date(i64),
}

/// The static alarm ranges of a numeric parameter type (`DefaultAlarm` /
/// `StaticAlarmRanges`): a value outside a range raises it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AlarmRanges {
    /// The `WarningRange`: (`minInclusive`, `maxInclusive`), either side optional.
    pub warning: (Option<f64>, Option<f64>),
    /// The `CriticalRange`, likewise.
    pub critical: (Option<f64>, Option<f64>),
}

impl AlarmRanges {
    /// The ranges as the core's compat thresholds: a value below `minInclusive` or above
    /// `maxInclusive` is out of range, exactly as the strict comparisons of the compat check.
    pub fn thresholds(&self) -> missionops_core::Thresholds {
        let none = missionops_core::Thresholds::NONE;
        missionops_core::Thresholds {
            warn_low: self.warning.0.unwrap_or(none.warn_low),
            warn_high: self.warning.1.unwrap_or(none.warn_high),
            crit_low: self.critical.0.unwrap_or(none.crit_low),
            crit_high: self.critical.1.unwrap_or(none.crit_high),
        }
    }
}

/// A `Parameter` of a `ParameterSet`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParameterDef {
    pub system: usize,
    pub name: String,
    pub line: u32,
    pub type_ref: String,
}

/// A `SequenceContainer`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ContainerDef {
    pub system: usize,
    pub name: String,
    pub line: u32,
    pub is_abstract: bool,
    pub base: Option<BaseDef>,
    pub entries: Vec<EntryDef>,
}

/// A `BaseContainer` with its `RestrictionCriteria`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BaseDef {
    pub container_ref: String,
    pub line: u32,
    pub criteria: Vec<ComparisonDef>,
}

/// One `Comparison` of a `RestrictionCriteria`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ComparisonDef {
    pub parameter_ref: String,
    pub operator: Operator,
    pub value: u64,
    pub line: u32,
}

/// A comparison operator of XTCE (`==`, `!=`, `<`, `<=`, `>`, `>=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Operator {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "==" => Operator::Eq,
            "!=" => Operator::Ne,
            "<" => Operator::Lt,
            "<=" => Operator::Le,
            ">" => Operator::Gt,
            ">=" => Operator::Ge,
            _ => return None,
        })
    }

    /// Whether `left <op> right` holds.
    #[inline]
    pub fn holds(self, left: u64, right: u64) -> bool {
        match self {
            Operator::Eq => left == right,
            Operator::Ne => left != right,
            Operator::Lt => left < right,
            Operator::Le => left <= right,
            Operator::Gt => left > right,
            Operator::Ge => left >= right,
        }
    }
}

/// A `ParameterRefEntry`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EntryDef {
    pub parameter_ref: String,
    pub line: u32,
    /// `LocationInContainerInBits`: from the container's start or from the previous entry's
    /// end (XTCE's default), in bits.
    pub location: Option<(Reference, i64)>,
}

/// Where a `LocationInContainerInBits` counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reference {
    ContainerStart,
    PreviousEntry,
}
