//! Token amounts as people write and read them: `12.5` or `12.5 FLOW` is 12.5 tokens of 18
//! decimals, `1000 wei` (or `1000wei`) is a raw amount; printed back with the decimals and the
//! symbol, trailing zeros dropped (`12.5 FLOW`), so that an operator never counts zeros.

use alloy::primitives::U256;

/// Decimals of every token of the suite (the work token and the default fee token).
pub const DECIMALS: u8 = 18;

/// Why a written amount was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("no amount given")]
    Empty,
    #[error("`{0}` is not an amount: write tokens (12.5, 12.5 {1}) or wei (1000 wei)")]
    Malformed(String, String),
    #[error("`{0}` has more than 18 decimals")]
    TooPrecise(String),
    #[error("`{0}` is too large")]
    TooLarge(String),
    #[error("`{0}` is in {1}, but this token is {2}")]
    WrongUnit(String, String, String),
}

/// Parses `text` as an amount of the token whose symbol is `symbol`.
pub fn parse_amount(text: &str, symbol: &str) -> Result<U256, AmountError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(AmountError::Empty);
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_' || c == ','))
        .unwrap_or(text.len());
    let (number, unit) = (text[..split].trim(), text[split..].trim());
    let number: String = number.chars().filter(|c| *c != '_' && *c != ',').collect();
    let malformed = || AmountError::Malformed(text.to_string(), symbol.to_string());
    if number.is_empty() || number.matches('.').count() > 1 || number == "." {
        return Err(malformed());
    }
    let decimals = match unit.to_ascii_lowercase().as_str() {
        "wei" => 0,
        "" => DECIMALS,
        u if u == symbol.to_ascii_lowercase() => DECIMALS,
        _ if unit.chars().all(|c| c.is_ascii_alphabetic()) => {
            return Err(AmountError::WrongUnit(
                text.to_string(),
                unit.to_string(),
                symbol.to_string(),
            ));
        }
        _ => return Err(malformed()),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((&number, ""));
    if fraction.len() > decimals as usize {
        return Err(AmountError::TooPrecise(text.to_string()));
    }
    let digits = format!("{whole}{fraction:0<width$}", width = decimals as usize);
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Ok(U256::ZERO);
    }
    U256::from_str_radix(digits, 10).map_err(|_| AmountError::TooLarge(text.to_string()))
}

/// `amount` (in wei) as tokens with the symbol: `12.5 FLOW`, `0 FLOW`, `0.000000000000000001 FLOW`.
pub fn format_amount(amount: U256, symbol: &str) -> String {
    format!("{} {symbol}", format_tokens(amount))
}

/// `amount` (in wei) as a decimal number of tokens, without the symbol.
pub fn format_tokens(amount: U256) -> String {
    let unit = U256::from(10u64).pow(U256::from(DECIMALS));
    let (whole, fraction) = (amount / unit, amount % unit);
    if fraction.is_zero() {
        return whole.to_string();
    }
    let fraction = format!("{fraction:0>width$}", width = DECIMALS as usize);
    format!("{whole}.{}", fraction.trim_end_matches('0'))
}

/// Parts per million written as a percentage (`10`, `10%`, `12.5%`) or in ppm (`125000ppm`).
pub fn parse_ppm(text: &str) -> Result<u32, AmountError> {
    let t = text.trim();
    let bad = || AmountError::Malformed(text.to_string(), "%".into());
    let ppm = if let Some(n) = t.strip_suffix("ppm") {
        n.trim().parse::<u64>().map_err(|_| bad())?
    } else {
        let n = t.strip_suffix('%').unwrap_or(t).trim();
        let (whole, fraction) = n.split_once('.').unwrap_or((n, ""));
        if fraction.len() > 4 || whole.is_empty() || !fraction.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let whole: u64 = whole.parse().map_err(|_| bad())?;
        let fraction: u64 = if fraction.is_empty() {
            0
        } else {
            format!("{fraction:0<4}").parse().map_err(|_| bad())?
        };
        whole
            .checked_mul(10_000)
            .and_then(|w| w.checked_add(fraction))
            .ok_or_else(bad)?
    };
    if ppm > 1_000_000 {
        return Err(AmountError::TooLarge(text.to_string()));
    }
    Ok(ppm as u32)
}

/// Parts per million as a percentage: `12.5%`.
pub fn format_ppm(ppm: u32) -> String {
    let whole = ppm / 10_000;
    let fraction = ppm % 10_000;
    if fraction == 0 {
        format!("{whole}%")
    } else {
        format!(
            "{whole}.{}%",
            format!("{fraction:04}").trim_end_matches('0')
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(n: u64) -> U256 {
        U256::from(n) * U256::from(10u64).pow(U256::from(18))
    }

    #[test]
    fn tokens_with_or_without_the_symbol() {
        assert_eq!(parse_amount("12", "FLOW"), Ok(eth(12)));
        assert_eq!(parse_amount("12 FLOW", "FLOW"), Ok(eth(12)));
        assert_eq!(parse_amount("12flow", "FLOW"), Ok(eth(12)));
        assert_eq!(parse_amount("0.5", "FLOW"), Ok(eth(1) / U256::from(2)));
        assert_eq!(
            parse_amount("1,000.25", "FLOW"),
            Ok(eth(100025) / U256::from(100))
        );
        assert_eq!(parse_amount(".5", "FLOW"), Ok(eth(1) / U256::from(2)));
        assert_eq!(parse_amount("0", "FLOW"), Ok(U256::ZERO));
        assert_eq!(
            parse_amount("0.000000000000000001", "FLOW"),
            Ok(U256::from(1))
        );
    }

    #[test]
    fn wei() {
        assert_eq!(parse_amount("1000 wei", "FLOW"), Ok(U256::from(1000)));
        assert_eq!(parse_amount("1000wei", "FLOW"), Ok(U256::from(1000)));
        assert!(matches!(
            parse_amount("1.5 wei", "FLOW"),
            Err(AmountError::TooPrecise(_))
        ));
    }

    #[test]
    fn refusals() {
        assert_eq!(parse_amount(" ", "FLOW"), Err(AmountError::Empty));
        assert!(matches!(
            parse_amount("abc", "FLOW"),
            Err(AmountError::Malformed(..))
        ));
        assert!(matches!(
            parse_amount("1.2.3", "FLOW"),
            Err(AmountError::Malformed(..))
        ));
        assert!(matches!(
            parse_amount("-1", "FLOW"),
            Err(AmountError::Malformed(..))
        ));
        assert!(matches!(
            parse_amount("5 ETH", "FLOW"),
            Err(AmountError::WrongUnit(..))
        ));
        assert!(matches!(
            parse_amount("0.0000000000000000001", "FLOW"),
            Err(AmountError::TooPrecise(_))
        ));
        assert!(matches!(
            parse_amount(&"9".repeat(80), "FLOW"),
            Err(AmountError::TooLarge(_))
        ));
    }

    #[test]
    fn formats_round_trip() {
        for text in ["0", "1", "12.5", "0.000000000000000001", "1234567.891"] {
            let wei = parse_amount(text, "FLOW").unwrap();
            assert_eq!(format_tokens(wei), text);
            assert_eq!(format_amount(wei, "FLOW"), format!("{text} FLOW"));
        }
    }

    #[test]
    fn percentages() {
        assert_eq!(parse_ppm("10"), Ok(100_000));
        assert_eq!(parse_ppm("10%"), Ok(100_000));
        assert_eq!(parse_ppm("12.5%"), Ok(125_000));
        assert_eq!(parse_ppm("0.0001%"), Ok(1));
        assert_eq!(parse_ppm("250000ppm"), Ok(250_000));
        assert_eq!(parse_ppm("100%"), Ok(1_000_000));
        assert!(parse_ppm("100.5%").is_err());
        assert!(parse_ppm("ten").is_err());
        assert!(parse_ppm("0.00001%").is_err());
        assert_eq!(format_ppm(125_000), "12.5%");
        assert_eq!(format_ppm(100_000), "10%");
        assert_eq!(format_ppm(1), "0.0001%");
    }
}
