//! The period a report covers: a preset (`7d`, `30d`, `90d`, `all`) or dates `from`/`to` (UTC days,
//! `YYYY-MM-DD`, both inclusive, either may be left open).

use time::{Date, Duration};

/// A period of UTC days, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First day counted (`None`: from the first message).
    pub from: Option<Date>,
    /// Last day counted (`None`: up to the last message).
    pub to: Option<Date>,
}

/// Why a period was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeriodError {
    /// A date that is not `YYYY-MM-DD`.
    #[error("{field}={value:?} is not a date: write it as YYYY-MM-DD (e.g. 2026-01-31)")]
    BadDate {
        /// `from` or `to`.
        field: &'static str,
        /// What was given.
        value: String,
    },
    /// `from` after `to`.
    #[error("from={from} is after to={to}: the period must start on or before its last day")]
    Reversed {
        /// The first day given.
        from: Date,
        /// The last day given.
        to: Date,
    },
    /// A preset this does not know.
    #[error("period={0:?} is not a period: use 7d, 30d, 90d or all, or from=/to= dates")]
    UnknownPreset(String),
    /// A preset together with dates.
    #[error("give either period= or from=/to=, not both")]
    Both,
}

const FORMAT: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// `date` as `YYYY-MM-DD`.
pub fn day_string(date: Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), date.month() as u8, date.day())
}

fn parse_day(field: &'static str, value: &str) -> Result<Date, PeriodError> {
    let bad = || PeriodError::BadDate { field, value: value.to_owned() };
    if value.len() != 10 {
        return Err(bad());
    }
    Date::parse(value, FORMAT).map_err(|_| bad())
}

impl Period {
    /// Every day.
    pub const ALL: Period = Period { from: None, to: None };

    /// The period of a query: `preset` or `from`/`to`; nothing given is every day. `today` is the UTC day.
    pub fn parse(
        preset: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        today: Date,
    ) -> Result<Period, PeriodError> {
        if let Some(preset) = preset {
            if from.is_some() || to.is_some() {
                return Err(PeriodError::Both);
            }
            let days = match preset {
                "all" => return Ok(Period::ALL),
                "7d" => 7,
                "30d" => 30,
                "90d" => 90,
                other => return Err(PeriodError::UnknownPreset(other.to_owned())),
            };
            return Ok(Period { from: Some(today - Duration::days(days - 1)), to: Some(today) });
        }
        let from = from.map(|v| parse_day("from", v)).transpose()?;
        let to = to.map(|v| parse_day("to", v)).transpose()?;
        if let (Some(from), Some(to)) = (from, to) {
            if from > to {
                return Err(PeriodError::Reversed { from, to });
            }
        }
        Ok(Period { from, to })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn presets_and_dates_become_inclusive_day_ranges_and_nonsense_is_refused() {
        let today = date!(2026 - 03 - 10);
        let p = |preset, from, to| Period::parse(preset, from, to, today);
        assert_eq!(p(Some("7d"), None, None), Ok(Period { from: Some(date!(2026 - 03 - 04)), to: Some(today) }));
        assert_eq!(p(Some("all"), None, None), Ok(Period::ALL));
        assert_eq!(p(None, None, None), Ok(Period::ALL));
        assert_eq!(p(None, Some("2026-01-01"), None), Ok(Period { from: Some(date!(2026 - 01 - 01)), to: None }));
        assert!(matches!(p(None, Some("2026-13-01"), None), Err(PeriodError::BadDate { field: "from", .. })));
        assert!(matches!(p(None, None, Some("2026-1-1")), Err(PeriodError::BadDate { field: "to", .. })));
        assert!(matches!(p(None, Some("2026-02-02"), Some("2026-02-01")), Err(PeriodError::Reversed { .. })));
        assert_eq!(p(Some("1w"), None, None), Err(PeriodError::UnknownPreset("1w".into())));
        assert_eq!(p(Some("7d"), Some("2026-01-01"), None), Err(PeriodError::Both));
        assert_eq!(day_string(today), "2026-03-10");
    }
}
