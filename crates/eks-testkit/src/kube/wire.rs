//! Wire-level pieces of the fake Kubernetes API: errors as `Status` objects, the timestamps and
//! ages Kubernetes writes, and object identifiers, kept here so the crate needs no date or
//! UUID dependency.

use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// An error answered as a `v1` `Status` object, the shape every Kubernetes client decodes.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct ApiError {
    pub(super) code: u16,
    pub(super) reason: &'static str,
    pub(super) message: String,
    pub(super) details: Value,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: json!({}),
        }
    }

    /// 401: the real server says only "Unauthorized"; the fake adds why, for test failures.
    pub(super) fn unauthorized(why: &str) -> Self {
        Self::new(401, "Unauthorized", format!("Unauthorized: {why}"))
    }

    /// 404 for a named object that does not exist, e.g. `pods "web" not found`.
    pub(super) fn not_found(resource: &str, name: &str) -> Self {
        Self {
            details: json!({ "name": name, "kind": resource }),
            ..Self::new(404, "NotFound", format!("{resource} \"{name}\" not found"))
        }
    }

    /// 404 for a path the server does not serve at all.
    pub(super) fn unknown_path() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    /// 405 for a method the fake does not serve on a path it knows.
    pub(super) fn method_not_allowed(method: &str) -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            format!(
                "the server does not allow this method on the requested resource \
                 (the fake does not implement {method} here)"
            ),
        )
    }

    pub(super) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 409 for a create whose name is taken, e.g. `pods "web" already exists`.
    pub(super) fn already_exists(resource: &str, name: &str) -> Self {
        Self {
            details: json!({ "name": name, "kind": resource }),
            ..Self::new(
                409,
                "AlreadyExists",
                format!("{resource} \"{name}\" already exists"),
            )
        }
    }

    /// 422 for an object that fails validation; `causes` are `(field, reason, message)`, e.g.
    /// `("spec.containers", "FieldValueRequired", "Required value")`.
    pub(super) fn invalid(kind: &str, name: &str, causes: &[(String, &str, String)]) -> Self {
        let summary: Vec<String> = causes
            .iter()
            .map(|(field, _, message)| format!("{field}: {message}"))
            .collect();
        let summary = match summary.as_slice() {
            [one] => one.clone(),
            many => format!("[{}]", many.join(", ")),
        };
        let causes: Vec<Value> = causes
            .iter()
            .map(|(field, reason, message)| {
                json!({ "reason": reason, "message": message, "field": field })
            })
            .collect();
        Self {
            details: json!({ "name": name, "kind": kind, "causes": causes }),
            ..Self::new(
                422,
                "Invalid",
                format!("{kind} \"{name}\" is invalid: {summary}"),
            )
        }
    }

    /// 410 for a watch from a `resourceVersion` older than the history the server keeps.
    pub(super) fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// 500 or 503 injected by the test.
    pub(super) fn injected_server_error(code: u16) -> Self {
        let (reason, message) = if code == 503 {
            (
                "ServiceUnavailable",
                "the server is currently unable to handle the request",
            )
        } else {
            (
                "InternalError",
                "an error on the server (\"injected by FakeKube\") has prevented the request from succeeding",
            )
        };
        Self::new(code, reason, message)
    }

    pub(super) fn body(&self) -> Value {
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.code,
        })
    }
}

/// RFC 3339 in UTC to the second, as Kubernetes writes `creationTimestamp`.
pub(crate) fn rfc3339(time: SystemTime) -> String {
    let seconds = match time.duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    };
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

/// RFC 3339 in UTC with nanoseconds, as Go's `time.RFC3339Nano` writes log timestamps:
/// trailing zeros of the fraction are dropped, and so is the fraction when it is zero. Log
/// lines are stamped by a faster writer in `logs`, checked against this one.
#[cfg(test)]
pub(crate) fn rfc3339_nanos(time: SystemTime) -> String {
    let whole = rfc3339(time);
    let nanos = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.subsec_nanos());
    if nanos == 0 {
        return whole;
    }
    let fraction = format!("{nanos:09}");
    let fraction = fraction.trim_end_matches('0');
    format!("{}.{fraction}Z", whole.trim_end_matches('Z'))
}

/// Like [`parse_rfc3339`], but keeping fractional seconds (up to nanoseconds).
pub(crate) fn parse_rfc3339_nanos(text: &str) -> Option<SystemTime> {
    let whole = parse_rfc3339(text)?;
    let Some((_, fraction)) = text.trim_end_matches('Z').split_once('.') else {
        return Some(whole);
    };
    if fraction.is_empty() || fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos: u64 = format!("{fraction:0<9}").parse().ok()?;
    Some(whole + Duration::from_nanos(nanos))
}

/// Reads a timestamp Kubernetes wrote (`2024-05-01T12:00:00Z`, optionally with fractional
/// seconds); `None` for anything else.
pub(super) fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut date = date.splitn(3, '-').map(str::parse::<i64>);
    let (year, month, day) = (date.next()?.ok()?, date.next()?.ok()?, date.next()?.ok()?);
    let time = time.split_once('.').map_or(time, |(whole, _)| whole);
    let mut time = time.splitn(3, ':').map(str::parse::<i64>);
    let (hour, minute, second) = (time.next()?.ok()?, time.next()?.ok()?, time.next()?.ok()?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).ok()?))
}

/// An age as kubectl's AGE column shows it (apimachinery's `duration.HumanDuration`).
pub(super) fn human_age(created: SystemTime, now: SystemTime) -> String {
    let seconds = match now.duration_since(created) {
        Ok(age) => i64::try_from(age.as_secs()).unwrap_or(i64::MAX),
        // Up to a second in the future is clock skew, more is nonsense.
        Err(ahead) if ahead.duration() < Duration::from_secs(2) => 0,
        Err(_) => return "<invalid>".to_owned(),
    };
    let minutes = seconds / 60;
    let hours = minutes / 60;
    let days = hours / 24;
    let years = days / 365;
    let with_rest = |big: i64, unit: &str, rest: i64, rest_unit: &str| {
        if rest == 0 {
            format!("{big}{unit}")
        } else {
            format!("{big}{unit}{rest}{rest_unit}")
        }
    };
    if seconds < 120 {
        format!("{seconds}s")
    } else if minutes < 10 {
        with_rest(minutes, "m", seconds % 60, "s")
    } else if minutes < 180 {
        format!("{minutes}m")
    } else if hours < 8 {
        with_rest(hours, "h", minutes % 60, "m")
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        with_rest(days, "d", hours % 24, "h")
    } else if hours < 24 * 365 * 2 {
        format!("{days}d")
    } else if hours < 24 * 365 * 8 {
        with_rest(years, "y", days % 365, "d")
    } else {
        format!("{years}y")
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let shifted_month = (month + 9) % 12;
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Object `uid`s (random-looking version-4 UUIDs) and `generateName` suffixes, unique within
/// one fake and different between fakes.
#[derive(Debug)]
pub(super) struct IdSource {
    hasher: RandomState,
    next: u64,
}

impl IdSource {
    pub(super) fn new() -> Self {
        Self {
            hasher: RandomState::new(),
            next: 0,
        }
    }

    fn next_word(&mut self) -> u64 {
        self.next += 1;
        self.hasher.hash_one(self.next)
    }

    pub(super) fn uuid(&mut self) -> String {
        let (high, low) = (self.next_word(), self.next_word());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            high >> 32,
            (high >> 16) & 0xffff,
            high & 0x0fff,
            // The variant bits `10` of RFC 4122.
            0x8000 | ((low >> 48) & 0x3fff),
            low & 0xffff_ffff_ffff
        )
    }

    /// Five characters from the alphabet the API server uses for `generateName`.
    pub(super) fn name_suffix(&mut self) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        let mut word = self.next_word();
        (0..5)
            .map(|_| {
                let letter = ALPHABET[(word % ALPHABET.len() as u64) as usize];
                word /= ALPHABET.len() as u64;
                char::from(letter)
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use super::*;

    #[test]
    fn status_has_the_kubernetes_shape() {
        assert_eq!(
            ApiError::not_found("pods", "web").body(),
            json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "pods \"web\" not found", "reason": "NotFound",
                "details": {"name": "web", "kind": "pods"}, "code": 404,
            })
        );
    }

    #[test]
    fn timestamps_round_trip() {
        for (seconds, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_714_564_800, "2024-05-01T12:00:00Z"),
            (4_102_444_799, "2099-12-31T23:59:59Z"),
        ] {
            let time = UNIX_EPOCH + Duration::from_secs(seconds);
            assert_eq!(rfc3339(time), text);
            assert_eq!(parse_rfc3339(text), Some(time));
        }
        assert_eq!(
            parse_rfc3339("2024-05-01T12:00:00.123456Z"),
            parse_rfc3339("2024-05-01T12:00:00Z")
        );
        assert_eq!(parse_rfc3339("2024-13-01T12:00:00Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn nanosecond_timestamps_round_trip_like_go() {
        let base = UNIX_EPOCH + Duration::from_secs(1_714_564_800);
        for (nanos, text) in [
            (0, "2024-05-01T12:00:00Z"),
            (120_000_000, "2024-05-01T12:00:00.12Z"),
            (1, "2024-05-01T12:00:00.000000001Z"),
        ] {
            let time = base + Duration::from_nanos(nanos);
            assert_eq!(rfc3339_nanos(time), text);
            assert_eq!(parse_rfc3339_nanos(text), Some(time));
        }
        assert_eq!(parse_rfc3339_nanos("2024-05-01T12:00:00.Z"), None);
    }

    #[test]
    fn ages_read_like_kubectl() {
        let created = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let age = |seconds| human_age(created, created + Duration::from_secs(seconds));
        assert_eq!(age(0), "0s");
        assert_eq!(age(119), "119s");
        assert_eq!(age(120), "2m");
        assert_eq!(age(125), "2m5s");
        assert_eq!(age(11 * 60), "11m");
        assert_eq!(age(3 * 3600 + 5 * 60), "3h5m");
        assert_eq!(age(20 * 3600), "20h");
        assert_eq!(age(3 * 86_400 + 4 * 3600), "3d4h");
        assert_eq!(age(100 * 86_400), "100d");
        assert_eq!(age(3 * 365 * 86_400 + 86_400), "3y1d");
        assert_eq!(age(10 * 365 * 86_400), "10y");
        assert_eq!(human_age(created + Duration::from_secs(1), created), "0s");
        assert_eq!(
            human_age(created + Duration::from_secs(60), created),
            "<invalid>"
        );
    }

    #[test]
    fn uuids_look_like_version_4_and_do_not_repeat() {
        let mut ids = IdSource::new();
        let (first, second) = (ids.uuid(), ids.uuid());
        assert_ne!(first, second);
        let groups: Vec<&str> = first.split('-').collect();
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(groups[2].starts_with('4'));
        assert!(matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
        assert_eq!(ids.name_suffix().len(), 5);
    }
}
