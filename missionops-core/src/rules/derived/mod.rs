//! Derived parameters (SPEC §11): the configuration's `derived: {"name": "expression"}`,
//! compiled once per configuration version and evaluated on every ingested snapshot before the
//! rules, the values stored as parameters of the snapshot.
//!
//! - `parse`: the expression language (grammar in its module comment and the README);
//! - `program`: an expression as a flat stack program over numbered slots;
//! - this file: the set of derived parameters, their dependency order (a cycle is refused), the
//!   binding of a snapshot's layout to slots (once per layout), and evaluation.
//!
//! Values: numbers are read as they are, booleans as 1 and 0, text as absent. Comparisons give
//! 1 or 0. A derived value is always a number; when an input is missing or the result is not
//! finite (a division by zero, `sqrt(-1)`, an overflow) it is absent from the snapshot. A name
//! sent raw in the snapshot keeps its raw value: the derived one is not computed, and the raw
//! one is what other derived parameters read.

mod parse;
mod program;

use std::collections::HashMap;
use std::sync::Arc;

use crate::domain::{
    JsonObject, Layout, MAX_PARAMETERS, ParameterName, ParameterValue, Parameters,
};
use crate::error::{Error, Result, quote};

pub use program::Program;

/// The most derived parameters one configuration may define (no snapshot may hold more
/// parameters than [`MAX_PARAMETERS`] anyway).
pub const MAX_DERIVED: usize = MAX_PARAMETERS;

/// The deepest stack a derived expression may need (a nesting limit keeps real ones far below).
const MAX_STACK: usize = 256;

/// One derived parameter, compiled.
#[derive(Debug, Clone, PartialEq)]
struct Item {
    name: ParameterName,
    program: Program,
    /// Its slot among the direct inputs, when another expression reads it.
    direct: Option<u32>,
    /// Its index among the `last()` inputs, when an expression reads `last()` of it.
    last: Option<u32>,
}

/// The derived parameters of a configuration, compiled: in dependency order, every name an
/// expression reads numbered once.
///
/// Slots: `0..direct.len()` hold the values of the current snapshot; then one per name read
/// through `last()`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DerivedParameters {
    items: Vec<Item>,
    direct: Vec<ParameterName>,
    /// Shared so that [`LastValues`] can tell cheaply whether it follows these names.
    last: Arc<[ParameterName]>,
    depth: usize,
}

impl DerivedParameters {
    /// Compiles `config.derived` (absent: none). Refused, naming `derived.<name>`: a `derived`
    /// that is not an object of name → expression text, a name that is not a valid parameter
    /// name, an expression that does not parse (with the position), an unknown function, a
    /// wrong number of arguments, and a cycle between derived parameters (`last()` of a
    /// derived parameter counts as a dependency too).
    pub fn compile(config: &JsonObject) -> Result<Self> {
        let Some(derived) = config.get("derived") else {
            return Ok(Self::default());
        };
        let derived = derived.as_object().ok_or_else(|| {
            Error::invalid(
                "derived",
                "must be an object of parameter name → expression",
            )
        })?;
        if derived.len() > MAX_DERIVED {
            return Err(Error::invalid(
                "derived",
                format!(
                    "must define at most {MAX_DERIVED} parameters (got {})",
                    derived.len()
                ),
            ));
        }
        let mut parsed = Vec::with_capacity(derived.len());
        for (name, text) in derived {
            let field = format!("derived.{name}");
            let parameter = ParameterName::parse(name.as_str()).map_err(|e| {
                Error::invalid(&field, format!("is not a valid parameter name ({e})"))
            })?;
            let text = text
                .as_str()
                .ok_or_else(|| Error::invalid(&field, "must be an expression (a string)"))?;
            let expr = parse::parse(text).map_err(|e| {
                Error::invalid(&field, format!("{e} in the expression {}", quote(text)))
            })?;
            let mut reads = Vec::new();
            collect_reads(&expr, &mut reads);
            for name in &reads {
                ParameterName::parse(name).map_err(|e| {
                    Error::invalid(
                        &field,
                        format!(
                            "reads {} which is not a valid parameter name ({e}) in the \
                             expression {}",
                            quote(name),
                            quote(text)
                        ),
                    )
                })?;
            }
            parsed.push((parameter, text, expr, reads));
        }
        let order = dependency_order(&parsed)?;
        // Number every name read, in evaluation order: the direct reads first, then the
        // `last()` ones.
        let mut direct: Vec<ParameterName> = Vec::new();
        let mut last: Vec<ParameterName> = Vec::new();
        for &i in &order {
            number_reads(&parsed[i].2, &mut direct, &mut last);
        }
        let slot_of = |names: &[ParameterName], name: &str| {
            names
                .iter()
                .position(|n| n.as_str() == name)
                .and_then(|p| u32::try_from(p).ok())
        };
        let offset = u32::try_from(direct.len()).unwrap_or(u32::MAX);
        let mut items = Vec::with_capacity(order.len());
        for &i in &order {
            let (name, text, expr, _) = &parsed[i];
            let mut slot = |reference: &str, is_last: bool| -> u32 {
                if is_last {
                    slot_of(&last, reference).map_or(u32::MAX, |s| offset + s)
                } else {
                    slot_of(&direct, reference).unwrap_or(u32::MAX)
                }
            };
            let program = Program::compile(expr, &mut slot);
            if program.depth() > MAX_STACK {
                return Err(Error::invalid(
                    format!("derived.{name}"),
                    format!(
                        "is too complex (needs a stack of {} values, at most {MAX_STACK}) in \
                         the expression {}",
                        program.depth(),
                        quote(text)
                    ),
                ));
            }
            items.push(Item {
                direct: slot_of(&direct, name.as_str()),
                last: slot_of(&last, name.as_str()),
                name: name.clone(),
                program,
            });
        }
        let depth = items.iter().map(|i| i.program.depth()).max().unwrap_or(0);
        Ok(DerivedParameters {
            items,
            direct,
            last: last.into(),
            depth,
        })
    }

    /// Whether no derived parameter is defined.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The derived parameters' names, in evaluation (dependency) order.
    pub fn names(&self) -> impl Iterator<Item = &ParameterName> {
        self.items.iter().map(|i| &i.name)
    }

    /// The names read directly, by slot: slot `k` of a [`Program`] holds the value of
    /// `inputs()[k]` (then come the `last()` slots).
    pub fn inputs(&self) -> &[ParameterName] {
        &self.direct
    }

    /// Each derived parameter's compiled program, in evaluation order (for benches and
    /// tools; ingest goes through [`DerivedParameters::derive`]).
    pub fn programs(&self) -> impl Iterator<Item = (&ParameterName, &Program)> {
        self.items.iter().map(|i| (&i.name, &i.program))
    }

    /// Whether any expression reads `last()` of a parameter.
    pub fn uses_last(&self) -> bool {
        !self.last.is_empty()
    }

    /// The derived values of a snapshot with `parameters`, appended to them: `None` when no
    /// derived value is present (none defined, every one absent, or all sent raw). `last`
    /// is the latest known value of each parameter read through `last()`, updated from this
    /// snapshot (its raw values, then its derived ones); `scratch` keeps the binding of the
    /// last layout seen and the stack between calls.
    ///
    /// Fails only when the snapshot would hold more than [`MAX_PARAMETERS`] values.
    pub fn derive(
        &self,
        parameters: &Parameters,
        last: &mut LastValues,
        scratch: &mut DeriveScratch,
    ) -> Result<Option<Parameters>> {
        if self.items.is_empty() {
            return Ok(None);
        }
        last.follow(&self.last);
        let DeriveScratch {
            binding,
            slots,
            stack,
            produced,
        } = scratch;
        let binding = bind(binding, self, parameters.layout());
        let values = parameters.values();
        let direct = self.direct.len();
        slots.clear();
        slots.extend(
            binding
                .direct
                .iter()
                .map(|at| at.map_or(f64::NAN, |at| number(&values[at as usize]))),
        );
        for (j, at) in binding.last.iter().enumerate() {
            if let Some(at) = at {
                let v = number(&values[*at as usize]);
                if !v.is_nan() {
                    last.values[j] = v;
                }
            }
        }
        slots.extend_from_slice(&last.values);
        produced.clear();
        for (k, item) in self.items.iter().enumerate() {
            if binding.raw[k] {
                continue;
            }
            let v = item.program.eval(slots, stack);
            if !v.is_finite() {
                continue;
            }
            if let Some(d) = item.direct {
                slots[d as usize] = v;
            }
            if let Some(l) = item.last {
                last.values[l as usize] = v;
                slots[direct + l as usize] = v;
            }
            produced.push((k, v));
        }
        if produced.is_empty() {
            return Ok(None);
        }
        let mut all: Vec<ParameterValue> = Vec::with_capacity(values.len() + produced.len());
        all.extend_from_slice(values);
        all.extend(produced.iter().map(|(_, v)| ParameterValue::Number(*v)));
        let layout = binding.output(self, parameters, produced)?;
        Parameters::with_layout(&layout, all).map(Some)
    }
}

/// The value of a parameter as an expression reads it: numbers as they are, booleans as 1 and
/// 0, text as absent.
fn number(value: &ParameterValue) -> f64 {
    match value {
        ParameterValue::Number(v) => *v,
        ParameterValue::Bool(b) => f64::from(u8::from(*b)),
        ParameterValue::Text(_) => f64::NAN,
    }
}

/// Every parameter name `expr` reads, directly or through `last()`, each once.
fn collect_reads(expr: &parse::Expr, reads: &mut Vec<String>) {
    use parse::Expr;
    match expr {
        Expr::Number(_) => {}
        Expr::Param(name) | Expr::Last(name) => {
            if !reads.contains(name) {
                reads.push(name.clone());
            }
        }
        Expr::Neg(inner) => collect_reads(inner, reads),
        Expr::Binary(_, a, b) => {
            collect_reads(a, reads);
            collect_reads(b, reads);
        }
        Expr::Call(_, args) => args.iter().for_each(|a| collect_reads(a, reads)),
    }
}

/// Adds the names `expr` reads to `direct` or `last` (for `last()`), each once.
fn number_reads(
    expr: &parse::Expr,
    direct: &mut Vec<ParameterName>,
    last: &mut Vec<ParameterName>,
) {
    use parse::Expr;
    match expr {
        Expr::Number(_) => {}
        Expr::Param(name) | Expr::Last(name) => {
            let names = if matches!(expr, Expr::Last(_)) {
                last
            } else {
                direct
            };
            // Every name read was checked to parse when the expression was.
            if let Ok(name) = ParameterName::parse(name.as_str()) {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        Expr::Neg(inner) => number_reads(inner, direct, last),
        Expr::Binary(_, a, b) => {
            number_reads(a, direct, last);
            number_reads(b, direct, last);
        }
        Expr::Call(_, args) => args.iter().for_each(|a| number_reads(a, direct, last)),
    }
}

type Parsed<'a> = (ParameterName, &'a str, parse::Expr, Vec<String>);

/// The indices of `parsed` in an order where every derived parameter comes after those it
/// reads; a cycle is refused naming the first derived parameter (in configuration order) on it.
fn dependency_order(parsed: &[Parsed<'_>]) -> Result<Vec<usize>> {
    let index: HashMap<&str, usize> = parsed
        .iter()
        .enumerate()
        .map(|(i, p)| (p.0.as_str(), i))
        .collect();
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Visiting,
        Done,
    }
    let mut marks = vec![Mark::New; parsed.len()];
    let mut order = Vec::with_capacity(parsed.len());
    for root in 0..parsed.len() {
        if marks[root] != Mark::New {
            continue;
        }
        // Iterative depth-first search: a long chain of derived parameters cannot overflow
        // the stack. Each frame is a node and how many of its reads were followed.
        let mut path: Vec<(usize, usize)> = vec![(root, 0)];
        marks[root] = Mark::Visiting;
        while let Some(&mut (node, ref mut next)) = path.last_mut() {
            let reads = &parsed[node].3;
            if *next == reads.len() {
                marks[node] = Mark::Done;
                order.push(node);
                path.pop();
                continue;
            }
            let read = &reads[*next];
            *next += 1;
            let Some(&dep) = index.get(read.as_str()) else {
                continue;
            };
            match marks[dep] {
                Mark::Done => {}
                Mark::New => {
                    marks[dep] = Mark::Visiting;
                    path.push((dep, 0));
                }
                Mark::Visiting => {
                    let start = path.iter().position(|(n, _)| *n == dep).unwrap_or(0);
                    let mut cycle: Vec<&str> = path[start..]
                        .iter()
                        .map(|(n, _)| parsed[*n].0.as_str())
                        .collect();
                    cycle.push(parsed[dep].0.as_str());
                    let (name, text, ..) = &parsed[dep];
                    return Err(Error::invalid(
                        format!("derived.{name}"),
                        format!(
                            "is part of a cycle of derived parameters ({}) in the expression {}",
                            cycle.join(" → "),
                            quote(text)
                        ),
                    ));
                }
            }
        }
    }
    Ok(order)
}

/// Where a layout's values go: found once per layout, reused while snapshots keep it.
#[derive(Debug, Clone)]
struct Binding {
    /// The configuration bound (its `last` names, unique to one compiled configuration).
    config: Arc<[ParameterName]>,
    layout: Layout,
    /// For each direct slot, the position of its parameter in the snapshot.
    direct: Vec<Option<u32>>,
    /// For each `last()` input, the position of its parameter in the snapshot.
    last: Vec<Option<u32>>,
    /// For each derived parameter, whether the snapshot carries it raw.
    raw: Vec<bool>,
    /// The layout with the derived values appended, for the derived parameters produced last
    /// time (usually every one, every time).
    output: Option<(Vec<usize>, Layout)>,
}

impl Binding {
    fn new(derived: &DerivedParameters, layout: &Layout) -> Self {
        let position = |name: &ParameterName| {
            layout
                .names()
                .iter()
                .position(|n| n == name)
                .and_then(|p| u32::try_from(p).ok())
        };
        Binding {
            config: Arc::clone(&derived.last),
            layout: layout.clone(),
            direct: derived.direct.iter().map(position).collect(),
            last: derived.last.iter().map(position).collect(),
            raw: derived
                .items
                .iter()
                .map(|i| position(&i.name).is_some())
                .collect(),
            output: None,
        }
    }

    /// The layout of the snapshot with `produced` appended, shared while the same ones are.
    fn output(
        &mut self,
        derived: &DerivedParameters,
        parameters: &Parameters,
        produced: &[(usize, f64)],
    ) -> Result<Layout> {
        if let Some((items, layout)) = &self.output {
            if items.len() == produced.len() && items.iter().zip(produced).all(|(a, b)| *a == b.0) {
                return Ok(layout.clone());
            }
        }
        let total = parameters.len() + produced.len();
        if total > MAX_PARAMETERS {
            return Err(Error::invalid(
                Parameters::FIELD,
                format!(
                    "must have at most {MAX_PARAMETERS} parameters with the derived ones (got \
                     {total})"
                ),
            ));
        }
        let pairs = parameters
            .iter()
            .map(|(n, v)| (n.clone(), v.clone()))
            .chain(
                produced
                    .iter()
                    .map(|(k, v)| (derived.items[*k].name.clone(), ParameterValue::Number(*v))),
            );
        let layout = Parameters::new(pairs)?.layout().clone();
        self.output = Some((produced.iter().map(|(k, _)| *k).collect(), layout.clone()));
        Ok(layout)
    }
}

/// What evaluation keeps between snapshots: the binding of the last layout and the buffers.
/// One per spacecraft and batch (or longer, for one configuration).
#[derive(Debug, Default)]
pub struct DeriveScratch {
    binding: Option<Binding>,
    slots: Vec<f64>,
    stack: Vec<f64>,
    produced: Vec<(usize, f64)>,
}

/// The binding for `layout` in `kept`, made again when the layout or the configuration changed.
fn bind<'a>(
    kept: &'a mut Option<Binding>,
    derived: &DerivedParameters,
    layout: &Layout,
) -> &'a mut Binding {
    let current = kept.as_ref().is_some_and(|b| {
        // A scratch kept across a configuration change must not reuse the old binding.
        Arc::ptr_eq(&b.config, &derived.last)
            && (b.layout.same_as(layout) || b.layout.names() == layout.names())
    });
    if !current {
        *kept = None;
    }
    kept.get_or_insert_with(|| Binding::new(derived, layout))
}

/// The latest known value of each parameter a configuration reads through `last()`, for one
/// spacecraft. NaN: none known yet.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LastValues {
    names: Arc<[ParameterName]>,
    values: Vec<f64>,
}

impl LastValues {
    /// Follows the names of another configuration, keeping the values of names both read.
    fn follow(&mut self, names: &Arc<[ParameterName]>) {
        if Arc::ptr_eq(&self.names, names) {
            return;
        }
        let values = names
            .iter()
            .map(|n| {
                self.names
                    .iter()
                    .position(|m| m == n)
                    .map_or(f64::NAN, |at| self.values[at])
            })
            .collect();
        self.names = Arc::clone(names);
        self.values = values;
    }

    /// Takes the values of a snapshot in (the raw and derived ones as stored), for rebuilding
    /// after a restart: call with the stored snapshots oldest first.
    pub fn remember(&mut self, derived: &DerivedParameters, parameters: &Parameters) {
        self.follow(&derived.last);
        for (name, value) in parameters.iter() {
            if let Some(at) = self.names.iter().position(|n| n == name) {
                let v = number(value);
                if !v.is_nan() {
                    self.values[at] = v;
                }
            }
        }
    }

    /// The latest known value of `name`, if it is read through `last()` and one is known.
    pub fn get(&self, name: &str) -> Option<f64> {
        let at = self.names.iter().position(|n| n.as_str() == name)?;
        Some(self.values[at]).filter(|v| !v.is_nan())
    }
}

#[cfg(test)]
mod tests;
