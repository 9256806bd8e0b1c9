//! The errors of the crate: a definition refused (parsing or compiling) and a packet refused
//! (framing or decoding). Each names where: the definition's line, the packet's byte offset.

use thiserror::Error;

/// A packet definition that cannot be used, with the line of the XML it comes from.
///
/// Every variant names the element (or attribute, or reference) at fault, so that an operator
/// can fix the document without guessing; the HTTP layer maps all of them to 400.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DefinitionError {
    /// Not well-formed XML.
    #[error("the definition is not well-formed XML: {reason}")]
    Xml {
        /// The parser's message, with its line and column.
        reason: String,
    },
    /// An element outside the supported XTCE subset.
    #[error("line {line}: element `{element}` is not supported (inside `{parent}`)")]
    UnsupportedElement {
        /// The element's local name.
        element: String,
        /// Its parent's local name.
        parent: String,
        /// Its line (1-based).
        line: u32,
    },
    /// An attribute outside the supported XTCE subset.
    #[error("line {line}: attribute `{attribute}` of `{element}` is not supported")]
    UnsupportedAttribute {
        /// The element carrying it.
        element: String,
        /// The attribute's name.
        attribute: String,
        /// Its line (1-based).
        line: u32,
    },
    /// A required attribute or child element is missing, or a value is out of range.
    #[error("line {line}: `{element}`: {reason}")]
    Invalid {
        /// The element at fault.
        element: String,
        /// What is wrong.
        reason: String,
        /// Its line (1-based).
        line: u32,
    },
    /// Two items of the same kind with the same name in one space system, or two entries of one
    /// container giving the same parameter name.
    #[error("line {line}: {kind} `{name}` is defined more than once")]
    Duplicate {
        /// `parameter`, `parameter type` or `container`.
        kind: &'static str,
        /// The repeated name.
        name: String,
        /// The line of the second definition (1-based).
        line: u32,
    },
    /// A reference to a parameter, type or container that the definition does not have.
    #[error("line {line}: {kind} `{name}` is not defined")]
    UnknownReference {
        /// `parameter`, `parameter type` or `container`.
        kind: &'static str,
        /// The reference as written.
        name: String,
        /// The line of the reference (1-based).
        line: u32,
    },
}

/// Why one packet of a buffer was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PacketErrorKind {
    /// Fewer bytes left than the smallest Space Packet (6 header bytes and 1 data byte).
    Truncated {
        /// The bytes left from the packet's start.
        remaining: usize,
    },
    /// The version field is not 0 (the only CCSDS Space Packet version).
    WrongVersion {
        /// The version read.
        version: u8,
    },
    /// The packet data length field says the packet ends beyond the end of the buffer.
    LengthBeyondBody {
        /// The packet's total length according to its length field, in bytes.
        declared: usize,
        /// The bytes left from the packet's start.
        remaining: usize,
    },
    /// The packet is shorter than the container its header selects.
    ShorterThanContainer {
        /// The container's name.
        container: String,
        /// The bytes the container needs, header included.
        needed: usize,
        /// The packet's length in bytes.
        length: usize,
    },
    /// The decoded values do not make a snapshot's parameters (the compiler rules this out:
    /// it names each parameter once per container).
    Values {
        /// The core's reason.
        reason: String,
    },
}

/// A packet refused, at its byte offset in the buffer it came in.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("packet at byte offset {offset}: {}", describe(.kind))]
pub struct PacketError {
    /// Where the bad packet starts in the buffer.
    pub offset: usize,
    /// What is wrong with it.
    pub kind: PacketErrorKind,
}

fn describe(kind: &PacketErrorKind) -> String {
    match kind {
        PacketErrorKind::Truncated { remaining } => format!(
            "truncated: {remaining} bytes left, a Space Packet has at least 7 (6 header bytes and \
             1 data byte)"
        ),
        PacketErrorKind::WrongVersion { version } => {
            format!("version is {version}, a CCSDS Space Packet has version 0")
        }
        PacketErrorKind::LengthBeyondBody {
            declared,
            remaining,
        } => {
            format!("length field gives {declared} bytes but only {remaining} are left in the body")
        }
        PacketErrorKind::ShorterThanContainer {
            container,
            needed,
            length,
        } => format!("{length} bytes long but its container `{container}` needs {needed}"),
        PacketErrorKind::Values { reason } => format!("decoded values refused: {reason}"),
    }
}
