//! Small states the store keeps as text, as enums everywhere else: a case's status and a
//! history entry's direction. The text is the database's and the templates' spelling.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// An enum with one fixed spelling per variant, in the database and in templates.
macro_rules! spelled_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!(concat!("not a ", stringify!($name), ": {:?}"), other)),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

spelled_enum! {
    /// Closing is final (SPEC "Mail in → 4"): a case is open or closed.
    CaseStatus {
        Open => "open",
        Closed => "closed",
    }
}

spelled_enum! {
    /// Whether a history entry is a mail buzon received or one it sent.
    Direction {
        In => "in",
        Out => "out",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip() {
        for status in [CaseStatus::Open, CaseStatus::Closed] {
            assert_eq!(status.as_str().parse::<CaseStatus>(), Ok(status));
        }
        assert_eq!("out".parse::<Direction>(), Ok(Direction::Out));
        assert!("sideways".parse::<Direction>().is_err());
        assert_eq!(CaseStatus::Closed, "closed");
        assert_eq!(serde_json::to_value(Direction::In).unwrap(), "in");
    }
}

spelled_enum! {
    /// Who a person is on a case: the customer who opened it, or another who writes on it.
    Role {
        Requester => "requester",
        Participant => "participant",
    }
}
