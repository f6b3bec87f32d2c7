//! The apps being served (docs/API.md, "Apps and platforms"): one client per configured
//! mini-program, by appid, and which one a request that names none goes to.

use crate::clock::SharedClock;
use crate::platform::{AppClient, AppConfig, Transport};
use std::collections::BTreeMap;

/// Why a request named no app this server serves.
#[derive(Debug, thiserror::Error)]
pub enum UnknownApp {
    /// The appid is not configured.
    #[error("no mini-program with this appid is configured here")]
    NotServed,
    /// Several apps are configured and the request named none.
    #[error("several mini-programs are configured: name one with `appid`")]
    Missing,
}

/// The apps being served, by appid.
pub struct Apps {
    clients: BTreeMap<String, AppClient>,
    /// The app a request that names none goes to: the only one, or the
    /// simulator's WeChat app.
    default: Option<String>,
}

impl Apps {
    /// A client per app of `configs` over `transport`; `default` is the app
    /// for requests that name none (the only app when there is one).
    pub fn new(
        configs: Vec<AppConfig>,
        default: Option<&str>,
        transport: &Transport,
        clock: &SharedClock,
    ) -> Self {
        let default = default
            .map(str::to_owned)
            .or_else(|| match configs.as_slice() {
                [only] => Some(only.appid.clone()),
                _ => None,
            });
        let clients = configs
            .into_iter()
            .map(|config| {
                let appid = config.appid.clone();
                (
                    appid,
                    AppClient::new(config, transport.clone(), clock.clone()),
                )
            })
            .collect();
        Self { clients, default }
    }

    /// The app named `appid`, or the default one when none is named.
    pub fn resolve(&self, appid: Option<&str>) -> Result<&AppClient, UnknownApp> {
        match appid.or(self.default.as_deref()) {
            Some(appid) => self.clients.get(appid).ok_or(UnknownApp::NotServed),
            None => Err(UnknownApp::Missing),
        }
    }

    /// The one app served, when exactly one is.
    pub fn only(&self) -> Option<&AppClient> {
        match self.clients.len() {
            1 => self.clients.values().next(),
            _ => None,
        }
    }

    /// The app named `appid`, if served.
    pub fn get(&self, appid: &str) -> Option<&AppClient> {
        self.clients.get(appid)
    }

    /// Every app served.
    pub fn clients(&self) -> impl Iterator<Item = &AppClient> {
        self.clients.values()
    }

    /// Every appid served.
    pub fn appids(&self) -> impl Iterator<Item = &str> {
        self.clients.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::Platform;
    use secrecy::SecretString;

    #[test]
    fn one_app_is_the_default_and_several_need_an_appid() {
        let metrics = crate::metrics::Metrics::new().unwrap();
        let transport = Transport::new(std::time::Duration::from_secs(1), 1, metrics).unwrap();
        let clock: SharedClock = std::sync::Arc::new(crate::clock::SystemClock);
        let config = |appid: &str| AppConfig {
            platform: Platform::Wechat,
            appid: appid.into(),
            secret: SecretString::from("s"),
            api_base: "http://127.0.0.1:9".into(),
            redirect_uris: Vec::new(),
            alipay: None,
        };
        let one = Apps::new(vec![config("wx1")], None, &transport, &clock);
        assert_eq!(one.resolve(None).unwrap().appid(), "wx1");
        assert!(matches!(
            one.resolve(Some("wx2")),
            Err(UnknownApp::NotServed)
        ));
        let two = Apps::new(vec![config("wx1"), config("wx2")], None, &transport, &clock);
        assert!(matches!(two.resolve(None), Err(UnknownApp::Missing)));
        assert_eq!(two.resolve(Some("wx2")).unwrap().appid(), "wx2");
    }
}
