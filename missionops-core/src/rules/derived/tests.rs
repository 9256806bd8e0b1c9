use proptest::prelude::*;
use serde_json::json;

use super::*;

fn compile(derived: serde_json::Value) -> Result<DerivedParameters> {
    DerivedParameters::compile(json!({ "derived": derived }).as_object().expect("object"))
}

fn params(value: serde_json::Value) -> Parameters {
    Parameters::from_json(&value).expect("parameters")
}

/// The derived values of one snapshot, by name.
fn derive_with(
    derived: &DerivedParameters,
    last: &mut LastValues,
    value: serde_json::Value,
) -> serde_json::Value {
    let input = params(value);
    let out = derived
        .derive(&input, last, &mut DeriveScratch::default())
        .expect("derive")
        .unwrap_or(input);
    serde_json::to_value(&out).expect("json")
}

/// The value of one expression over `inputs`, or `None` when absent.
fn eval(expr: &str, inputs: serde_json::Value) -> Option<f64> {
    let derived = compile(json!({ "out": expr })).expect("compiles");
    let out = derive_with(&derived, &mut LastValues::default(), inputs);
    out.get("out").map(|v| v.as_f64().expect("number"))
}

#[test]
fn precedence_and_associativity() {
    let cases = [
        ("1 + 2 * 3", 7.0),
        ("(1 + 2) * 3", 9.0),
        ("2 ^ 3 ^ 2", 512.0),
        ("-2 ^ 2", -4.0),
        ("2 ^ -1", 0.5),
        ("10 - 4 - 3", 3.0),
        ("12 / 3 / 2", 2.0),
        ("1 + 2 < 4", 1.0),
        ("1 + 2 >= 4", 0.0),
        ("2 * 3 == 6", 1.0),
        ("1 != 1", 0.0),
        ("--3", 3.0),
        ("1.5e2 + .5", 150.5),
    ];
    for (expr, expected) in cases {
        assert_eq!(eval(expr, json!({})), Some(expected), "{expr}");
    }
}

#[test]
fn functions_and_if() {
    let cases = [
        ("abs(-3)", 3.0),
        ("min(4, 2, 3)", 2.0),
        ("max(4, 2, 9, 3)", 9.0),
        ("sqrt(16)", 4.0),
        ("exp(0)", 1.0),
        ("ln(1)", 0.0),
        ("log10(1000)", 3.0),
        ("sin(0)", 0.0),
        ("cos(0)", 1.0),
        ("atan2(0, 1)", 0.0),
        ("if(1 < 2, 10, 20)", 10.0),
        ("if(0, 10, 20)", 20.0),
    ];
    for (expr, expected) in cases {
        let got = eval(expr, json!({})).expect(expr);
        assert!((got - expected).abs() < 1e-12, "{expr}: {got}");
    }
}

#[test]
fn parameters_are_read_by_name_booleans_as_one_and_zero() {
    let inputs = json!({"v": 28.0, "i": 2.5, "bus-v": 12, "on": true, "mode": "CRUISE"});
    assert_eq!(eval("v * i", inputs.clone()), Some(70.0));
    assert_eq!(eval("'bus-v' + \"bus-v\"", inputs.clone()), Some(24.0));
    assert_eq!(eval("on * 5", inputs.clone()), Some(5.0));
    // Text is not a number: absent.
    assert_eq!(eval("mode + 1", inputs), None);
}

#[test]
fn a_missing_input_or_a_division_by_zero_leaves_the_value_absent() {
    for expr in [
        "missing + 1",
        "1 / 0",
        "0 / 0",
        "1 / (1 / 0)",
        "sqrt(-1)",
        "ln(0)",
        "exp(1000)",
        "10 ^ 400",
        "min(1, missing)",
        "missing < 1",
        "if(missing, 1, 2)",
        "(-8) ^ (1 / 3)",
    ] {
        assert_eq!(eval(expr, json!({})), None, "{expr}");
    }
    // Only the branch taken matters.
    assert_eq!(eval("if(x > 0, x, 1 / 0)", json!({"x": 2})), Some(2.0));
    assert_eq!(eval("if(x > 0, missing, 7)", json!({"x": -2})), Some(7.0));
}

#[test]
fn derived_parameters_read_each_other_in_dependency_order() {
    // `total` is defined first but needs `power`, defined after it.
    let derived = compile(json!({"total": "power * 2", "power": "v * i"})).unwrap();
    assert_eq!(
        derived
            .names()
            .map(ParameterName::as_str)
            .collect::<Vec<_>>(),
        ["power", "total"]
    );
    let out = derive_with(
        &derived,
        &mut LastValues::default(),
        json!({"v": 2, "i": 3}),
    );
    assert_eq!(out, json!({"v": 2, "i": 3, "power": 6, "total": 12}));
}

#[test]
fn a_name_sent_raw_keeps_its_raw_value_and_others_read_it() {
    let derived = compile(json!({"power": "v * i", "total": "power * 2"})).unwrap();
    let out = derive_with(
        &derived,
        &mut LastValues::default(),
        json!({"v": 2, "i": 3, "power": 100}),
    );
    assert_eq!(out, json!({"v": 2, "i": 3, "power": 100, "total": 200}));
}

#[test]
fn last_follows_the_latest_known_value_across_snapshots() {
    let derived = compile(json!({"margin": "v - last(threshold)"})).unwrap();
    let mut last = LastValues::default();
    let mut scratch = DeriveScratch::default();
    let mut run = |value: serde_json::Value| {
        let input = params(value);
        derived
            .derive(&input, &mut last, &mut scratch)
            .unwrap()
            .map(|p| serde_json::to_value(&p).unwrap()["margin"].clone())
    };
    assert_eq!(run(json!({"v": 10})), None, "no threshold known yet");
    assert_eq!(run(json!({"threshold": 4})), None, "no v in this one");
    assert_eq!(run(json!({"v": 10})), Some(json!(6)));
    // A value in the same snapshot is the latest known one.
    assert_eq!(run(json!({"v": 10, "threshold": 1})), Some(json!(9)));
    assert_eq!(run(json!({"v": 3})), Some(json!(2)));
    assert_eq!(last.get("threshold"), Some(1.0));
}

#[test]
fn last_values_follow_a_new_configuration_by_name() {
    let first = compile(json!({"a": "last(x)", "b": "last(y)"})).unwrap();
    let second = compile(json!({"c": "last(y) + 1"})).unwrap();
    let mut last = LastValues::default();
    derive_with(&first, &mut last, json!({"x": 1, "y": 2}));
    assert_eq!(derive_with(&second, &mut last, json!({})), json!({"c": 3}));
}

#[test]
fn the_output_layout_is_shared_between_snapshots_of_one_layout() {
    let derived = compile(json!({"p": "a * 2"})).unwrap();
    let mut last = LastValues::default();
    let mut scratch = DeriveScratch::default();
    let one = derived
        .derive(&params(json!({"a": 1})), &mut last, &mut scratch)
        .unwrap()
        .unwrap();
    let two = derived
        .derive(&params(json!({"a": 5})), &mut last, &mut scratch)
        .unwrap()
        .unwrap();
    assert!(one.layout().same_as(two.layout()));
    assert_eq!(
        serde_json::to_value(&two).unwrap(),
        json!({"a": 5, "p": 10})
    );
    // Absent this time: the layout changes with what is produced.
    assert!(
        derived
            .derive(&params(json!({"a": "x"})), &mut last, &mut scratch)
            .unwrap()
            .is_none()
    );
}

#[test]
fn a_snapshot_over_the_parameter_limit_with_its_derived_values_is_refused() {
    let derived = compile(json!({"extra": "1"})).unwrap();
    let full: serde_json::Map<String, serde_json::Value> = (0..MAX_PARAMETERS)
        .map(|i| (format!("p{i}"), json!(1)))
        .collect();
    let err = derived
        .derive(
            &params(serde_json::Value::Object(full)),
            &mut LastValues::default(),
            &mut DeriveScratch::default(),
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("parameters: must have at most 1000 parameters with the derived ones"),
        "{err}"
    );
}

#[test]
fn bad_expressions_are_refused_naming_the_derived_parameter() {
    let cases = [
        (json!({"p": "foo(x)"}), "derived.p: unknown function `foo`"),
        (
            json!({"p": "atan2(x)"}),
            "derived.p: `atan2` takes 2 arguments, got 1 at position 1 in the expression \"atan2(x)\"",
        ),
        (
            json!({"p": "x +"}),
            "derived.p: unexpected the end of the expression at position 4 in the expression \"x +\"",
        ),
        (
            json!({"p": 5}),
            "derived.p: must be an expression (a string)",
        ),
        (json!({"": "1"}), "derived.: is not a valid parameter name"),
        (json!(["p"]), "derived: must be an object"),
        (
            json!({"a": "b + 1", "b": "a * 2"}),
            "derived.a: is part of a cycle of derived parameters (a → b → a) in the expression \"b + 1\"",
        ),
        (
            json!({"a": "last(a) + 1"}),
            "derived.a: is part of a cycle of derived parameters (a → a)",
        ),
    ];
    for (derived, message) in cases {
        let err = compile(derived.clone()).unwrap_err().to_string();
        assert!(err.starts_with(message), "{derived}: {err}");
    }
}

#[test]
fn a_long_chain_of_derived_parameters_compiles_without_recursion() {
    // One short of the limit, so that the input fits in the snapshot too.
    let n = MAX_DERIVED - 1;
    let chain: serde_json::Map<String, serde_json::Value> = (0..n)
        .map(|i| {
            let expr = if i + 1 == n {
                "x".to_owned()
            } else {
                format!("d{} + 1", i + 1)
            };
            (format!("d{i}"), json!(expr))
        })
        .collect();
    let derived = compile(serde_json::Value::Object(chain)).unwrap();
    let out = derive_with(&derived, &mut LastValues::default(), json!({"x": 0}));
    assert_eq!(out["d0"], json!(n - 1));
}

/// Expressions built from the whole grammar, over a few names.
fn expression() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        any::<f64>().prop_map(|f| if f.is_finite() {
            format!("({f:e})")
        } else {
            "0".to_owned()
        }),
        Just("a".to_owned()),
        Just("b".to_owned()),
        Just("last(c)".to_owned()),
        Just("missing".to_owned()),
    ];
    leaf.prop_recursive(5, 40, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec![
                    "+", "-", "*", "/", "^", "<", "<=", ">", ">=", "==", "!="
                ]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            inner.clone().prop_map(|a| format!("-{a}")),
            (
                prop::sample::select(vec!["abs", "sqrt", "exp", "ln", "log10", "sin", "cos"]),
                inner.clone()
            )
                .prop_map(|(f, a)| format!("{f}({a})")),
            (
                prop::sample::select(vec!["min", "max", "atan2"]),
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(f, a, b)| format!("{f}({a}, {b})")),
            (inner.clone(), inner.clone(), inner)
                .prop_map(|(c, a, b)| format!("if({c}, {a}, {b})")),
        ]
    })
}

fn finite_or_edge() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
        Just(0.0),
        Just(-0.0),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
    ]
}

proptest! {
    #[test]
    fn evaluation_never_panics_and_never_yields_a_non_finite_value(
        expr in expression(),
        a in finite_or_edge(),
        b in finite_or_edge(),
        c in finite_or_edge(),
    ) {
        let derived = compile(json!({"out": expr})).expect("generated expressions compile");
        let mut last = LastValues::default();
        let mut scratch = DeriveScratch::default();
        derived.derive(&params(json!({"c": c})), &mut last, &mut scratch).expect("derive");
        let input = params(json!({"a": a, "b": b}));
        if let Some(out) = derived.derive(&input, &mut last, &mut scratch).expect("derive") {
            let value = out.get("out").and_then(ParameterValue::as_number).expect("a number");
            prop_assert!(value.is_finite(), "{expr} gave {value}");
        }
    }

    #[test]
    fn fused_programs_give_the_results_of_unfused_ones(
        expr in expression(),
        a in finite_or_edge(),
        b in finite_or_edge(),
        c in finite_or_edge(),
    ) {
        let tree = super::parse::parse(&expr).expect("generated expressions parse");
        let mut slot = |name: &str, _last: bool| match name {
            "a" => 0,
            "b" => 1,
            "c" => 2,
            _ => 3,
        };
        let fused = Program::compile(&tree, &mut slot);
        let unfused = Program::compile_unfused(&tree, &mut slot);
        let slots = [a, b, c, f64::NAN];
        let mut stack = Vec::new();
        let (x, y) = (fused.eval(&slots, &mut stack), unfused.eval(&slots, &mut stack));
        prop_assert!(x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()), "{expr}: {x} vs {y}");
    }

    #[test]
    fn arbitrary_text_never_panics_the_compiler(text in ".{0,80}") {
        let _ = compile(json!({"out": text}));
    }
}

#[test]
fn a_program_deeper_than_the_stack_array_evaluates_the_same() {
    // Right-nested: the stack grows by one per level (21 values at once).
    let expr = format!("{}x{}", "1 + (".repeat(20), ")".repeat(20));
    let derived = compile(json!({ "out": expr })).unwrap();
    let (_, program) = derived.programs().next().unwrap();
    assert!(program.depth() > 16, "{}", program.depth());
    assert_eq!(eval(&expr, json!({"x": 1})), Some(21.0));
    assert_eq!(eval(&expr, json!({})), None);
}
