//! Which versions go together: a KubeFATE release, a minikube, and the Kubernetes it starts.

use semver::Version;

#[cfg(test)]
use crate::model::catalog::version::parse as parse_semver;
use crate::model::catalog::{self, Minor, Release};

/// The catalog row for a minikube version: the nearest listed release at or below it.
pub fn minikube_row(v: &Version) -> Option<(Version, Version)> {
    catalog::minikube_rows()
        .iter()
        .filter(|r| r.version.0 <= *v)
        .map(|r| {
            (
                r.version.0.clone(),
                r.default_kubernetes.0.clone(),
                r.oldest_kubernetes.0.clone(),
            )
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, default, oldest)| (default, oldest))
}

/// Namespace and name of the ingress addon's controller Deployment, which moved twice in
/// minikube's history.
pub fn ingress_controller(minikube: &Version) -> (&'static str, &'static str) {
    match (minikube.major, minikube.minor) {
        v if v < (1, 10) => ("kube-system", "nginx-ingress-controller"),
        v if v < (1, 19) => ("kube-system", "ingress-nginx-controller"),
        _ => ("ingress-nginx", "ingress-nginx-controller"),
    }
}

pub fn release_allows(release: &Release, k8s: &Version) -> bool {
    let k8s = Minor::of(k8s);
    k8s >= release.kubernetes.min && release.kubernetes.max.is_none_or(|m| k8s <= m)
}

/// The Kubernetes version `up` asks minikube for: the user's, else the tutorial's pin for the
/// tutorial's minikube, else the release's recommendation, else (when that minikube cannot run
/// it) the minikube's own default if the release allows it.
pub fn choose_kubernetes(
    release: &Release,
    minikube: &Version,
    wanted: Option<&Version>,
) -> Version {
    if let Some(w) = wanted {
        return w.clone();
    }
    if let Some(t) = &release.tutorial
        && t.minikube.0 == *minikube
    {
        return t.kubernetes.0.clone();
    }
    let recommended = release.recommended.kubernetes.0.clone();
    match minikube_row(minikube) {
        Some((default, oldest)) => {
            let runnable = recommended >= oldest && Minor::of(&recommended) <= Minor::of(&default);
            if !runnable && release_allows(release, &default) {
                default
            } else {
                recommended
            }
        }
        None => recommended,
    }
}

/// Why a Kubernetes version does not fit the release or the minikube, if it does not.
pub fn problems(release: &Release, minikube: Option<&Version>, k8s: &Version) -> Vec<String> {
    let mut out = Vec::new();
    if !release_allows(release, k8s) {
        out.push(format!(
            "KubeFATE {} needs {}, not v{k8s}{}",
            release.release,
            release.kubernetes.describe(),
            if release.ingress.api_version.ends_with("v1beta1") {
                " (its Ingresses use networking.k8s.io/v1beta1, removed in Kubernetes 1.22)"
            } else {
                ""
            }
        ));
    }
    if let Some(mk) = minikube
        && let Some((default, oldest)) = minikube_row(mk)
    {
        if *k8s < oldest {
            out.push(format!(
                "minikube v{mk} refuses Kubernetes older than v{oldest} (K8S_OLD_UNSUPPORTED)"
            ));
        }
        if Minor::of(k8s) > Minor::of(&default) {
            out.push(format!(
                "minikube v{mk} predates Kubernetes v{k8s} (its default is v{default})"
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        parse_semver(s).unwrap()
    }

    #[test]
    fn controller_location_by_version() {
        assert_eq!(
            ingress_controller(&v("v1.7.3")),
            ("kube-system", "nginx-ingress-controller")
        );
        assert_eq!(
            ingress_controller(&v("v1.12.0")),
            ("kube-system", "ingress-nginx-controller")
        );
        assert_eq!(
            ingress_controller(&v("v1.22.0")),
            ("ingress-nginx", "ingress-nginx-controller")
        );
    }

    #[test]
    fn choices() {
        let r = catalog::find("v1.6.0").unwrap();
        assert_eq!(
            choose_kubernetes(r, &v("v1.7.3"), None),
            v("v1.17.3"),
            "tutorial pin"
        );
        assert_eq!(choose_kubernetes(r, &v("v1.22.0"), None), v("v1.21.2"));
        assert_eq!(
            choose_kubernetes(r, &v("v1.19.0"), None),
            v("v1.20.2"),
            "minikube's default"
        );
        assert_eq!(
            choose_kubernetes(r, &v("v1.38.1"), None),
            v("v1.21.2"),
            "recommended, flagged by problems()"
        );
        assert_eq!(
            choose_kubernetes(r, &v("v1.38.1"), Some(&v("v1.19.4"))),
            v("v1.19.4")
        );
        let r2 = catalog::find("v2.0.0").unwrap();
        assert_eq!(choose_kubernetes(r2, &v("v1.38.1"), None), v("v1.35.1"));
        assert_eq!(choose_kubernetes(r2, &v("v1.36.0"), None), v("v1.33.1"));
    }

    #[test]
    fn problems_name_the_rule() {
        let r = catalog::find("v1.6.0").unwrap();
        assert!(problems(r, Some(&v("v1.22.0")), &v("v1.21.2")).is_empty());
        let p = problems(r, Some(&v("v1.38.1")), &v("v1.21.2"));
        assert!(p.iter().any(|m| m.contains("K8S_OLD_UNSUPPORTED")), "{p:?}");
        let p = problems(r, None, &v("v1.24.0"));
        assert!(p[0].contains("v1beta1"), "{p:?}");
        assert!(
            problems(
                catalog::find("v2.0.0").unwrap(),
                Some(&v("v1.38.1")),
                &v("v1.35.1")
            )
            .is_empty()
        );
    }
}
