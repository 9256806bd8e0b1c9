//! A derived parameter's expression compiled to a flat stack program over numbered input slots:
//! evaluating it parses nothing and looks up no name.
//!
//! "Absent" is carried as NaN inside the program: a missing input is NaN, and every operation
//! whose result is not finite (a division by zero, `ln(0)`, an overflow) yields NaN, which
//! propagates. Comparisons, `min`, `max` and `if` propagate it too (IEEE comparisons and
//! `f64::min` would swallow it). The caller turns a NaN result into an absent value, so NaN
//! never leaves the evaluator.

use super::parse::{BinOp, Expr, Func};

/// One instruction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Op {
    Const(f64),
    Load(u32),
    Neg,
    Bin(BinOp),
    Abs,
    Min,
    Max,
    Sqrt,
    Exp,
    Ln,
    Log10,
    Sin,
    Cos,
    Atan2,
    /// Pops `else`, `then`, `condition`.
    If,
}

/// A compiled expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    ops: Vec<Op>,
    /// The most values on the stack at once.
    depth: usize,
}

/// NaN stands for "absent": an infinite intermediate becomes absent too, so that `1/(1/0)` is
/// absent rather than 0.
#[inline(always)]
fn finite(x: f64) -> f64 {
    if x.is_finite() { x } else { f64::NAN }
}

#[inline(always)]
fn truth(x: bool) -> f64 {
    if x { 1.0 } else { 0.0 }
}

#[inline(always)]
fn binary(op: BinOp, a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    match op {
        BinOp::Add => finite(a + b),
        BinOp::Sub => finite(a - b),
        BinOp::Mul => finite(a * b),
        BinOp::Div => {
            if b == 0.0 {
                f64::NAN
            } else {
                finite(a / b)
            }
        }
        BinOp::Pow => finite(a.powf(b)),
        BinOp::Lt => truth(a < b),
        BinOp::Le => truth(a <= b),
        BinOp::Gt => truth(a > b),
        BinOp::Ge => truth(a >= b),
        BinOp::Eq => truth(a == b),
        BinOp::Ne => truth(a != b),
    }
}

impl Program {
    /// Compiles `expr`; `slot` numbers each parameter reference (`true` for `last()`).
    pub(super) fn compile(expr: &Expr, slot: &mut impl FnMut(&str, bool) -> u32) -> Program {
        let mut program = Program {
            ops: Vec::new(),
            depth: 0,
        };
        let mut height = 0;
        program.emit(expr, slot, &mut height);
        program
    }

    fn push(&mut self, op: Op, pops: usize, height: &mut usize) {
        *height = *height + 1 - pops;
        self.depth = self.depth.max(*height);
        self.ops.push(op);
    }

    fn emit(&mut self, expr: &Expr, slot: &mut impl FnMut(&str, bool) -> u32, height: &mut usize) {
        match expr {
            Expr::Number(n) => self.push(Op::Const(*n), 0, height),
            Expr::Param(name) => self.push(Op::Load(slot(name, false)), 0, height),
            Expr::Last(name) => self.push(Op::Load(slot(name, true)), 0, height),
            Expr::Neg(inner) => {
                self.emit(inner, slot, height);
                self.push(Op::Neg, 1, height);
            }
            Expr::Binary(op, a, b) => {
                self.emit(a, slot, height);
                self.emit(b, slot, height);
                self.push(Op::Bin(*op), 2, height);
            }
            Expr::Call(func, args) => {
                let mut args = args.iter();
                if let Some(first) = args.next() {
                    self.emit(first, slot, height);
                }
                for arg in args {
                    self.emit(arg, slot, height);
                    // min and max of more than two arguments fold pairwise.
                    match func {
                        Func::Min => self.push(Op::Min, 2, height),
                        Func::Max => self.push(Op::Max, 2, height),
                        _ => {}
                    }
                }
                let op = match func {
                    Func::Min | Func::Max => return,
                    Func::Abs => (Op::Abs, 1),
                    Func::Sqrt => (Op::Sqrt, 1),
                    Func::Exp => (Op::Exp, 1),
                    Func::Ln => (Op::Ln, 1),
                    Func::Log10 => (Op::Log10, 1),
                    Func::Sin => (Op::Sin, 1),
                    Func::Cos => (Op::Cos, 1),
                    Func::Atan2 => (Op::Atan2, 2),
                    Func::If => (Op::If, 3),
                };
                self.push(op.0, op.1, height);
            }
        }
    }

    /// The most values the program holds on its stack at once.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Evaluates the program over `slots` (NaN for an absent input), using `stack` as scratch
    /// (its capacity is kept between calls). The result is finite, or NaN for absent.
    #[inline]
    pub fn eval(&self, slots: &[f64], stack: &mut Vec<f64>) -> f64 {
        stack.clear();
        for op in &self.ops {
            let value = match *op {
                Op::Const(c) => c,
                Op::Load(i) => slots.get(i as usize).copied().unwrap_or(f64::NAN),
                Op::Neg => -stack.pop().unwrap_or(f64::NAN),
                Op::Bin(op) => {
                    let b = stack.pop().unwrap_or(f64::NAN);
                    let a = stack.pop().unwrap_or(f64::NAN);
                    binary(op, a, b)
                }
                Op::Min | Op::Max | Op::Atan2 => {
                    let b = stack.pop().unwrap_or(f64::NAN);
                    let a = stack.pop().unwrap_or(f64::NAN);
                    if a.is_nan() || b.is_nan() {
                        f64::NAN
                    } else {
                        match *op {
                            Op::Min => a.min(b),
                            Op::Max => a.max(b),
                            _ => a.atan2(b),
                        }
                    }
                }
                Op::If => {
                    let otherwise = stack.pop().unwrap_or(f64::NAN);
                    let then = stack.pop().unwrap_or(f64::NAN);
                    let condition = stack.pop().unwrap_or(f64::NAN);
                    // Only the branch taken matters: a missing input or a division by zero in
                    // the other one does not make the result absent.
                    if condition.is_nan() {
                        f64::NAN
                    } else if condition != 0.0 {
                        then
                    } else {
                        otherwise
                    }
                }
                unary => {
                    let x = stack.pop().unwrap_or(f64::NAN);
                    finite(match unary {
                        Op::Abs => x.abs(),
                        Op::Sqrt => x.sqrt(),
                        Op::Exp => x.exp(),
                        Op::Ln => x.ln(),
                        Op::Log10 => x.log10(),
                        Op::Sin => x.sin(),
                        _ => x.cos(),
                    })
                }
            };
            stack.push(value);
        }
        let result = stack.pop().unwrap_or(f64::NAN);
        finite(result)
    }
}
