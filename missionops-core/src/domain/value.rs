//! Telemetry parameter values and the ordered parameter map of a snapshot.
//!
//! Over 500 lines with its tests, and kept whole: a value, the map of values and the shared
//! layout of the map's names are one concept, parsed and checked together.

use std::fmt;
use std::sync::Arc;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ids::ParameterName;
use crate::error::{Error, Result};

/// The longest accepted string value of a parameter, in bytes.
pub const MAX_TEXT_VALUE_LEN: usize = 1024;
/// The most parameters one snapshot may carry.
pub const MAX_PARAMETERS: usize = 1000;

/// Integers of at most this magnitude are written as JSON integers, so that `15.0` prints as
/// `15` with any JSON formatter (2^53, the largest exactly representable integer run).
const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0;

/// One telemetry value: a finite number, a string (at most [`MAX_TEXT_VALUE_LEN`] bytes) or a
/// boolean. `null`, arrays and objects are not telemetry values.
#[derive(Debug, Clone, PartialEq)]
pub enum ParameterValue {
    /// A finite number.
    Number(f64),
    /// A string such as a mode (`CRUISE`).
    Text(String),
    /// A flag.
    Bool(bool),
}

impl ParameterValue {
    /// A number value; NaN and infinities are rejected.
    pub fn number(value: f64) -> Result<Self> {
        if value.is_finite() {
            Ok(ParameterValue::Number(value))
        } else {
            Err(Error::invalid("value", "must be a finite number"))
        }
    }

    /// A string value, at most [`MAX_TEXT_VALUE_LEN`] bytes.
    pub fn text(value: impl Into<String>) -> Result<Self> {
        let value = value.into();
        if value.len() > MAX_TEXT_VALUE_LEN {
            return Err(Error::invalid(
                "value",
                format!("must be at most {MAX_TEXT_VALUE_LEN} bytes long"),
            ));
        }
        // NUL cannot be stored by every backend (PostgreSQL text), so no backend takes it.
        if value.contains('\0') {
            return Err(Error::invalid("value", "must not contain NUL characters"));
        }
        Ok(ParameterValue::Text(value))
    }

    /// The number, when this is one.
    pub fn as_number(&self) -> Option<f64> {
        match self {
            ParameterValue::Number(v) => Some(*v),
            _ => None,
        }
    }

    /// Parses a JSON value, naming `field` in the error.
    pub fn from_json(field: &str, value: &serde_json::Value) -> Result<Self> {
        match value {
            serde_json::Value::Number(n) => n
                .as_f64()
                .filter(|v| v.is_finite())
                .map(ParameterValue::Number)
                .ok_or_else(|| Error::invalid(field, "must be a finite number")),
            serde_json::Value::String(s) => {
                ParameterValue::text(s.clone()).map_err(|e| e.within(field))
            }
            serde_json::Value::Bool(b) => Ok(ParameterValue::Bool(*b)),
            serde_json::Value::Null => Err(Error::invalid(
                field,
                "must be a number, string or boolean, not null",
            )),
            serde_json::Value::Array(_) | serde_json::Value::Object(_) => Err(Error::invalid(
                field,
                "must be a number, string or boolean, not an array or object",
            )),
        }
    }
}

impl fmt::Display for ParameterValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParameterValue::Number(v) => f.write_str(&crate::js_json::format_js_number(*v)),
            ParameterValue::Text(s) => f.write_str(s),
            ParameterValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

impl Serialize for ParameterValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ParameterValue::Number(v) => {
                if v.fract() == 0.0 && v.abs() < EXACT_INTEGER_LIMIT {
                    #[allow(clippy::cast_possible_truncation)]
                    s.serialize_i64(*v as i64)
                } else {
                    s.serialize_f64(*v)
                }
            }
            ParameterValue::Text(t) => s.serialize_str(t),
            ParameterValue::Bool(b) => s.serialize_bool(*b),
        }
    }
}

impl<'de> Deserialize<'de> for ParameterValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ValueVisitor;
        impl<'de> Visitor<'de> for ValueVisitor {
            type Value = ParameterValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number, string or boolean")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ParameterValue, E> {
                Ok(ParameterValue::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ParameterValue, E> {
                #[allow(clippy::cast_precision_loss)]
                Ok(ParameterValue::Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ParameterValue, E> {
                #[allow(clippy::cast_precision_loss)]
                Ok(ParameterValue::Number(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ParameterValue, E> {
                ParameterValue::number(v).map_err(|_| E::custom("must be a finite number"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ParameterValue, E> {
                ParameterValue::text(v).map_err(|e| E::custom(reason_of(e)))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<ParameterValue, E> {
                ParameterValue::text(v).map_err(|e| E::custom(reason_of(e)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<ParameterValue, E> {
                Err(E::custom("must be a number, string or boolean, not null"))
            }
            fn visit_none<E: de::Error>(self) -> Result<ParameterValue, E> {
                self.visit_unit()
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<ParameterValue, A::Error> {
                Err(de::Error::custom(
                    "must be a number, string or boolean, not an array",
                ))
            }
            fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<ParameterValue, A::Error> {
                Err(de::Error::custom(
                    "must be a number, string or boolean, not an object",
                ))
            }
        }
        d.deserialize_any(ValueVisitor)
    }
}

/// The reason of an [`Error::Invalid`], for errors that a caller re-labels with its own field.
fn reason_of(err: Error) -> String {
    match err {
        Error::Invalid { reason, .. } => reason,
        other => other.to_string(),
    }
}

/// The ordered parameter names of a snapshot, shared between snapshots that have the same
/// names in the same order.
///
/// The rule engine binds a layout to rule indices once and reuses the binding for every
/// following snapshot with the same layout (a pointer comparison when shared), which is what
/// keeps string hashing out of its hot loop. Stores share layouts when they load a window; see
/// [`LayoutInterner`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Layout(Arc<[ParameterName]>);

impl Layout {
    /// The names in order.
    pub fn names(&self) -> &[ParameterName] {
        &self.0
    }

    /// Whether `self` and `other` are the same shared layout (not merely equal).
    pub fn same_as(&self, other: &Layout) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter()).finish()
    }
}

/// Hands out one shared [`Layout`] per distinct list of names, for code that builds many
/// snapshots (a store loading a window, a batch parser).
#[derive(Debug, Default)]
pub struct LayoutInterner {
    layouts: std::collections::HashMap<Arc<[ParameterName]>, ()>,
}

impl LayoutInterner {
    /// An empty interner.
    pub fn new() -> Self {
        Self::default()
    }

    /// The shared layout equal to `names`.
    pub fn intern(&mut self, names: &[ParameterName]) -> Layout {
        if let Some((shared, ())) = self.layouts.get_key_value(names) {
            return Layout(Arc::clone(shared));
        }
        let shared: Arc<[ParameterName]> = names.into();
        self.layouts.insert(Arc::clone(&shared), ());
        Layout(shared)
    }

    /// `parameters` with its layout replaced by the shared one.
    pub fn share(&mut self, parameters: Parameters) -> Parameters {
        let layout = self.intern(parameters.layout.names());
        Parameters {
            layout,
            values: parameters.values,
        }
    }
}

/// The parameters of one snapshot: names and values in the order given, at most
/// [`MAX_PARAMETERS`], each name once.
#[derive(Clone, PartialEq)]
pub struct Parameters {
    layout: Layout,
    values: Vec<ParameterValue>,
}

impl Parameters {
    /// The field name used in error messages.
    pub const FIELD: &'static str = "parameters";

    /// Builds parameters from `(name, value)` pairs in order, rejecting repeated names and more
    /// than [`MAX_PARAMETERS`].
    pub fn new(pairs: impl IntoIterator<Item = (ParameterName, ParameterValue)>) -> Result<Self> {
        let (names, values): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();
        Self::from_parts(names, values)
    }

    fn from_parts(names: Vec<ParameterName>, values: Vec<ParameterValue>) -> Result<Self> {
        if names.len() > MAX_PARAMETERS {
            return Err(Error::invalid(
                Self::FIELD,
                format!(
                    "must have at most {MAX_PARAMETERS} parameters (got {})",
                    names.len()
                ),
            ));
        }
        if let Some(dup) = first_duplicate(&names) {
            return Err(Error::invalid(
                format!("{}.{dup}", Self::FIELD),
                "is given more than once",
            ));
        }
        Ok(Parameters {
            layout: Layout(names.into()),
            values,
        })
    }

    /// Parameters with the names of an existing `layout` (already checked when it was built)
    /// and `values` in its order: no name is compared or hashed, which is what a store wants
    /// when it reads a run of snapshots with the same names. Fails when the counts differ.
    pub fn with_layout(layout: &Layout, values: Vec<ParameterValue>) -> Result<Self> {
        if layout.names().len() != values.len() {
            return Err(Error::invalid(
                Self::FIELD,
                format!(
                    "has {} values for {} names",
                    values.len(),
                    layout.names().len()
                ),
            ));
        }
        Ok(Parameters {
            layout: layout.clone(),
            values,
        })
    }

    /// Parses a JSON object of parameters, naming the offending parameter in the error.
    pub fn from_json(value: &serde_json::Value) -> Result<Self> {
        let object = value
            .as_object()
            .ok_or_else(|| Error::invalid(Self::FIELD, "must be an object of name → value"))?;
        let mut names = Vec::with_capacity(object.len());
        let mut values = Vec::with_capacity(object.len());
        for (name, value) in object {
            let name = ParameterName::parse(name.as_str()).map_err(|e| match e {
                Error::Invalid { reason, .. } => {
                    Error::invalid(format!("{}.{name}", Self::FIELD), format!("name {reason}"))
                }
                other => other,
            })?;
            let field = format!("{}.{name}", Self::FIELD);
            values.push(ParameterValue::from_json(&field, value)?);
            names.push(name);
        }
        Self::from_parts(names, values)
    }

    /// The shared layout of names.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The names in order.
    pub fn names(&self) -> &[ParameterName] {
        self.layout.names()
    }

    /// The values in the order of [`Parameters::names`].
    pub fn values(&self) -> &[ParameterValue] {
        &self.values
    }

    /// `(name, value)` pairs in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&ParameterName, &ParameterValue)> {
        self.layout.names().iter().zip(self.values.iter())
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&ParameterValue> {
        self.iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, v)| v)
    }

    /// How many parameters there are.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

fn first_duplicate(names: &[ParameterName]) -> Option<&ParameterName> {
    if names.len() <= 16 {
        // A quadratic scan beats building a set for the usual handful of parameters.
        return names
            .iter()
            .enumerate()
            .find(|(i, n)| names[..*i].contains(n))
            .map(|(_, n)| n);
    }
    let mut seen = std::collections::HashSet::with_capacity(names.len());
    names.iter().find(|n| !seen.insert(n.as_str()))
}

impl fmt::Debug for Parameters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Parameters {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.len()))?;
        for (name, value) in self.iter() {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// How many layouts each thread remembers for the parser (see [`RECENT_LAYOUTS`]).
const RECENT_LAYOUT_COUNT: usize = 8;

thread_local! {
    /// The layouts this thread parsed last, newest first: a fleet sends the same few lists of
    /// names over and over, and a snapshot whose names match one of them takes that shared
    /// layout instead of allocating and checking each name again (and the monitor then binds
    /// it by a pointer comparison). Only which of two equal layouts a snapshot holds depends
    /// on it, never what is parsed or rejected.
    static RECENT_LAYOUTS: std::cell::RefCell<std::rc::Rc<[Layout]>> =
        std::cell::RefCell::new(std::rc::Rc::from([]));
}

/// The layouts a snapshot's names are checked against while it is parsed: the thread's recent
/// ones, and the one whose first names are the keys parsed so far.
struct KnownLayouts {
    recent: std::rc::Rc<[Layout]>,
    /// The index in `recent` of a layout whose first names are those parsed so far.
    matched: Option<usize>,
}

impl KnownLayouts {
    /// This thread's recent layouts (none while the thread is ending).
    fn of_this_thread() -> Self {
        let recent = RECENT_LAYOUTS
            .try_with(|recent| recent.try_borrow().map(|r| std::rc::Rc::clone(&r)).ok())
            .ok()
            .flatten()
            .unwrap_or_else(|| std::rc::Rc::from([]));
        KnownLayouts {
            recent,
            matched: None,
        }
    }

    /// The already-checked name at `names.len()` equal to `key`, from a recent layout whose
    /// first names are `names` (the keys before it).
    fn name_at(&mut self, names: &[ParameterName], key: &str) -> Option<ParameterName> {
        let position = names.len();
        let next_is_key = |layout: &Layout| {
            layout
                .names()
                .get(position)
                .is_some_and(|n| n.as_str() == key)
        };
        self.matched = match self.matched {
            // Its first names are `names` already.
            Some(i) if next_is_key(&self.recent[i]) => Some(i),
            _ => self
                .recent
                .iter()
                .position(|layout| next_is_key(layout) && layout.names()[..position] == *names),
        };
        Some(self.recent[self.matched?].names()[position].clone())
    }

    /// The recent layout whose names are exactly `names`, the keys parsed.
    fn whole(&self, names: &[ParameterName]) -> Option<Layout> {
        let layout = &self.recent[self.matched?];
        (layout.names().len() == names.len()).then(|| layout.clone())
    }

    /// Remembers `layout` as this thread's newest.
    fn remember(&self, layout: &Layout) {
        let mut recent = Vec::with_capacity(RECENT_LAYOUT_COUNT);
        recent.push(layout.clone());
        recent.extend(
            self.recent
                .iter()
                .filter(|known| *known != layout)
                .take(RECENT_LAYOUT_COUNT - 1)
                .cloned(),
        );
        let _ = RECENT_LAYOUTS.try_with(|cell| {
            if let Ok(mut cell) = cell.try_borrow_mut() {
                *cell = recent.into();
            }
        });
    }
}

impl<'de> Deserialize<'de> for Parameters {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ParametersVisitor;
        impl<'de> Visitor<'de> for ParametersVisitor {
            type Value = Parameters;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of parameter name → number, string or boolean")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parameters, A::Error> {
                let capacity = map.size_hint().unwrap_or(8).min(MAX_PARAMETERS);
                let mut names = Vec::with_capacity(capacity);
                let mut values = Vec::with_capacity(capacity);
                let mut known = KnownLayouts::of_this_thread();
                while let Some(raw) = map.next_key_seed(super::text::TextSeed)? {
                    let name = match known.name_at(&names, &raw) {
                        Some(name) => name,
                        None => ParameterName::parse(raw.as_ref()).map_err(|e| {
                            de::Error::custom(format!(
                                "parameters: name {}: {e}",
                                crate::error::quote(&raw)
                            ))
                        })?,
                    };
                    let value = map.next_value::<ParameterValue>().map_err(|e| {
                        de::Error::custom(format!("parameters.{name}: {}", strip_position(&e)))
                    })?;
                    names.push(name);
                    values.push(value);
                    if names.len() > MAX_PARAMETERS {
                        return Err(de::Error::custom(format!(
                            "parameters: must have at most {MAX_PARAMETERS} parameters"
                        )));
                    }
                }
                if let Some(layout) = known.whole(&names) {
                    // Checked when it was first parsed: no repeated name.
                    return Ok(Parameters { layout, values });
                }
                let parameters =
                    Parameters::from_parts(names, values).map_err(de::Error::custom)?;
                known.remember(parameters.layout());
                Ok(parameters)
            }
        }
        d.deserialize_map(ParametersVisitor)
    }
}

/// serde_json appends ` at line L column C` to errors; inner errors are re-wrapped with a field
/// path, and the outer error gets the position again.
fn strip_position(err: &impl fmt::Display) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_the_order_of_parameters_as_given() {
        let p: Parameters = serde_json::from_str(r#"{"z":1,"a":"CRUISE","m":true}"#).unwrap();
        let names: Vec<_> = p.names().iter().map(ParameterName::as_str).collect();
        assert_eq!(names, ["z", "a", "m"]);
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"z":1,"a":"CRUISE","m":true}"#
        );
    }

    #[test]
    fn rejects_null_arrays_and_objects_naming_the_parameter() {
        for (body, what) in [
            (r#"{"temp":null}"#, "not null"),
            (r#"{"temp":[1]}"#, "not an array"),
            (r#"{"temp":{"v":1}}"#, "not an object"),
        ] {
            let err = serde_json::from_str::<Parameters>(body)
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("parameters.temp: must be a number"),
                "{err}"
            );
            assert!(err.contains(what), "{err}");
        }
    }

    #[test]
    fn rejects_repeated_names() {
        let err = serde_json::from_str::<Parameters>(r#"{"a":1,"a":2}"#).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("parameters.a: is given more than once")
        );
    }

    #[test]
    fn rejects_more_than_the_maximum_number_of_parameters() {
        let many: serde_json::Map<_, _> = (0..=MAX_PARAMETERS)
            .map(|i| (format!("p{i}"), json!(1)))
            .collect();
        let text = serde_json::to_string(&many).unwrap();
        assert!(serde_json::from_str::<Parameters>(&text).is_err());
        assert!(Parameters::from_json(&serde_json::Value::Object(many)).is_err());
    }

    #[test]
    fn rejects_over_long_strings_and_non_finite_numbers() {
        let long = "x".repeat(MAX_TEXT_VALUE_LEN + 1);
        assert!(ParameterValue::text(long).is_err());
        assert!(ParameterValue::number(f64::NAN).is_err());
        assert!(ParameterValue::number(f64::INFINITY).is_err());
        assert!(serde_json::from_str::<Parameters>(r#"{"a":1e400}"#).is_err());
    }

    #[test]
    fn nul_characters_are_rejected_in_string_values() {
        let err = serde_json::from_str::<Parameters>(r#"{"mode":"a\u0000b"}"#).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("parameters.mode: must not contain NUL"),
            "{err}"
        );
    }

    #[test]
    fn integral_numbers_serialize_without_a_fraction() {
        let p = Parameters::from_json(&json!({"a": 15.0, "b": -0.0, "c": 0.5})).unwrap();
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"a":15,"b":0,"c":0.5}"#
        );
    }

    #[test]
    fn from_json_names_the_bad_parameter() {
        let err = Parameters::from_json(&json!({"ok": 1, "bad": null})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "parameters.bad: must be a number, string or boolean, not null"
        );
    }

    #[test]
    fn with_layout_reuses_the_shared_names_and_checks_the_count() {
        let first = Parameters::from_json(&json!({"x": 1, "y": 2})).unwrap();
        let next = Parameters::with_layout(
            first.layout(),
            vec![ParameterValue::Number(3.0), ParameterValue::Bool(true)],
        )
        .unwrap();
        assert!(next.layout().same_as(first.layout()));
        assert_eq!(serde_json::to_string(&next).unwrap(), r#"{"x":3,"y":true}"#);
        assert!(Parameters::with_layout(first.layout(), vec![]).is_err());
    }

    #[test]
    fn the_interner_shares_equal_layouts() {
        let mut interner = LayoutInterner::new();
        let a = interner.share(Parameters::from_json(&json!({"x": 1, "y": 2})).unwrap());
        let b = interner.share(Parameters::from_json(&json!({"x": 3, "y": 4})).unwrap());
        let c = interner.share(Parameters::from_json(&json!({"y": 3, "x": 4})).unwrap());
        assert!(a.layout().same_as(b.layout()));
        assert!(!a.layout().same_as(c.layout()));
    }

    fn names_of(p: &Parameters) -> Vec<&str> {
        p.names().iter().map(ParameterName::as_str).collect()
    }

    #[test]
    fn snapshots_parsed_with_the_same_names_share_one_layout() {
        let parse = |body: &str| serde_json::from_str::<Parameters>(body).unwrap();
        let first = parse(r#"{"soc":1,"temp":2}"#);
        let second = parse(r#"{"soc":3,"temp":4}"#);
        assert!(second.layout().same_as(first.layout()));
        // An escaped key is the same name as its plain spelling.
        let escaped = parse(r#"{"so\u0063":5,"temp":6}"#);
        assert!(escaped.layout().same_as(first.layout()));
        assert_eq!(
            serde_json::to_string(&escaped).unwrap(),
            r#"{"soc":5,"temp":6}"#
        );
        // Other orders, prefixes and extensions of a known list get layouts of their own.
        for (body, names) in [
            (r#"{"temp":1,"soc":2}"#, vec!["temp", "soc"]),
            (r#"{"soc":1}"#, vec!["soc"]),
            (
                r#"{"soc":1,"temp":2,"mode":"SAFE"}"#,
                vec!["soc", "temp", "mode"],
            ),
            (r#"{}"#, vec![]),
        ] {
            let parsed = parse(body);
            assert_eq!(names_of(&parsed), names, "{body}");
            assert!(!parsed.layout().same_as(first.layout()), "{body}");
        }
    }

    #[test]
    fn a_known_list_of_names_is_still_checked_where_it_differs() {
        serde_json::from_str::<Parameters>(r#"{"a":1,"b":2}"#).unwrap();
        let repeated = serde_json::from_str::<Parameters>(r#"{"a":1,"b":2,"a":3}"#).unwrap_err();
        assert!(
            repeated
                .to_string()
                .starts_with("parameters.a: is given more than once"),
            "{repeated}"
        );
        let bad = serde_json::from_str::<Parameters>(r#"{"a":1,"b":2,"\u0001":3}"#).unwrap_err();
        assert!(
            bad.to_string()
                .contains("must not contain control characters"),
            "{bad}"
        );
        // The bad value of a known name is still named.
        let bad = serde_json::from_str::<Parameters>(r#"{"a":1,"b":null}"#).unwrap_err();
        assert!(
            bad.to_string()
                .starts_with("parameters.b: must be a number"),
            "{bad}"
        );
    }

    proptest::proptest! {
        /// Whatever this thread parsed before, a list of names parses to those names in order,
        /// or is refused exactly when it repeats one.
        #[test]
        fn parsing_does_not_depend_on_the_layouts_seen_before(
            lists in proptest::collection::vec(
                proptest::collection::vec(proptest::sample::select(vec!["a", "b", "c", "d"]), 0..5),
                1..20,
            )
        ) {
            for list in &lists {
                let body = format!(
                    "{{{}}}",
                    list.iter().map(|n| format!("{n:?}:1")).collect::<Vec<_>>().join(",")
                );
                let parsed = serde_json::from_str::<Parameters>(&body);
                let repeats = list.iter().enumerate().any(|(i, n)| list[..i].contains(n));
                match parsed {
                    Ok(p) => {
                        proptest::prop_assert!(!repeats, "{body}");
                        proptest::prop_assert_eq!(names_of(&p), list.clone());
                    }
                    Err(e) => proptest::prop_assert!(
                        repeats && e.to_string().contains("is given more than once"),
                        "{body}: {e}"
                    ),
                }
            }
        }
    }
}
