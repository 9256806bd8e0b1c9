//! Compiling a configuration's `parameters` into rules the evaluators run without string work.

use std::collections::HashMap;

use crate::domain::{AnomalyKind, JsonObject, ParameterName, ParameterValue};
use crate::error::{Error, Result};

use super::derived::DerivedParameters;
use super::extensions::{Extensions, compile_extensions};
use super::thresholds::{ThresholdViolation, Thresholds, compile_thresholds};

/// The compiled rule of one parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The parameter.
    pub parameter: ParameterName,
    /// Its default thresholds.
    pub thresholds: Thresholds,
    /// The beyond-compat fields, `None` for a compat-only rule (boxed: most rules have none,
    /// and the compat hot loop never touches them).
    pub extensions: Option<Box<Extensions>>,
    /// The compat descriptions of the default thresholds, by kind (`CRIT_LOW`, `WARN_LOW`,
    /// `CRIT_HIGH`, `WARN_HIGH`), written once at compile time instead of per anomaly.
    descriptions: [String; 4],
}

impl Rule {
    /// The compat description of `violation` of the default thresholds.
    pub fn describe(&self, violation: &ThresholdViolation) -> String {
        let slot = match violation.kind {
            AnomalyKind::CritLow => 0,
            AnomalyKind::WarnLow => 1,
            AnomalyKind::CritHigh => 2,
            _ => 3,
        };
        self.descriptions[slot].clone()
    }

    /// Whether the rule is checked at all (`enabled`, default true).
    pub fn enabled(&self) -> bool {
        self.extensions.as_ref().is_none_or(|e| e.enabled)
    }

    /// The thresholds that apply given the values of the same snapshot (`value_of` looks a
    /// parameter up): those of the first limit set whose `when` matches, else the defaults.
    pub fn thresholds_in<'v>(
        &self,
        value_of: impl Fn(&str) -> Option<&'v ParameterValue>,
    ) -> &Thresholds {
        if let Some(ext) = &self.extensions {
            for set in &ext.limit_sets {
                let matches = set.when.iter().all(|(name, expected)| {
                    value_of(name.as_str()).is_some_and(|v| expected.matches(v))
                });
                if matches {
                    return &set.thresholds;
                }
            }
        }
        &self.thresholds
    }
}

/// A configuration's rules, compiled once per configuration version.
///
/// Rules are addressed by index; [`CompiledRules::index_of`] maps a parameter name to its index
/// and is meant to be called once per snapshot layout, never per sample (see
/// [`crate::Evaluator`]).
#[derive(Debug, Clone)]
pub struct CompiledRules {
    rules: Vec<Rule>,
    by_name: HashMap<ParameterName, u32>,
    /// True when no rule has a beyond-compat field: analysis then takes the stateless compat
    /// path and returns exactly what the TypeScript service did.
    compat_only: bool,
    /// The configuration's derived parameters (SPEC §11), evaluated at ingest before the rules.
    derived: DerivedParameters,
}

impl CompiledRules {
    /// No rules: nothing is ever flagged (a spacecraft without a configuration).
    pub fn empty() -> Self {
        CompiledRules {
            rules: Vec::new(),
            by_name: HashMap::new(),
            compat_only: true,
            derived: DerivedParameters::default(),
        }
    }

    /// Compiles `config.parameters`. Rejects, naming parameter and field: a `parameters` that is
    /// not an object, a rule that is not an object, a threshold that is not a number,
    /// inconsistent thresholds (`warnLow` above `warnHigh`, `critLow` above `warnLow`, `critHigh`
    /// below `warnHigh`, any low threshold above any high one), and bad beyond-compat fields
    /// (SPEC §3: `persistence` below 1, a `deadband` wider than the band, a `when` value that is
    /// not a scalar, …), and bad `derived` expressions (see [`DerivedParameters::compile`]).
    /// Other fields are kept in the document and ignored here.
    pub fn compile(config: &JsonObject) -> Result<Self> {
        let derived = DerivedParameters::compile(config)?;
        let Some(parameters) = config.get("parameters") else {
            return Ok(CompiledRules {
                derived,
                ..Self::empty()
            });
        };
        let parameters = parameters.as_object().ok_or_else(|| {
            Error::invalid("parameters", "must be an object of parameter name → rule")
        })?;
        let mut compiled = CompiledRules {
            rules: Vec::with_capacity(parameters.len()),
            by_name: HashMap::with_capacity(parameters.len()),
            compat_only: true,
            derived: DerivedParameters::default(),
        };
        for (name, rule) in parameters {
            let field = format!("parameters.{name}");
            let parameter = ParameterName::parse(name.as_str()).map_err(|e| {
                Error::invalid(&field, format!("is not a valid parameter name ({e})"))
            })?;
            let rule = rule
                .as_object()
                .ok_or_else(|| Error::invalid(&field, "must be an object of rule fields"))?;
            let thresholds = compile_thresholds(&field, rule)?;
            let extensions = compile_extensions(&field, rule, &thresholds)?.map(Box::new);
            compiled.compat_only &= extensions.is_none();
            let index = u32::try_from(compiled.rules.len())
                .map_err(|_| Error::invalid("parameters", "has too many rules"))?;
            compiled.by_name.insert(parameter.clone(), index);
            let describe = |kind, limit| ThresholdViolation { kind, limit }.describe(&parameter);
            let descriptions = [
                describe(AnomalyKind::CritLow, thresholds.crit_low),
                describe(AnomalyKind::WarnLow, thresholds.warn_low),
                describe(AnomalyKind::CritHigh, thresholds.crit_high),
                describe(AnomalyKind::WarnHigh, thresholds.warn_high),
            ];
            compiled.rules.push(Rule {
                parameter,
                thresholds,
                extensions,
                descriptions,
            });
        }
        compiled.derived = derived;
        Ok(compiled)
    }

    /// The derived parameters, compiled.
    pub fn derived(&self) -> &DerivedParameters {
        &self.derived
    }

    /// The index of the rule for `parameter`, if it has one.
    pub fn index_of(&self, parameter: &ParameterName) -> Option<u32> {
        self.by_name.get(parameter).copied()
    }

    /// The rule at `index`.
    pub fn rule(&self, index: u32) -> &Rule {
        &self.rules[index as usize]
    }

    /// The rule for `parameter`, if it has one.
    pub fn rule_for(&self, parameter: &ParameterName) -> Option<&Rule> {
        self.index_of(parameter).map(|i| self.rule(i))
    }

    /// All rules, in the order of the configuration.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether every rule uses only the compat threshold fields.
    pub fn is_compat_only(&self) -> bool {
        self.compat_only
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compile(value: serde_json::Value) -> Result<CompiledRules> {
        CompiledRules::compile(value.as_object().expect("object"))
    }

    #[test]
    fn a_config_without_parameters_has_no_rules() {
        assert!(compile(json!({"mission": "x"})).unwrap().is_empty());
    }

    #[test]
    fn non_numeric_thresholds_are_rejected_naming_parameter_and_field() {
        for bad in [
            json!("45"),
            json!(null),
            json!(true),
            json!([45]),
            json!({"v": 1}),
        ] {
            let err = compile(json!({"parameters": {"temp": {"warnHigh": bad}}})).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("parameters.temp.warnHigh: must be a number"),
                "{err}"
            );
        }
    }

    #[test]
    fn inconsistent_thresholds_are_rejected_naming_the_field() {
        let cases = [
            (
                json!({"warnLow": 10, "warnHigh": 5}),
                "parameters.t.warnLow: must not be above warnHigh",
            ),
            (
                json!({"critLow": 10, "warnLow": 5}),
                "parameters.t.critLow: must not be above warnLow",
            ),
            (
                json!({"critHigh": 5, "warnHigh": 10}),
                "parameters.t.critHigh: must not be below warnHigh",
            ),
            (
                json!({"critLow": 50, "warnHigh": 40}),
                "parameters.t.critLow: must not be above warnHigh",
            ),
            (
                json!({"critLow": 50, "critHigh": 40}),
                "parameters.t.critLow: must not be above critHigh",
            ),
        ];
        for (rule, message) in cases {
            let err = compile(json!({"parameters": {"t": rule}})).unwrap_err();
            assert_eq!(err.to_string(), message);
        }
    }

    #[test]
    fn equal_thresholds_are_consistent() {
        assert!(compile(json!({"parameters": {"t": {"warnLow": 5, "warnHigh": 5, "critLow": 5, "critHigh": 5}}})).is_ok());
    }

    #[test]
    fn rules_and_parameters_must_be_objects() {
        let err = compile(json!({"parameters": [1]})).unwrap_err();
        assert!(err.to_string().starts_with("parameters: must be an object"));
        let err = compile(json!({"parameters": {"t": 5}})).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("parameters.t: must be an object")
        );
    }

    #[test]
    fn other_rule_fields_are_ignored_by_the_compat_thresholds() {
        let rules = compile(json!({"parameters": {"t": {"unit": "C", "warnHigh": 1}}})).unwrap();
        assert_eq!(rules.rules()[0].thresholds.warn_high, 1.0);
    }
}
