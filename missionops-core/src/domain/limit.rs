//! Page sizes and offsets of listings.

use crate::error::{Error, Result};

/// How many items a listing returns: between 1 and a route's maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Limit(u32);

impl Limit {
    /// A limit of `value`, rejected (naming `limit`) outside `1..=max`.
    pub fn new(value: i64, max: u32) -> Result<Self> {
        if value < 1 || value > i64::from(max) {
            return Err(Error::invalid(
                "limit",
                format!("must be an integer from 1 to {max} (got {value})"),
            ));
        }
        Ok(Limit(u32::try_from(value).unwrap_or(max)))
    }

    /// Parses a query-string value such as `"20"`; `None` gives `default`. Fractions, words and
    /// out-of-range numbers are rejected naming `limit`.
    pub fn parse(raw: Option<&str>, default: u32, max: u32) -> Result<Self> {
        match raw {
            None => Limit::new(i64::from(default), max),
            Some(text) => {
                let value: i64 = text.trim().parse().map_err(|_| {
                    Error::invalid(
                        "limit",
                        format!(
                            "must be an integer from 1 to {max} (got {})",
                            crate::error::quote(text)
                        ),
                    )
                })?;
                Limit::new(value, max)
            }
        }
    }

    /// A limit of `value` clamped into `1..=max` (the compat behaviour of `GET /spacecraft`).
    pub fn clamped(value: i64, max: u32) -> Self {
        Limit(u32::try_from(value.clamp(1, i64::from(max))).unwrap_or(max))
    }

    /// The number of items.
    pub fn get(self) -> usize {
        self.0 as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_one_to_max_and_rejects_the_rest_naming_limit() {
        assert_eq!(Limit::new(1, 100).unwrap().get(), 1);
        assert_eq!(Limit::new(100, 100).unwrap().get(), 100);
        for bad in [0, 101, -1] {
            let err = Limit::new(bad, 100).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("limit: must be an integer from 1 to 100")
            );
        }
    }

    #[test]
    fn parses_query_text() {
        assert_eq!(Limit::parse(None, 20, 100).unwrap().get(), 20);
        assert_eq!(Limit::parse(Some("5"), 20, 100).unwrap().get(), 5);
        for bad in ["abc", "2.5", "", "101", "0"] {
            assert!(Limit::parse(Some(bad), 20, 100).is_err(), "{bad}");
        }
    }

    #[test]
    fn clamps_for_compat_listings() {
        assert_eq!(Limit::clamped(0, 100).get(), 1);
        assert_eq!(Limit::clamped(1000, 100).get(), 100);
    }
}
