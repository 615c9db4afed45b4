//! Values that must never be printed or logged: passwords and tokens. `Debug` shows them
//! redacted and there is no `Display`, so a secret only leaves through [`Secret::expose`].

use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for the one place that sends or stores it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Query parameters whose values are secrets wherever they appear in a URL.
const SECRET_KEYS: [&str; 4] = ["token", "password", "access_token", "jwt"];

/// A URL fit to print: the password of `user:password@` and the values of secret query
/// parameters are replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h.to_string(), Some(q)),
        None => (url.to_string(), None),
    };
    let head = match head.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((userinfo, host)) if !userinfo.contains('/') => match userinfo.split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
                None => head.clone(),
            },
            _ => head.clone(),
        },
        None => head,
    };
    match query {
        None => head,
        Some(q) => {
            let parts: Vec<String> = q
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if SECRET_KEYS.contains(&k.to_ascii_lowercase().as_str()) => {
                        format!("{k}=***")
                    }
                    _ => kv.to_string(),
                })
                .collect();
            format!("{head}?{}", parts.join("&"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"hunter2\"");
        assert_eq!(
            redact_url("https://me:pw@mirror.example/x?a=1&token=abc&Password=p"),
            "https://me:***@mirror.example/x?a=1&token=***&Password=***"
        );
        assert_eq!(redact_url("http://h/p"), "http://h/p");
    }
}

/// `text` with every occurrence of each secret replaced by `***` (values too short to be a
/// secret are left: they would match by chance).
pub fn scrub(text: &str, secrets: &[Secret]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if s.expose().len() >= 6 {
            out = out.replace(s.expose(), "***");
        }
    }
    out
}

#[cfg(test)]
mod scrub_tests {
    use super::*;

    #[test]
    fn every_secret_is_scrubbed() {
        let s = [Secret::new("hunter22secret"), Secret::new("abc")];
        assert_eq!(
            scrub("pw=hunter22secret, again hunter22secret; abc stays", &s),
            "pw=***, again ***; abc stays"
        );
    }
}
