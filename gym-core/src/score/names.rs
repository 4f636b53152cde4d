//! Matching the service names a report uses against the topology.

use otrashi_scenarios::model::Topology;

/// The topology's name for `name`: exact, else ignoring case, separators (`_`, space)
/// and a `-service` / `-svc` suffix (`Cart Service` → `cart`). A name an agent
/// mistyped in a way that changes letters does not resolve: it is a nonexistent
/// component.
pub(crate) fn resolve<'t>(name: &str, topology: &'t Topology) -> Option<&'t str> {
    if let Some(s) = topology.service(name) {
        return Some(s.name.as_str());
    }
    let loose: String = name
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| {
            if c == '_' || c.is_whitespace() {
                '-'
            } else {
                c
            }
        })
        .collect();
    let candidates = [
        Some(loose.as_str()),
        loose.strip_suffix("-service"),
        loose.strip_suffix("-svc"),
    ];
    for candidate in candidates.into_iter().flatten() {
        if let Some(s) = topology
            .services
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(candidate))
        {
            return Some(s.name.as_str());
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;
    use crate::score::fixture::shop;

    #[test]
    fn loose_service_names_resolve() {
        let t = shop();
        assert_eq!(resolve("cart", &t), Some("cart"));
        assert_eq!(resolve(" Cart ", &t), Some("cart"));
        assert_eq!(resolve("cart-service", &t), Some("cart"));
        assert_eq!(resolve("Cart Service", &t), Some("cart"));
        assert_eq!(resolve("carts", &t), None);
        assert_eq!(resolve("", &t), None);
    }
}
