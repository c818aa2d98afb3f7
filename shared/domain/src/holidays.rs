//! Public holidays of Belgium and the Netherlands, computed (Easter by the anonymous Gregorian
//! algorithm). Practices apply them as closures; the privacy office counts working days with them.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

use crate::practice::Country;

/// Easter Sunday of a year (Gregorian calendar).
pub fn easter(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("valid Easter date")
}

/// The legal public holidays of `country` in `year`, with their local names.
pub fn public_holidays(country: Country, year: i32) -> Vec<(NaiveDate, &'static str)> {
    let ymd = |m, d| NaiveDate::from_ymd_opt(year, m, d).expect("valid date");
    let e = easter(year);
    let mut days = match country {
        Country::BE => vec![
            (ymd(1, 1), "Nieuwjaar"),
            (e + Duration::days(1), "Paasmaandag"),
            (ymd(5, 1), "Dag van de Arbeid"),
            (e + Duration::days(39), "O.L.H. Hemelvaart"),
            (e + Duration::days(50), "Pinkstermaandag"),
            (ymd(7, 21), "Nationale feestdag"),
            (ymd(8, 15), "O.L.V. Hemelvaart"),
            (ymd(11, 1), "Allerheiligen"),
            (ymd(11, 11), "Wapenstilstand"),
            (ymd(12, 25), "Kerstmis"),
        ],
        Country::NL => {
            // Koningsdag moves to the 26th when the 27th is a Sunday.
            let kings = if ymd(4, 27).weekday() == Weekday::Sun {
                ymd(4, 26)
            } else {
                ymd(4, 27)
            };
            vec![
                (ymd(1, 1), "Nieuwjaarsdag"),
                (e - Duration::days(2), "Goede Vrijdag"),
                (e, "Eerste Paasdag"),
                (e + Duration::days(1), "Tweede Paasdag"),
                (kings, "Koningsdag"),
                (ymd(5, 5), "Bevrijdingsdag"),
                (e + Duration::days(39), "Hemelvaartsdag"),
                (e + Duration::days(49), "Eerste Pinksterdag"),
                (e + Duration::days(50), "Tweede Pinksterdag"),
                (ymd(12, 25), "Eerste Kerstdag"),
                (ymd(12, 26), "Tweede Kerstdag"),
            ]
        }
    };
    days.sort_by_key(|(d, _)| *d);
    days
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn easter_dates() {
        for (y, m, d) in [
            (2024, 3, 31),
            (2025, 4, 20),
            (2026, 4, 5),
            (2027, 3, 28),
            (2030, 4, 21),
            (2035, 3, 25),
        ] {
            assert_eq!(easter(y), NaiveDate::from_ymd_opt(y, m, d).unwrap(), "{y}");
        }
    }

    #[test]
    fn holidays_2026() {
        let be = public_holidays(Country::BE, 2026);
        assert_eq!(be.len(), 10);
        assert!(be.contains(&(
            NaiveDate::from_ymd_opt(2026, 5, 14).unwrap(),
            "O.L.H. Hemelvaart"
        )));
        assert!(be.contains(&(
            NaiveDate::from_ymd_opt(2026, 5, 25).unwrap(),
            "Pinkstermaandag"
        )));
        let nl = public_holidays(Country::NL, 2026);
        assert!(nl.contains(&(NaiveDate::from_ymd_opt(2026, 4, 27).unwrap(), "Koningsdag")));
        // 27 April 2025 was a Sunday.
        assert!(
            public_holidays(Country::NL, 2025)
                .contains(&(NaiveDate::from_ymd_opt(2025, 4, 26).unwrap(), "Koningsdag"))
        );
    }
}
