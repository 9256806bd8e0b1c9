//! The expression language of derived parameters: a hand-written lexer and recursive-descent
//! parser from the text of one expression to its syntax tree.
//!
//! Precedence, lowest first: comparisons (`< <= > >= == !=`, left to right), `+ -`, `* /`,
//! unary minus, `^` (right-associative, so `2^3^2` is `2^9`, and `-2^2` is `-4`). Positions in
//! errors are 1-based character columns.

use std::fmt;

/// The deepest nesting of parentheses, calls and unary operators accepted: deep enough for any
/// hand-written expression, shallow enough that parsing never runs out of stack.
pub(super) const MAX_NESTING: usize = 64;

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BinOp {
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
}

/// A built-in function (other than `last`, which takes a name, not a value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Func {
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
    If,
}

/// How many arguments a function takes: exactly `n`, or at least `n`.
#[derive(Debug, Clone, Copy)]
enum Arity {
    Exactly(usize),
    AtLeast(usize),
}

impl Func {
    fn lookup(name: &str) -> Option<(Func, Arity)> {
        Some(match name {
            "abs" => (Func::Abs, Arity::Exactly(1)),
            "min" => (Func::Min, Arity::AtLeast(2)),
            "max" => (Func::Max, Arity::AtLeast(2)),
            "sqrt" => (Func::Sqrt, Arity::Exactly(1)),
            "exp" => (Func::Exp, Arity::Exactly(1)),
            "ln" => (Func::Ln, Arity::Exactly(1)),
            "log10" => (Func::Log10, Arity::Exactly(1)),
            "sin" => (Func::Sin, Arity::Exactly(1)),
            "cos" => (Func::Cos, Arity::Exactly(1)),
            "atan2" => (Func::Atan2, Arity::Exactly(2)),
            "if" => (Func::If, Arity::Exactly(3)),
            _ => return None,
        })
    }
}

/// The syntax tree of an expression.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Expr {
    /// A number literal (finite).
    Number(f64),
    /// The value of a parameter in the same snapshot.
    Param(String),
    /// `last("p")`: the latest known value of a parameter.
    Last(String),
    /// `-e`.
    Neg(Box<Expr>),
    /// `a op b`.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `f(args…)`, arity checked.
    Call(Func, Vec<Expr>),
}

/// Why an expression does not parse, and where (1-based character column; the end of the
/// text for an expression cut short).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ParseError {
    pub(super) position: usize,
    pub(super) message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at position {}", self.message, self.position)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Number(f64),
    Ident(String),
    /// A quoted name (`"bus-v"` or `'bus-v'`).
    Quoted(String),
    Open,
    Close,
    Comma,
    Op(&'static str),
    End,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Number(n) => write!(f, "number {n}"),
            Token::Ident(s) => write!(f, "name `{s}`"),
            Token::Quoted(s) => write!(f, "name {s:?}"),
            Token::Open => f.write_str("`(`"),
            Token::Close => f.write_str("`)`"),
            Token::Comma => f.write_str("`,`"),
            Token::Op(op) => write!(f, "`{op}`"),
            Token::End => f.write_str("the end of the expression"),
        }
    }
}

/// Splits `text` into tokens with their 1-based character positions.
fn lex(text: &str) -> Result<Vec<(Token, usize)>, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let error = |position: usize, message: String| ParseError { position, message };
    while i < chars.len() {
        let c = chars[i];
        let start = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let begin = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let mut j = i + 1;
                if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_ascii_digit() {
                    i = j;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let literal: String = chars[begin..i].iter().collect();
            let value: f64 = literal
                .parse()
                .map_err(|_| error(start, format!("`{literal}` is not a number")))?;
            if !value.is_finite() {
                return Err(error(start, format!("`{literal}` is out of range")));
            }
            tokens.push((Token::Number(value), start));
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let begin = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.')
            {
                i += 1;
            }
            tokens.push((Token::Ident(chars[begin..i].iter().collect()), start));
            continue;
        }
        if c == '"' || c == '\'' {
            let mut name = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(error(start, format!("unterminated name {c}…{c}"))),
                    Some('\\') => {
                        match chars.get(i + 1) {
                            Some(&next) => name.push(next),
                            None => {
                                return Err(error(start, format!("unterminated name {c}…{c}")));
                            }
                        }
                        i += 2;
                    }
                    Some(&q) if q == c => {
                        i += 1;
                        break;
                    }
                    Some(&other) => {
                        name.push(other);
                        i += 1;
                    }
                }
            }
            tokens.push((Token::Quoted(name), start));
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let op = match two.as_str() {
            "<=" => Some("<="),
            ">=" => Some(">="),
            "==" => Some("=="),
            "!=" => Some("!="),
            _ => None,
        };
        if let Some(op) = op {
            tokens.push((Token::Op(op), start));
            i += 2;
            continue;
        }
        let token = match c {
            '(' => Token::Open,
            ')' => Token::Close,
            ',' => Token::Comma,
            '+' => Token::Op("+"),
            '-' => Token::Op("-"),
            '*' => Token::Op("*"),
            '/' => Token::Op("/"),
            '^' => Token::Op("^"),
            '<' => Token::Op("<"),
            '>' => Token::Op(">"),
            '=' => return Err(error(start, "unexpected `=` (equality is `==`)".to_owned())),
            other => return Err(error(start, format!("unexpected character {other:?}"))),
        };
        tokens.push((token, start));
        i += 1;
    }
    tokens.push((Token::End, chars.len() + 1));
    Ok(tokens)
}

/// Parses one expression.
pub(super) fn parse(text: &str) -> Result<Expr, ParseError> {
    let tokens = lex(text)?;
    if tokens.len() == 1 {
        return Err(ParseError {
            position: 1,
            message: "is empty".to_owned(),
        });
    }
    let mut parser = Parser {
        tokens,
        at: 0,
        depth: 0,
    };
    let expr = parser.comparison()?;
    match parser.peek() {
        Token::End => Ok(expr),
        other => Err(parser.unexpected(&other.clone())),
    }
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        // The lexer always ends with `End`, and `next` never moves past it.
        self.tokens.get(self.at).map_or(&Token::End, |(t, _)| t)
    }

    fn position(&self) -> usize {
        self.tokens
            .get(self.at)
            .or(self.tokens.last())
            .map_or(1, |(_, p)| *p)
    }

    fn next(&mut self) -> Token {
        let token = self.peek().clone();
        if self.at + 1 < self.tokens.len() {
            self.at += 1;
        }
        token
    }

    fn unexpected(&self, token: &Token) -> ParseError {
        ParseError {
            position: self.position(),
            message: format!("unexpected {token}"),
        }
    }

    fn expect(&mut self, wanted: &Token, what: &str) -> Result<(), ParseError> {
        if self.peek() == wanted {
            self.next();
            Ok(())
        } else {
            Err(ParseError {
                position: self.position(),
                message: format!("expected {what}, found {}", self.peek()),
            })
        }
    }

    /// Enters one level of nesting, refusing to go deeper than [`MAX_NESTING`].
    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(ParseError {
                position: self.position(),
                message: format!("is nested more than {MAX_NESTING} levels deep"),
            });
        }
        Ok(())
    }

    fn comparison(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.additive()?;
        loop {
            let op = match self.peek() {
                Token::Op("<") => BinOp::Lt,
                Token::Op("<=") => BinOp::Le,
                Token::Op(">") => BinOp::Gt,
                Token::Op(">=") => BinOp::Ge,
                Token::Op("==") => BinOp::Eq,
                Token::Op("!=") => BinOp::Ne,
                _ => return Ok(left),
            };
            self.next();
            let right = self.additive()?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
    }

    fn additive(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.term()?;
        loop {
            let op = match self.peek() {
                Token::Op("+") => BinOp::Add,
                Token::Op("-") => BinOp::Sub,
                _ => return Ok(left),
            };
            self.next();
            let right = self.term()?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
    }

    fn term(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek() {
                Token::Op("*") => BinOp::Mul,
                Token::Op("/") => BinOp::Div,
                _ => return Ok(left),
            };
            self.next();
            let right = self.unary()?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let expr = match self.peek() {
            Token::Op("-") => {
                self.next();
                Expr::Neg(Box::new(self.unary()?))
            }
            Token::Op("+") => {
                self.next();
                self.unary()?
            }
            _ => self.power()?,
        };
        self.depth -= 1;
        Ok(expr)
    }

    fn power(&mut self) -> Result<Expr, ParseError> {
        let base = self.primary()?;
        if self.peek() == &Token::Op("^") {
            self.next();
            // The exponent is a unary: right-associative, and `2^-1` reads as expected.
            let exponent = self.unary()?;
            return Ok(Expr::Binary(BinOp::Pow, Box::new(base), Box::new(exponent)));
        }
        Ok(base)
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let position = self.position();
        match self.next() {
            Token::Number(n) => Ok(Expr::Number(n)),
            Token::Quoted(name) => Ok(Expr::Param(name)),
            Token::Open => {
                self.enter()?;
                let inner = self.comparison()?;
                self.expect(&Token::Close, "`)`")?;
                self.depth -= 1;
                Ok(inner)
            }
            Token::Ident(name) => {
                if self.peek() != &Token::Open {
                    return Ok(Expr::Param(name));
                }
                self.call(&name, position)
            }
            other => {
                self.at = self.at.saturating_sub(1);
                let mut error = self.unexpected(&other);
                error.position = position;
                Err(error)
            }
        }
    }

    /// A call of `name`, its `(` next.
    fn call(&mut self, name: &str, position: usize) -> Result<Expr, ParseError> {
        if name == "last" {
            self.next();
            let argument_at = self.position();
            let parameter = match self.next() {
                Token::Ident(p) | Token::Quoted(p) => p,
                other => {
                    return Err(ParseError {
                        position: argument_at,
                        message: format!("last() takes a parameter name, found {other}"),
                    });
                }
            };
            self.expect(&Token::Close, "`)` after the one argument of last()")?;
            return Ok(Expr::Last(parameter));
        }
        let Some((func, arity)) = Func::lookup(name) else {
            return Err(ParseError {
                position,
                message: format!(
                    "unknown function `{name}` (known: abs, min, max, sqrt, exp, ln, log10, sin, \
                     cos, atan2, if, last)"
                ),
            });
        };
        self.enter()?;
        self.next();
        let mut args = Vec::new();
        if self.peek() != &Token::Close {
            loop {
                args.push(self.comparison()?);
                if self.peek() == &Token::Comma {
                    self.next();
                    continue;
                }
                break;
            }
        }
        self.expect(&Token::Close, "`,` or `)`")?;
        self.depth -= 1;
        let fits = match arity {
            Arity::Exactly(n) => args.len() == n,
            Arity::AtLeast(n) => args.len() >= n,
        };
        if !fits {
            let wanted = match arity {
                Arity::Exactly(1) => "1 argument".to_owned(),
                Arity::Exactly(n) => format!("{n} arguments"),
                Arity::AtLeast(n) => format!("at least {n} arguments"),
            };
            return Err(ParseError {
                position,
                message: format!("`{name}` takes {wanted}, got {}", args.len()),
            });
        }
        Ok(Expr::Call(func, args))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(n: f64) -> Box<Expr> {
        Box::new(Expr::Number(n))
    }

    #[test]
    fn power_is_right_associative_and_binds_tighter_than_unary_minus() {
        assert_eq!(
            parse("2^3^2").unwrap(),
            Expr::Binary(
                BinOp::Pow,
                num(2.0),
                Box::new(Expr::Binary(BinOp::Pow, num(3.0), num(2.0)))
            )
        );
        assert_eq!(
            parse("-2^2").unwrap(),
            Expr::Neg(Box::new(Expr::Binary(BinOp::Pow, num(2.0), num(2.0))))
        );
    }

    #[test]
    fn names_are_identifiers_or_quoted() {
        assert_eq!(parse("bus.v_1").unwrap(), Expr::Param("bus.v_1".into()));
        assert_eq!(parse("\"bus-v\"").unwrap(), Expr::Param("bus-v".into()));
        assert_eq!(parse("'a \\' b'").unwrap(), Expr::Param("a ' b".into()));
        assert_eq!(parse("last('x y')").unwrap(), Expr::Last("x y".into()));
        assert_eq!(parse("last(x)").unwrap(), Expr::Last("x".into()));
        // A function name not followed by `(` is a parameter.
        assert_eq!(parse("min").unwrap(), Expr::Param("min".into()));
    }

    #[test]
    fn errors_name_what_and_where() {
        let cases = [
            ("", "is empty at position 1"),
            ("1 +", "unexpected the end of the expression at position 4"),
            (
                "(1 + 2",
                "expected `)`, found the end of the expression at position 7",
            ),
            ("foo(1)", "unknown function `foo`"),
            ("atan2(1)", "`atan2` takes 2 arguments, got 1 at position 1"),
            (
                "min(1)",
                "`min` takes at least 2 arguments, got 1 at position 1",
            ),
            ("if(1, 2)", "`if` takes 3 arguments, got 2 at position 1"),
            ("1 # 2", "unexpected character '#' at position 3"),
            ("a = b", "unexpected `=` (equality is `==`) at position 3"),
            ("1 2", "unexpected number 2 at position 3"),
            (
                "last(1)",
                "last() takes a parameter name, found number 1 at position 6",
            ),
            ("'open", "unterminated name '…' at position 1"),
            ("1e999", "`1e999` is out of range at position 1"),
            ("1..2", "`1..2` is not a number at position 1"),
        ];
        for (text, message) in cases {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.starts_with(message), "{text:?}: {err}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        let err = parse(&deep).unwrap_err();
        assert!(err.message.contains("nested more than 64"), "{err}");
        let minus = format!("{}1", "-".repeat(10_000));
        assert!(parse(&minus).is_err());
        let pow = format!("2{}", "^2".repeat(10_000));
        assert!(parse(&pow).is_err());
    }
}
