//! Where a web login may send the browser back to. `/auth/authorize` takes
//! a `redirect_uri` from anyone and hands it to WeChat, which sends the
//! user's browser there with a fresh code: a redirect_uri outside the app's
//! own list would make wxauth an open redirect and hand codes to a stranger
//! (RFC 6749 section 10.6, RFC 9700 section 4.1).
//!
//! So every candidate is parsed as a URL (WHATWG rules, as browsers do),
//! and compared by its parts, never as text: the scheme, the host and the
//! port must be a rule's own, and the path must be the rule's path or lie
//! below it at a `/` boundary. `https://good.example.com.evil.com`,
//! `https://good.example.com@evil.com`, `//evil.com`, `https://good.example.com/cb/../x`
//! and `/cbx` for a rule `/cb` all fail; a URL with userinfo or a fragment
//! is refused outright, and so is a path with an encoded `/`, `\` or `.`,
//! or a `;`, which a server behind it may still resolve to a `..`, and a
//! query with a `code` or `state` of its own (WeChat appends both). What is
//! sent on is the URL as parsed (normalised), so the browser goes exactly
//! where the check looked.

use std::fmt;
use url::{Host, Url};

/// The longest redirect_uri accepted (WeChat's authorize page carries it in
/// a URL; browsers and proxies cut long ones).
pub const MAX_REDIRECT_URI: usize = 1024;

/// One allowed redirect: a scheme, host, port and path prefix.
#[derive(Clone, PartialEq, Eq)]
pub struct RedirectRule {
    scheme: String,
    host: Host<String>,
    /// None: any port (the simulator's loopback rules only).
    port: Option<u16>,
    path: String,
}

impl fmt::Debug for RedirectRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for RedirectRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}://{}:{port}{}", self.scheme, self.host, self.path),
            None => write!(f, "{}://{}:*{}", self.scheme, self.host, self.path),
        }
    }
}

impl RedirectRule {
    /// A rule from the apps file: an absolute `http` or `https` URL with a
    /// host, no userinfo, query or fragment; its port (or the scheme's) is
    /// the only one allowed, its path the prefix.
    pub fn parse(text: &str) -> Result<Self, String> {
        let url = Url::parse(text).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "{text:?} has a query or fragment: give a prefix of paths"
            ));
        }
        let parts = Parts::of(&url).map_err(|e| format!("{text:?} {e}"))?;
        Ok(Self {
            scheme: parts.scheme,
            host: parts.host,
            port: Some(parts.port),
            path: url.path().to_owned(),
        })
    }

    /// Any port of `scheme://host`, any path: the simulator's loopback rules.
    pub fn any_port(scheme: &str, host: Host<String>) -> Self {
        Self {
            scheme: scheme.to_owned(),
            host,
            port: None,
            path: "/".to_owned(),
        }
    }

    /// Whether `origin` (a URL of scheme, host and port) is this rule's.
    pub fn allows_origin(&self, origin: &Url) -> bool {
        Parts::of(origin).is_ok_and(|parts| self.same_origin(&parts))
    }

    fn same_origin(&self, candidate: &Parts) -> bool {
        self.scheme == candidate.scheme
            && self.host == candidate.host
            && self.port.is_none_or(|port| port == candidate.port)
    }

    fn allows(&self, candidate: &Parts, path: &str) -> bool {
        self.same_origin(candidate) && path_is_under(path, &self.path)
    }
}

/// Whether `path` is `prefix` or below it: `/cb` allows `/cb`, `/cb/x`,
/// not `/cbx`; `/cb/` allows `/cb/x`; `/` allows every path.
fn path_is_under(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some("") => true,
        Some(rest) => prefix.ends_with('/') || rest.starts_with('/'),
        None => false,
    }
}

/// Whether the path has what a server behind it may turn into a `..` the
/// prefix check never saw: an encoded `/` or `\\` (nginx decodes `%2F`
/// before it resolves dot segments), an encoded `.` (the URL parser resolves
/// `%2e%2e` alone, not `%2e%2e%2f`), or a `;` (Tomcat reads `..;` as `..`).
/// A callback's path needs none of them; its query may have them.
fn hides_a_dot_dot(path: &str) -> bool {
    let path = path.to_ascii_lowercase();
    ["%2f", "%5c", "%2e", ";"]
        .iter()
        .any(|hidden| path.contains(hidden))
}

/// The parts of a URL compared.
struct Parts {
    scheme: String,
    host: Host<String>,
    port: u16,
}

impl Parts {
    fn of(url: &Url) -> Result<Self, &'static str> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err("is not http or https");
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("carries userinfo (`user@`)");
        }
        let host = url.host().ok_or("has no host")?.to_owned();
        let port = url.port_or_known_default().ok_or("has no port")?;
        Ok(Self {
            scheme: url.scheme().to_owned(),
            host,
            port,
        })
    }
}

/// `candidate` as parsed, if one of `rules` allows it; else why not (for
/// the client: the rules themselves are not listed).
pub fn check_redirect(rules: &[RedirectRule], candidate: &str) -> Result<Url, String> {
    if candidate.len() > MAX_REDIRECT_URI {
        return Err(format!(
            "redirect_uri is longer than {MAX_REDIRECT_URI} bytes"
        ));
    }
    let url = Url::parse(candidate)
        .map_err(|_| "redirect_uri must be an absolute http or https URL".to_owned())?;
    if url.fragment().is_some() {
        return Err("redirect_uri must not have a fragment (`#`)".into());
    }
    let parts = Parts::of(&url).map_err(|e| format!("redirect_uri {e}"))?;
    if hides_a_dot_dot(url.path()) {
        return Err(
            "redirect_uri's path must not have an encoded `/`, `\\` or `.`, nor a `;`".into(),
        );
    }
    if url
        .query_pairs()
        .any(|(name, _)| name == "code" || name == "state")
    {
        // WeChat appends its own: the page would get two of each, and
        // most parsers read the first, this URL's author's.
        return Err("redirect_uri must not carry a `code` or `state` of its own".into());
    }
    if rules.iter().any(|rule| rule.allows(&parts, url.path())) {
        Ok(url)
    } else {
        Err("redirect_uri is not one of this app's redirect_uris".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(texts: &[&str]) -> Vec<RedirectRule> {
        texts
            .iter()
            .map(|t| RedirectRule::parse(t).unwrap())
            .collect()
    }

    #[test]
    fn urls_under_a_rule_are_allowed_and_normalised() {
        let rules = rules(&["https://good.example.com/cb", "https://shop.example.com/"]);
        for (candidate, sent) in [
            ("https://good.example.com/cb", "https://good.example.com/cb"),
            (
                "https://good.example.com/cb?x=1",
                "https://good.example.com/cb?x=1",
            ),
            (
                "https://good.example.com/cb/next",
                "https://good.example.com/cb/next",
            ),
            (
                "https://GOOD.example.com:443/cb",
                "https://good.example.com/cb",
            ),
            (
                "https://shop.example.com/any/page",
                "https://shop.example.com/any/page",
            ),
        ] {
            assert_eq!(check_redirect(&rules, candidate).unwrap().as_str(), sent);
        }
    }

    #[test]
    fn prefix_tricks_and_other_hosts_are_refused() {
        let rules = rules(&["https://good.example.com/cb"]);
        for candidate in [
            "https://good.example.com.evil.com/cb",
            "https://good.example.com@evil.com/cb",
            "https://user:pw@good.example.com/cb",
            "https://evil.com/https://good.example.com/cb",
            "//evil.com/cb",
            "/cb",
            "https://good.example.com/cbx",
            "https://good.example.com/cb/../admin",
            "https://good.example.com/cb/%2e%2e/admin",
            "https://good.example.com/c%62",
            "https://good.example.com/cb/..%2Fadmin",
            "https://good.example.com/cb/..%5cadmin",
            "https://good.example.com/cb/%2E%2E%2Fadmin",
            "https://good.example.com/cb/..;/admin",
            "https://good.example.com/cb?code=x",
            "https://good.example.com/cb?x=1&state=y",
            "http://good.example.com/cb",
            "https://good.example.com:8443/cb",
            "https://good.example.com/cb#frag",
            "javascript:alert(1)//https://good.example.com/cb",
            "https://good.example.com\\@evil.com/cb",
            "https:\\\\evil.com/cb",
            "",
        ] {
            assert!(
                check_redirect(&rules, candidate).is_err(),
                "{candidate} must be refused"
            );
        }
        let long = format!(
            "https://good.example.com/cb?{}",
            "x".repeat(MAX_REDIRECT_URI)
        );
        assert!(check_redirect(&rules, &long).is_err());
    }

    #[test]
    fn any_port_rules_allow_every_port_of_their_host_only() {
        let rules = [RedirectRule::any_port(
            "http",
            Host::Ipv4(std::net::Ipv4Addr::LOCALHOST),
        )];
        assert!(check_redirect(&rules, "http://127.0.0.1:5500/index.html").is_ok());
        assert!(check_redirect(&rules, "http://127.0.0.1/").is_ok());
        assert!(check_redirect(&rules, "http://127.0.0.1.evil.com:5500/").is_err());
        assert!(check_redirect(&rules, "https://127.0.0.1:5500/").is_err());
    }

    #[test]
    fn rules_must_be_plain_http_urls() {
        for bad in [
            "good.example.com/cb",
            "ftp://good.example.com/",
            "https://u@good.example.com/",
            "https://good.example.com/cb?x=1",
            "https://good.example.com/#x",
        ] {
            assert!(RedirectRule::parse(bad).is_err(), "{bad}");
        }
    }
}
