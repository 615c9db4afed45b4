//! The steps of `up` by name, for `--until` and for the plan's and the record's words.

/// One step of `up`, in the order it takes them. On existing clusters some steps check instead
/// of make, under the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepName {
    Preflight,
    Minikube,
    Ingress,
    Hosts,
    Artifacts,
    Images,
    Packages,
    Brokers,
    Proxy,
    Kubefate,
    Parties,
    Serving,
    Test,
}

impl StepName {
    pub fn as_str(self) -> &'static str {
        match self {
            StepName::Preflight => "preflight",
            StepName::Minikube => "minikube",
            StepName::Ingress => "ingress",
            StepName::Hosts => "hosts",
            StepName::Artifacts => "artifacts",
            StepName::Images => "images",
            StepName::Packages => "packages",
            StepName::Brokers => "brokers",
            StepName::Proxy => "proxy",
            StepName::Kubefate => "kubefate",
            StepName::Parties => "parties",
            StepName::Serving => "serving",
            StepName::Test => "test",
        }
    }
}

impl std::fmt::Display for StepName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
