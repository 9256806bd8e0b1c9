//! A derived parameter's expression compiled to a flat stack program over numbered input slots:
//! evaluating it parses nothing and looks up no name.
//!
//! "Absent" is carried as NaN inside the program: a missing input is NaN, and every operation
//! whose result is not finite (a division by zero, `ln(0)`, an overflow) yields NaN, which
//! propagates. Comparisons, `min`, `max` and `if` propagate it too (IEEE comparisons and
//! `f64::min` would swallow it). The caller turns a NaN result into an absent value, so NaN
//! never leaves the evaluator.

use super::parse::{BinOp, Expr, Func};

/// One instruction (flat: one dispatch per instruction).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Op {
    Const(f64),
    Load(u32),
    Neg,
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
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
    /// `x^2` as `x * x` (powf costs far more).
    Square,
    /// A binary operation on two slots, fused (`Load a, Load b, op`).
    SlotSlot(Bin, u32, u32),
    /// A binary operation on a slot and a constant, fused (`Load a, Const c, op`).
    SlotConst(Bin, u32, f64),
    /// A binary operation on the stack top and a slot, fused (`Load b, op`).
    TopSlot(Bin, u32),
    /// A binary operation on the stack top and a constant, fused (`Const c, op`).
    TopConst(Bin, f64),
}

/// The binary operations fused instructions carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Bin {
    Add,
    Sub,
    Mul,
    Div,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Bin {
    fn of(op: Op) -> Option<Bin> {
        Some(match op {
            Op::Add => Bin::Add,
            Op::Sub => Bin::Sub,
            Op::Mul => Bin::Mul,
            Op::Div => Bin::Div,
            Op::Lt => Bin::Lt,
            Op::Le => Bin::Le,
            Op::Gt => Bin::Gt,
            Op::Ge => Bin::Ge,
            _ => return None,
        })
    }

    #[inline(always)]
    fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            Bin::Add => finite(a + b),
            Bin::Sub => finite(a - b),
            Bin::Mul => finite(a * b),
            Bin::Div => {
                if b == 0.0 {
                    f64::NAN
                } else {
                    finite(a / b)
                }
            }
            Bin::Lt => compare(a, b, a < b),
            Bin::Le => compare(a, b, a <= b),
            Bin::Gt => compare(a, b, a > b),
            Bin::Ge => compare(a, b, a >= b),
        }
    }
}

/// Fuses the commonest instruction sequences into one instruction each (fewer dispatches and
/// stack moves); the result is the same.
fn fuse(ops: Vec<Op>) -> Vec<Op> {
    let mut out: Vec<Op> = Vec::with_capacity(ops.len());
    for op in ops {
        if op == Op::Pow {
            if let Some(Op::Const(c)) = out.last() {
                if *c == 2.0 {
                    out.pop();
                    out.push(Op::Square);
                    continue;
                }
            }
        }
        if let Some(bin) = Bin::of(op) {
            let n = out.len();
            let fused = match (n.checked_sub(2).map(|i| out[i]), out.last().copied()) {
                (Some(Op::Load(a)), Some(Op::Load(b))) => Some((2, Op::SlotSlot(bin, a, b))),
                (Some(Op::Load(a)), Some(Op::Const(c))) => Some((2, Op::SlotConst(bin, a, c))),
                (_, Some(Op::Load(b))) => Some((1, Op::TopSlot(bin, b))),
                (_, Some(Op::Const(c))) => Some((1, Op::TopConst(bin, c))),
                _ => None,
            };
            if let Some((operands, fused)) = fused {
                out.truncate(n - operands);
                out.push(fused);
                continue;
            }
        }
        out.push(op);
    }
    out
}

impl Op {
    fn binary(op: BinOp) -> Op {
        match op {
            BinOp::Add => Op::Add,
            BinOp::Sub => Op::Sub,
            BinOp::Mul => Op::Mul,
            BinOp::Div => Op::Div,
            BinOp::Pow => Op::Pow,
            BinOp::Lt => Op::Lt,
            BinOp::Le => Op::Le,
            BinOp::Gt => Op::Gt,
            BinOp::Ge => Op::Ge,
            BinOp::Eq => Op::Eq,
            BinOp::Ne => Op::Ne,
        }
    }
}

/// A compiled expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    ops: Vec<Op>,
    /// The most values on the stack at once.
    depth: usize,
}

/// Programs needing at most this many stack values (nearly all) run on a stack array, with no
/// heap access; deeper ones on the caller's vector.
const INLINE_STACK: usize = 16;

/// NaN stands for "absent": an infinite intermediate becomes absent too, so that `1/(1/0)` is
/// absent rather than 0.
#[inline(always)]
fn finite(x: f64) -> f64 {
    if x.is_finite() { x } else { f64::NAN }
}

/// A comparison's result, absent when either side is.
#[inline(always)]
fn compare(a: f64, b: f64, holds: bool) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if holds {
        1.0
    } else {
        0.0
    }
}

/// The evaluation stack. Programs are well-formed by construction (every operation finds its
/// operands); should one not be, a missing operand reads as absent rather than panicking.
trait Stack {
    fn push(&mut self, value: f64);
    fn pop(&mut self) -> f64;
}

impl Stack for Vec<f64> {
    #[inline(always)]
    fn push(&mut self, value: f64) {
        Vec::push(self, value);
    }

    #[inline(always)]
    fn pop(&mut self) -> f64 {
        Vec::pop(self).unwrap_or(f64::NAN)
    }
}

struct ArrayStack {
    values: [f64; INLINE_STACK],
    len: usize,
}

impl Stack for ArrayStack {
    #[inline(always)]
    fn push(&mut self, value: f64) {
        if let Some(slot) = self.values.get_mut(self.len) {
            *slot = value;
        }
        self.len = self.len.wrapping_add(1);
    }

    #[inline(always)]
    fn pop(&mut self) -> f64 {
        self.len = self.len.wrapping_sub(1);
        self.values.get(self.len).copied().unwrap_or(f64::NAN)
    }
}

#[inline(always)]
fn load(slots: &[f64], i: u32) -> f64 {
    slots.get(i as usize).copied().unwrap_or(f64::NAN)
}

#[inline(always)]
fn run(ops: &[Op], slots: &[f64], stack: &mut impl Stack) -> f64 {
    for op in ops {
        let value = match *op {
            Op::Const(c) => c,
            Op::Load(i) => load(slots, i),
            Op::Neg => -stack.pop(),
            Op::Abs => stack.pop().abs(),
            Op::Sqrt => finite(stack.pop().sqrt()),
            Op::Exp => finite(stack.pop().exp()),
            Op::Ln => finite(stack.pop().ln()),
            Op::Log10 => finite(stack.pop().log10()),
            Op::Sin => finite(stack.pop().sin()),
            Op::Cos => finite(stack.pop().cos()),
            Op::If => {
                let otherwise = stack.pop();
                let then = stack.pop();
                let condition = stack.pop();
                // Only the branch taken matters: a missing input or a division by zero in the
                // other one does not make the result absent.
                if condition.is_nan() {
                    f64::NAN
                } else if condition != 0.0 {
                    then
                } else {
                    otherwise
                }
            }
            Op::Square => {
                let x = stack.pop();
                finite(x * x)
            }
            Op::SlotSlot(bin, a, b) => bin.apply(load(slots, a), load(slots, b)),
            Op::SlotConst(bin, a, c) => bin.apply(load(slots, a), c),
            Op::TopSlot(bin, b) => {
                let a = stack.pop();
                bin.apply(a, load(slots, b))
            }
            Op::TopConst(bin, c) => {
                let a = stack.pop();
                bin.apply(a, c)
            }
            binary => {
                let b = stack.pop();
                let a = stack.pop();
                // NaN propagates through + - * / and atan2 by itself; not through powf
                // (`1^NaN` is 1), comparisons, min or max.
                match binary {
                    Op::Add => finite(a + b),
                    Op::Sub => finite(a - b),
                    Op::Mul => finite(a * b),
                    Op::Div => {
                        if b == 0.0 {
                            f64::NAN
                        } else {
                            finite(a / b)
                        }
                    }
                    Op::Pow => {
                        if a.is_nan() || b.is_nan() {
                            f64::NAN
                        } else {
                            finite(a.powf(b))
                        }
                    }
                    Op::Lt => compare(a, b, a < b),
                    Op::Le => compare(a, b, a <= b),
                    Op::Gt => compare(a, b, a > b),
                    Op::Ge => compare(a, b, a >= b),
                    Op::Eq => compare(a, b, a == b),
                    Op::Ne => compare(a, b, a != b),
                    Op::Min | Op::Max if a.is_nan() || b.is_nan() => f64::NAN,
                    Op::Min => a.min(b),
                    Op::Max => a.max(b),
                    _ => a.atan2(b),
                }
            }
        };
        stack.push(value);
    }
    finite(stack.pop())
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
        // Fusing only ever lowers the stack height, so `depth` stays an upper bound.
        program.ops = fuse(std::mem::take(&mut program.ops));
        program
    }

    /// [`Program::compile`] without fusing, to check that fusing changes no result.
    #[cfg(test)]
    pub(super) fn compile_unfused(
        expr: &Expr,
        slot: &mut impl FnMut(&str, bool) -> u32,
    ) -> Program {
        let mut program = Program {
            ops: Vec::new(),
            depth: 0,
        };
        program.emit(expr, slot, &mut 0);
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
                self.push(Op::binary(*op), 2, height);
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
    /// for the rare program too deep for the stack array (its capacity is kept between
    /// calls). The result is finite, or NaN for absent.
    #[inline]
    pub fn eval(&self, slots: &[f64], stack: &mut Vec<f64>) -> f64 {
        if self.depth <= INLINE_STACK {
            let mut inline = ArrayStack {
                values: [0.0; INLINE_STACK],
                len: 0,
            };
            run(&self.ops, slots, &mut inline)
        } else {
            stack.clear();
            run(&self.ops, slots, stack)
        }
    }
}
