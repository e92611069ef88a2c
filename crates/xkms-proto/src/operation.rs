//! The nine operations of XKMS 2.0 (the W3C port type): a closed vocabulary for
//! configuration, metrics labels and log lines.

use std::fmt;

/// An XKMS operation, named as in the W3C WSDL port type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    Locate,
    Validate,
    Register,
    Reissue,
    Revoke,
    Recover,
    Compound,
    Status,
    Pending,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 9] = [
        Operation::Locate,
        Operation::Validate,
        Operation::Register,
        Operation::Reissue,
        Operation::Revoke,
        Operation::Recover,
        Operation::Compound,
        Operation::Status,
        Operation::Pending,
    ];

    /// The operation's name (`Locate`, `Register`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Locate => "Locate",
            Operation::Validate => "Validate",
            Operation::Register => "Register",
            Operation::Reissue => "Reissue",
            Operation::Revoke => "Revoke",
            Operation::Recover => "Recover",
            Operation::Compound => "Compound",
            Operation::Status => "Status",
            Operation::Pending => "Pending",
        }
    }

    /// The operation named `name`, in any ASCII case (as configuration files write it).
    pub fn parse(name: &str) -> Option<Operation> {
        Operation::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(name))
    }

    /// The operation whose request element has local name `element` (`LocateRequest`).
    pub fn from_request_element(element: &str) -> Option<Operation> {
        let name = element.strip_suffix("Request")?;
        Operation::ALL.into_iter().find(|op| op.as_str() == name)
    }

    /// The local name of the request element (`LocateRequest`, …).
    pub fn request_element(self) -> &'static str {
        match self {
            Operation::Locate => "LocateRequest",
            Operation::Validate => "ValidateRequest",
            Operation::Register => "RegisterRequest",
            Operation::Reissue => "ReissueRequest",
            Operation::Revoke => "RevokeRequest",
            Operation::Recover => "RecoverRequest",
            Operation::Compound => "CompoundRequest",
            Operation::Status => "StatusRequest",
            Operation::Pending => "PendingRequest",
        }
    }

    /// The local name of the result element. A `PendingRequest` is answered with the
    /// deferred operation's own result, so the port type declares the abstract `Result`.
    pub fn result_element(self) -> &'static str {
        match self {
            Operation::Locate => "LocateResult",
            Operation::Validate => "ValidateResult",
            Operation::Register => "RegisterResult",
            Operation::Reissue => "ReissueResult",
            Operation::Revoke => "RevokeResult",
            Operation::Recover => "RecoverResult",
            Operation::Compound => "CompoundResult",
            Operation::Status => "StatusResult",
            Operation::Pending => "Result",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is none of the nine operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown operation (one of {})", Operation::ALL.map(Operation::as_str).join(", "))]
pub struct UnknownOperation;

impl std::str::FromStr for Operation {
    type Err = UnknownOperation;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Operation::parse(name).ok_or(UnknownOperation)
    }
}

/// Configuration files name operations as strings: an unknown name is an error at load.
#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Operation {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_elements_round_trip() {
        for op in Operation::ALL {
            assert_eq!(Operation::parse(op.as_str()), Some(op));
            assert_eq!(
                Operation::parse(&op.as_str().to_ascii_lowercase()),
                Some(op)
            );
            assert_eq!(
                Operation::from_request_element(op.request_element()),
                Some(op)
            );
            assert_eq!(op.to_string(), op.as_str());
        }
        assert_eq!(Operation::parse("Registr"), None);
        assert_eq!(Operation::from_request_element("registerRequest"), None);
        assert_eq!(Operation::from_request_element("Register"), None);
        assert_eq!(Operation::from_request_element("RegisterResult"), None);
        assert_eq!(Operation::Pending.result_element(), "Result");
        assert!(
            "Bogus"
                .parse::<Operation>()
                .unwrap_err()
                .to_string()
                .ends_with("Compound, Status, Pending)")
        );
    }
}
