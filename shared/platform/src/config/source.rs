//! Reading variables: one lookup (the process environment, or a map in tests) and the parsers
//! every section uses, each error naming its variable.

/// Where the server runs; production refuses development shortcuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// Local development and tests: a fixed development master key is allowed.
    Development,
    /// Production: every secret must be configured.
    Production,
}

/// A configuration error, naming the variable.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    /// The environment variable.
    pub variable: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

/// The variables, as one lookup; blank values count as unset.
pub(crate) struct Source<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    /// The environment, read first: production refuses development shortcuts.
    pub(crate) environment: Environment,
}

impl<'a> Source<'a> {
    pub(crate) fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut source = Source {
            lookup,
            environment: Environment::Development,
        };
        source.environment = match source.get("PRAXIS_ENV").as_deref() {
            None | Some("development") => Environment::Development,
            Some("production") => Environment::Production,
            Some(_) => return Err(err("PRAXIS_ENV", "must be 'development' or 'production'")),
        };
        Ok(source)
    }

    pub(crate) fn production(&self) -> bool {
        self.environment == Environment::Production
    }

    /// The value, unless unset or blank.
    pub(crate) fn get(&self, var: &str) -> Option<String> {
        (self.lookup)(var).filter(|v| !v.trim().is_empty())
    }

    /// The value, or an error naming the variable and why it is needed.
    pub(crate) fn required(&self, var: &'static str, why: &str) -> Result<String, ConfigError> {
        self.get(var)
            .ok_or_else(|| err(var, &format!("is required {why}")))
    }

    /// A value parsed with `FromStr`, or the default when unset.
    pub(crate) fn parse<T: std::str::FromStr>(
        &self,
        var: &'static str,
        default: T,
    ) -> Result<T, ConfigError> {
        match self.get(var) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| err(var, "is not a valid value")),
        }
    }

    /// A count or duration that must be greater than zero.
    pub(crate) fn positive(&self, var: &'static str, default: u32) -> Result<u32, ConfigError> {
        match self.parse(var, default)? {
            0 => Err(err(var, "must be greater than zero")),
            v => Ok(v),
        }
    }

    /// `true`/`1`/`yes` or `false`/`0`/`no`.
    pub(crate) fn flag(&self, var: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(var).as_deref().map(str::trim) {
            None => Ok(default),
            Some("true" | "1" | "yes") => Ok(true),
            Some("false" | "0" | "no") => Ok(false),
            Some(_) => Err(err(var, "must be true or false")),
        }
    }

    /// A secret of at least `min` characters, when set.
    pub(crate) fn secret(
        &self,
        var: &'static str,
        min: usize,
    ) -> Result<Option<secrecy::SecretString>, ConfigError> {
        match self.get(var) {
            Some(v) if v.len() < min => {
                Err(err(var, &format!("must be at least {min} characters")))
            }
            v => Ok(v.map(secrecy::SecretString::from)),
        }
    }

    /// A provider URL: https in production (plain http is for local simulators).
    pub(crate) fn provider_url(
        &self,
        var: &'static str,
        url: String,
    ) -> Result<String, ConfigError> {
        let ok = url.starts_with("https://") || (!self.production() && url.starts_with("http://"));
        if ok {
            Ok(url)
        } else {
            Err(err(var, "must be an https:// URL"))
        }
    }
}

pub(crate) fn err(variable: &'static str, problem: &str) -> ConfigError {
    ConfigError {
        variable,
        problem: problem.to_owned(),
    }
}
