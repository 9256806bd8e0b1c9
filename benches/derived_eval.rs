//! Derived parameters (SPEC §8 row "derived parameters", ≥ 50 M evaluations/s on one core).
//!
//! - `derived_eval/program`: one compiled expression (`bus_v * bus_i`, the typical power
//!   computation) evaluated over 100 k input rows already in slots; `bare_loop` computes the
//!   same product in plain Rust over the same rows, the ceiling on this machine in this run.
//! - `derived_eval/program_complex`: `if(temp > 40, 60 - temp, abs(temp - 20)) + min(bus_v, 30) ^ 2`
//!   over the same rows.
//! - `derived_eval/snapshot`: the whole ingest step per snapshot (bind the layout, read the
//!   inputs, evaluate three derived parameters, append them to a new parameter map), for
//!   100 k snapshots of 10 parameters sharing one layout.
//!
//! `cargo bench --bench derived_eval`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use missionops::{
    CompiledRules, DeriveScratch, LastValues, LayoutInterner, ParameterName, ParameterValue,
    Parameters,
};
use serde_json::json;

const ROWS: usize = 100_000;

/// A small deterministic generator, so that every run measures the same data.
struct XorShift(u64);

impl XorShift {
    fn next_unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn compiled(derived: serde_json::Value) -> CompiledRules {
    CompiledRules::compile(json!({ "derived": derived }).as_object().expect("object"))
        .expect("valid expressions")
}

/// Rows of (bus_v, bus_i, temp) in the order of `inputs`.
fn rows(rules: &CompiledRules) -> Vec<Vec<f64>> {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    (0..ROWS)
        .map(|_| {
            let (v, i, t) = (
                26.0 + 6.0 * rng.next_unit(),
                0.5 + 5.0 * rng.next_unit(),
                10.0 + 40.0 * rng.next_unit(),
            );
            rules
                .derived()
                .inputs()
                .iter()
                .map(|name| match name.as_str() {
                    "bus_v" => v,
                    "bus_i" => i,
                    _ => t,
                })
                .collect()
        })
        .collect()
}

fn programs(c: &mut Criterion) {
    let mut group = c.benchmark_group("derived_eval");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.sample_size(30);
    let power = compiled(json!({"power": "bus_v * bus_i"}));
    let data = rows(&power);
    let (v_at, i_at) = {
        let inputs = power.derived().inputs();
        let at = |n: &str| inputs.iter().position(|p| p.as_str() == n).expect("input");
        (at("bus_v"), at("bus_i"))
    };
    group.bench_function("bare_loop", |b| {
        b.iter(|| {
            let mut sum = 0.0;
            for row in &data {
                let p = black_box(row)[v_at] * row[i_at];
                if p.is_finite() {
                    sum += p;
                }
            }
            black_box(sum)
        });
    });
    let (_, program) = power.derived().programs().next().expect("one program");
    group.bench_function("program", |b| {
        let mut stack = Vec::with_capacity(program.depth());
        b.iter(|| {
            let mut sum = 0.0;
            for row in &data {
                let p = program.eval(black_box(row), &mut stack);
                if p.is_finite() {
                    sum += p;
                }
            }
            black_box(sum)
        });
    });
    let complex =
        compiled(json!({"x": "if(temp > 40, 60 - temp, abs(temp - 20)) + min(bus_v, 30) ^ 2"}));
    let data = rows(&complex);
    let (_, program) = complex.derived().programs().next().expect("one program");
    group.bench_function("program_complex", |b| {
        let mut stack = Vec::with_capacity(program.depth());
        b.iter(|| {
            let mut sum = 0.0;
            for row in &data {
                let p = program.eval(black_box(row), &mut stack);
                if p.is_finite() {
                    sum += p;
                }
            }
            black_box(sum)
        });
    });
    group.finish();
}

fn snapshots(c: &mut Criterion) {
    let rules = compiled(json!({
        "power": "bus_v * bus_i",
        "thermal_margin": "60 - temp",
        "load": "power / 200",
    }));
    let names: Vec<ParameterName> = [
        "bus_v", "bus_i", "temp", "p3", "p4", "p5", "p6", "p7", "p8", "p9",
    ]
    .iter()
    .map(|n| ParameterName::parse(*n).expect("name"))
    .collect();
    let mut interner = LayoutInterner::new();
    let mut rng = XorShift(7);
    let inputs: Vec<Parameters> = (0..ROWS)
        .map(|_| {
            let pairs = names
                .iter()
                .map(|n| (n.clone(), ParameterValue::Number(30.0 * rng.next_unit())));
            interner.share(Parameters::new(pairs).expect("parameters"))
        })
        .collect();
    let mut group = c.benchmark_group("derived_eval");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.sample_size(20);
    group.bench_function("snapshot", |b| {
        let mut last = LastValues::default();
        let mut scratch = DeriveScratch::default();
        b.iter(|| {
            let mut produced = 0;
            for parameters in &inputs {
                if let Ok(Some(out)) = rules.derived().derive(parameters, &mut last, &mut scratch) {
                    produced += out.len();
                }
            }
            black_box(produced)
        });
    });
    group.finish();
}

criterion_group!(benches, programs, snapshots);
criterion_main!(benches);
