//! Input checks run before any API call. Each returns an [`InputError`] whose message names
//! the flag, the value given and what is allowed.

use crate::error::InputError;

/// Cluster names: 1 to 100 characters, a letter or digit first, then letters, digits, `-`, `_`.
pub fn cluster_name(flag: &str, value: &str) -> Result<(), InputError> {
    resource_name(flag, value, 100)
}

/// Nodegroup and Fargate profile names: as cluster names, at most 63 characters.
pub fn child_name(flag: &str, value: &str) -> Result<(), InputError> {
    resource_name(flag, value, 63)
}

fn resource_name(flag: &str, value: &str, max: usize) -> Result<(), InputError> {
    let allowed =
        format!("1 to {max} characters: a letter or digit, then letters, digits, '-' or '_'");
    let mut chars = value.chars();
    let valid = match chars.next() {
        Some(first) => {
            first.is_ascii_alphanumeric()
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                && value.len() <= max
        }
        None => false,
    };
    if valid {
        Ok(())
    } else {
        Err(InputError::invalid(
            flag,
            format!("invalid name {value:?}: allowed is {allowed}"),
        ))
    }
}

const PARTITIONS: &[&str] = &[
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
];

/// An IAM role ARN: `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`.
pub fn role_arn(flag: &str, value: &str) -> Result<(), InputError> {
    let bad = |why: &str| {
        InputError::invalid(
            flag,
            format!(
                "invalid IAM role ARN {value:?}: {why}; expected arn:aws:iam::123456789012:role/NAME"
            ),
        )
    };
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts[..] else {
        return Err(bad("it must have six ':'-separated parts"));
    };
    if arn != "arn" {
        return Err(bad("it must start with 'arn:'"));
    }
    if !PARTITIONS.contains(&partition) {
        return Err(bad(&format!("unknown partition {partition:?}")));
    }
    if service != "iam" {
        return Err(bad("it is not an IAM ARN"));
    }
    if !region.is_empty() {
        return Err(bad("IAM ARNs have no region"));
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("the account must be 12 digits"));
    }
    let Some(name) = resource.strip_prefix("role/") else {
        return Err(bad("it is not a role"));
    };
    let name_ok = !name.is_empty()
        && value.len() <= 2048
        && !name.ends_with('/')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c));
    if !name_ok {
        return Err(bad("the role name may use letters, digits and +=,.@_-/"));
    }
    Ok(())
}

/// Region prefixes of each partition, as the SDKs' partition table defines them.
fn partition_of_region(region: &str) -> Option<&'static str> {
    let parts: Vec<&str> = region.split('-').collect();
    // Every region is PREFIX...-WORD-DIGITS, e.g. us-east-1, us-gov-west-1, eu-isoe-west-1.
    if parts.len() < 3 {
        return None;
    }
    let (last, head) = parts.split_last()?;
    if last.is_empty() || !last.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if head
        .iter()
        .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_lowercase()))
    {
        return None;
    }
    match head {
        ["us", "gov", _] => Some("aws-us-gov"),
        ["us", "iso", _] => Some("aws-iso"),
        ["us", "isob", _] => Some("aws-iso-b"),
        ["eu", "isoe", _] => Some("aws-iso-e"),
        ["us", "isof", _] => Some("aws-iso-f"),
        ["eusc", _, _] => Some("aws-eusc"),
        ["cn", _] => Some("aws-cn"),
        [geo, _] if ["us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"].contains(geo) => {
            Some("aws")
        }
        _ => None,
    }
}

/// A region name that exists in some AWS partition's naming scheme.
pub fn region(flag: &str, value: &str) -> Result<&'static str, InputError> {
    partition_of_region(value).ok_or_else(|| {
        InputError::invalid(
            flag,
            format!(
                "unknown region {value:?}: expected a region of an AWS partition, e.g. us-east-1, eu-west-2, cn-north-1, us-gov-west-1"
            ),
        )
    })
}

/// An endpoint URL: absolute http(s) with a host.
pub fn endpoint_url(flag: &str, value: &str) -> Result<(), InputError> {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    match rest {
        Some(rest)
            if !rest.is_empty()
                && !rest.starts_with('/')
                && !rest.contains(char::is_whitespace) =>
        {
            Ok(())
        }
        _ => Err(InputError::invalid(
            flag,
            format!("invalid URL {value:?}: expected http:// or https:// followed by a host"),
        )),
    }
}

/// A Kubernetes minor version as EKS takes it: `MAJOR.MINOR`, e.g. `1.31`.
pub fn kubernetes_version(flag: &str, value: &str) -> Result<(), InputError> {
    let ok = value.split_once('.').is_some_and(|(major, minor)| {
        !major.is_empty()
            && !minor.is_empty()
            && major.bytes().all(|b| b.is_ascii_digit())
            && minor.bytes().all(|b| b.is_ascii_digit())
    });
    if ok {
        Ok(())
    } else {
        Err(InputError::invalid(
            flag,
            format!("invalid Kubernetes version {value:?}: expected MAJOR.MINOR, e.g. 1.31"),
        ))
    }
}

/// A string that must not be empty.
pub fn non_empty(flag: &str, value: &str) -> Result<(), InputError> {
    if value.trim().is_empty() {
        Err(InputError::invalid(flag, "must not be empty"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "demo-1", "A_b-3", &"x".repeat(100)] {
            cluster_name("--cluster-name", ok).expect(ok);
        }
        for bad in ["", "-a", "_a", "a b", "a.b", "ä", &"x".repeat(101)] {
            let err = cluster_name("--cluster-name", bad)
                .expect_err(bad)
                .to_string();
            assert!(err.starts_with("--cluster-name: invalid name"), "{err}");
        }
        child_name("--nodegroup-name", &"n".repeat(63)).expect("63 chars");
        child_name("--nodegroup-name", &"n".repeat(64)).expect_err("64 chars");
    }

    #[test]
    fn arns() {
        for ok in [
            "arn:aws:iam::123456789012:role/eks",
            "arn:aws-cn:iam::123456789012:role/path/to/Role+=,.@_-",
            "arn:aws-us-gov:iam::123456789012:role/x",
        ] {
            role_arn("--cluster-role-arn", ok).expect(ok);
        }
        for (bad, why) in [
            ("eks-role", "six"),
            ("arn:aws:iam::12345:role/x", "12 digits"),
            ("arn:aws:s3:::bucket/x", "not an IAM ARN"),
            ("arn:aws:iam::123456789012:user/x", "not a role"),
            ("arn:moon:iam::123456789012:role/x", "partition"),
            ("arn:aws:iam:us-east-1:123456789012:role/x", "no region"),
            ("arn:aws:iam::123456789012:role/", "role name"),
        ] {
            let err = role_arn("--cluster-role-arn", bad)
                .expect_err(bad)
                .to_string();
            assert!(err.contains(why), "{bad}: {err}");
            assert!(err.starts_with("--cluster-role-arn: "), "{err}");
        }
    }

    #[test]
    fn regions() {
        for (ok, partition) in [
            ("us-east-1", "aws"),
            ("ap-southeast-5", "aws"),
            ("il-central-1", "aws"),
            ("cn-northwest-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
            ("eu-isoe-west-1", "aws-iso-e"),
            ("eusc-de-east-1", "aws-eusc"),
        ] {
            assert_eq!(region("--region", ok).expect(ok), partition);
        }
        for bad in [
            "",
            "us-east",
            "useast1",
            "moon-base-1",
            "US-EAST-1",
            "us-east-1a",
            "us--1",
        ] {
            let err = region("--region", bad).expect_err(bad).to_string();
            assert!(err.starts_with("--region: unknown region"), "{err}");
        }
    }

    #[test]
    fn urls() {
        endpoint_url("--endpoint-url", "http://127.0.0.1:4566").expect("ok");
        endpoint_url("--endpoint-url", "https://eks.us-east-1.amazonaws.com").expect("ok");
        for bad in ["localhost:4566", "ftp://x", "http://", "https:///x"] {
            endpoint_url("--endpoint-url", bad).expect_err(bad);
        }
    }
}
