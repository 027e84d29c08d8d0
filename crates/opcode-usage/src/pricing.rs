//! What a model costs, per million tokens, by kind: the public list prices of Anthropic's models (as
//! Opcode's desktop app prices them, extended to the newer models). A model not in the table is
//! *unpriced*: its messages cost 0 here and the report names it, rather than guessing.

/// Prices in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    /// Input tokens.
    pub input: f64,
    /// Output tokens.
    pub output: f64,
    /// Tokens written to the prompt cache (5-minute cache).
    pub cache_write: f64,
    /// Tokens read from the prompt cache.
    pub cache_read: f64,
}

const fn price(input: f64, output: f64, cache_write: f64, cache_read: f64) -> Price {
    Price { input, output, cache_write, cache_read }
}

/// Model name fragments, most specific first, and their prices.
const TABLE: &[(&[&str], Price)] = &[
    (&["opus-4-5", "opus-4-6", "opus-4.5", "opus-4.6"], price(5.0, 25.0, 6.25, 0.50)),
    (&["opus-4-1", "opus-4-0", "opus-4-2", "opus-4.1", "claude-opus-4", "3-opus"], price(15.0, 75.0, 18.75, 1.50)),
    (&["sonnet-4", "3-7-sonnet", "3-5-sonnet", "sonnet-3"], price(3.0, 15.0, 3.75, 0.30)),
    (&["haiku-4"], price(1.0, 5.0, 1.25, 0.10)),
    (&["3-5-haiku"], price(0.80, 4.0, 1.0, 0.08)),
    (&["3-haiku"], price(0.25, 1.25, 0.30, 0.03)),
];

/// The price of `model`, if the table knows it.
pub fn price_of(model: &str) -> Option<Price> {
    TABLE.iter().find(|(names, _)| names.iter().any(|n| model.contains(n))).map(|(_, p)| *p)
}

/// The cost in USD of these tokens on `model`; `None` when the model is unpriced.
pub fn cost(model: &str, input: u64, output: u64, cache_write: u64, cache_read: u64) -> Option<f64> {
    let p = price_of(model)?;
    Some(
        (input as f64 * p.input
            + output as f64 * p.output
            + cache_write as f64 * p.cache_write
            + cache_read as f64 * p.cache_read)
            / 1_000_000.0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_are_priced_by_family_and_unknown_ones_are_not_guessed() {
        let sonnet = cost("claude-sonnet-4-5-20250929", 1_000_000, 1_000_000, 1_000_000, 1_000_000).unwrap();
        assert!((sonnet - (3.0 + 15.0 + 3.75 + 0.30)).abs() < 1e-9);
        assert_eq!(price_of("claude-opus-4-1-20250805").unwrap().output, 75.0);
        assert_eq!(price_of("claude-opus-4-20250514").unwrap().output, 75.0);
        assert_eq!(price_of("claude-opus-4-5-20251101").unwrap().output, 25.0);
        assert_eq!(price_of("claude-haiku-4-5-20251001").unwrap().input, 1.0);
        assert_eq!(price_of("claude-3-5-haiku-20241022").unwrap().input, 0.8);
        assert_eq!(cost("<synthetic>", 1, 1, 1, 1), None);
        assert_eq!(cost("claude-opus-5-5", 1, 1, 1, 1), None);
    }
}
