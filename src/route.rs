//! The app's addresses. Every screen lives in the address's fragment (`/#/incidents/42`), so a
//! reload, a bookmark or a copied address works on every static host, with or without a
//! single-page fallback (`python3 -m http.server`, a plain S3 bucket). Links written for path
//! routes (`/incidents/42`) still open the right screen on hosts that answer them with the app.
//!
//! Pure: the shell (`ui::nav`) reads the fragment, keeps it in a signal and renders
//! [`Route::screen`]; every link and notification builds its address with [`Route::href`] or
//! [`Route::url`].

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};

/// Characters escaped in a path segment (an id): everything that would end or split it.
const SEGMENT: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'#').add(b'%').add(b'/').add(b'<').add(b'>').add(b'?').add(b'`').add(b'{').add(b'}');

/// One screen of the app, with its id where it has one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Route {
    #[default]
    Incidents,
    NewIncident,
    Incident(String),
    Policies,
    /// A policy's editor; the id `new` opens an empty one.
    Policy(String),
    Schedules,
    /// A schedule's editor; the id `new` opens an empty one.
    Schedule(String),
    Teams,
    Rules,
    People,
    Channels,
    Reports,
    Lab,
    Settings,
    /// An address no screen answers (the path as given).
    NotFound(String),
}

/// Which screen a route shows, without its id. The shell keeps a screen mounted while only the id
/// changes (an editor that saved `new` under its real id carries on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    Incidents,
    NewIncident,
    Incident,
    Policies,
    Policy,
    Schedules,
    Schedule,
    Teams,
    Rules,
    People,
    Channels,
    Reports,
    Lab,
    Settings,
    NotFound,
}

impl Route {
    /// The route of a path such as `/incidents/42` (a trailing `/` and percent-escapes allowed).
    pub fn parse(path: &str) -> Route {
        let segments: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned()).collect();
        let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
        match parts.as_slice() {
            [] | ["incidents"] => Route::Incidents,
            ["new"] => Route::NewIncident,
            ["incidents", id] => Route::Incident(id.to_string()),
            ["policies"] => Route::Policies,
            ["policies", id] => Route::Policy(id.to_string()),
            ["schedules"] => Route::Schedules,
            ["schedules", id] => Route::Schedule(id.to_string()),
            ["teams"] => Route::Teams,
            ["rules"] => Route::Rules,
            ["people"] => Route::People,
            ["channels"] => Route::Channels,
            ["reports"] => Route::Reports,
            ["lab"] => Route::Lab,
            ["settings"] => Route::Settings,
            _ => Route::NotFound(path.to_string()),
        }
    }

    /// The path of this route (`/incidents/42`), ids escaped.
    pub fn path(&self) -> String {
        let with_id = |base: &str, id: &str| format!("/{base}/{}", utf8_percent_encode(id, SEGMENT));
        match self {
            Route::Incidents => "/incidents".into(),
            Route::NewIncident => "/new".into(),
            Route::Incident(id) => with_id("incidents", id),
            Route::Policies => "/policies".into(),
            Route::Policy(id) => with_id("policies", id),
            Route::Schedules => "/schedules".into(),
            Route::Schedule(id) => with_id("schedules", id),
            Route::Teams => "/teams".into(),
            Route::Rules => "/rules".into(),
            Route::People => "/people".into(),
            Route::Channels => "/channels".into(),
            Route::Reports => "/reports".into(),
            Route::Lab => "/lab".into(),
            Route::Settings => "/settings".into(),
            Route::NotFound(path) => path.clone(),
        }
    }

    /// A link to this route inside the page (`#/incidents/42`): following it never reloads.
    pub fn href(&self) -> String {
        format!("#{}", self.path())
    }

    /// The full address of this route on the host at `origin` (`https://host/#/incidents/42`), for
    /// pages, posts and notifications.
    pub fn url(&self, origin: &str) -> String {
        format!("{}/#{}", origin.trim_end_matches('/'), self.path())
    }

    pub fn screen(&self) -> Screen {
        match self {
            Route::Incidents => Screen::Incidents,
            Route::NewIncident => Screen::NewIncident,
            Route::Incident(_) => Screen::Incident,
            Route::Policies => Screen::Policies,
            Route::Policy(_) => Screen::Policy,
            Route::Schedules => Screen::Schedules,
            Route::Schedule(_) => Screen::Schedule,
            Route::Teams => Screen::Teams,
            Route::Rules => Screen::Rules,
            Route::People => Screen::People,
            Route::Channels => Screen::Channels,
            Route::Reports => Screen::Reports,
            Route::Lab => Screen::Lab,
            Route::Settings => Screen::Settings,
            Route::NotFound(_) => Screen::NotFound,
        }
    }

    /// The id in this route, if it has one.
    pub fn id(&self) -> Option<&str> {
        match self {
            Route::Incident(id) | Route::Policy(id) | Route::Schedule(id) => Some(id),
            _ => None,
        }
    }

    /// Which entry of the main navigation this route belongs to (its own screen, or the list an
    /// editor or page belongs to).
    pub fn section(&self) -> Screen {
        match self.screen() {
            Screen::NewIncident | Screen::Incident => Screen::Incidents,
            Screen::Policy => Screen::Policies,
            Screen::Schedule => Screen::Schedules,
            other => other,
        }
    }
}

/// Where the page is: a route and the query after it (`#/new?title=…` → `title=…`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Address {
    pub route: Route,
    /// The query string after the route's `?`, still escaped (empty when none).
    pub query: String,
}

impl Address {
    /// The address held in a fragment: `#/new?title=x`, `/new?title=x`, `#` or nothing (the
    /// Incidents screen). A fragment that is not a route (`#main`, an in-page anchor) is `None`.
    pub fn from_fragment(fragment: &str) -> Option<Address> {
        let rest = fragment.strip_prefix('#').unwrap_or(fragment);
        if rest.is_empty() {
            return Some(Address::default());
        }
        if !rest.starts_with('/') {
            return None;
        }
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        Some(Address { route: Route::parse(path), query: query.to_string() })
    }

    /// A path link (`/incidents/42?ack=1`) as an address, for hosts that answered it with the
    /// app. `None` for the app's own entry (`/`, `/index.html`) and paths no screen answers.
    pub fn from_path(path: &str, search: &str) -> Option<Address> {
        if matches!(path, "" | "/" | "/index.html" | "/404.html") {
            return None;
        }
        match Route::parse(path) {
            Route::NotFound(_) => None,
            route => Some(Address { route, query: search.trim_start_matches('?').to_string() }),
        }
    }

    /// The fragment for this address (`#/new?title=x`).
    pub fn fragment(&self) -> String {
        if self.query.is_empty() {
            self.route.href()
        } else {
            format!("{}?{}", self.route.href(), self.query)
        }
    }

    /// A query parameter, decoded (`+` is a space), or `None` when absent.
    pub fn param(&self, key: &str) -> Option<String> {
        self.query.split('&').filter_map(|kv| kv.split_once('=').or(Some((kv, "")))).find(|(k, _)| *k == key).map(|(_, v)| {
            let v = v.replace('+', " ");
            percent_decode_str(&v).decode_utf8_lossy().into_owned()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_round_trips_through_its_fragment() {
        let routes = [
            Route::Incidents,
            Route::NewIncident,
            Route::Incident("inc-1".into()),
            Route::Incident("a b/c?d#e%f".into()),
            Route::Policies,
            Route::Policy("new".into()),
            Route::Policy("example-policy".into()),
            Route::Schedules,
            Route::Schedule("example-primary".into()),
            Route::Teams,
            Route::Rules,
            Route::People,
            Route::Channels,
            Route::Reports,
            Route::Lab,
            Route::Settings,
        ];
        for route in routes {
            let back = Address::from_fragment(&route.href()).expect("a route's fragment parses");
            assert_eq!(back.route, route, "{}", route.href());
            assert!(back.query.is_empty());
        }
    }

    #[test]
    fn fragments_parse_with_their_query_and_tolerate_slashes() {
        let a = Address::from_fragment("#/new?title=Disk+full&severity=sev2").unwrap();
        assert_eq!(a.route, Route::NewIncident);
        assert_eq!(a.param("title").as_deref(), Some("Disk full"));
        assert_eq!(a.param("severity").as_deref(), Some("sev2"));
        assert_eq!(a.param("missing"), None);
        assert_eq!(a.fragment(), "#/new?title=Disk+full&severity=sev2");
        assert_eq!(Address::from_fragment("#/incidents/x%20y/").unwrap().route, Route::Incident("x y".into()));
        assert_eq!(Address::from_fragment("").unwrap().route, Route::Incidents);
        assert_eq!(Address::from_fragment("#").unwrap().route, Route::Incidents);
        assert_eq!(Address::from_fragment("#/").unwrap().route, Route::Incidents);
        assert_eq!(Address::from_fragment("#/incidents/1?ack=1&by=alice").unwrap().param("by").as_deref(), Some("alice"));
        assert_eq!(Address::from_fragment("#main"), None, "an in-page anchor is not a route");
        assert_eq!(Address::from_fragment("#/nope/at/all").unwrap().route, Route::NotFound("/nope/at/all".into()));
    }

    #[test]
    fn path_links_are_adopted_only_when_a_screen_answers_them() {
        let a = Address::from_path("/incidents/42", "?ack=1").unwrap();
        assert_eq!(a.route, Route::Incident("42".into()));
        assert_eq!(a.fragment(), "#/incidents/42?ack=1");
        assert_eq!(Address::from_path("/", ""), None);
        assert_eq!(Address::from_path("/index.html", ""), None);
        assert_eq!(Address::from_path("/ack/", ""), None);
        assert_eq!(Address::from_path("/favicon.ico", ""), None);
    }

    #[test]
    fn full_urls_point_at_the_fragment_on_the_host() {
        assert_eq!(Route::Incident("inc-1".into()).url("https://piket.example/"), "https://piket.example/#/incidents/inc-1");
        assert_eq!(Route::Incident("inc-1".into()).section(), Screen::Incidents);
        assert_eq!(Route::Policy("p".into()).section(), Screen::Policies);
        assert_eq!(Route::Policy("p".into()).id(), Some("p"));
    }
}
