//! No secret in a URL or a log: `up -vv` against the fakes prints neither the generated
//! password nor any token KubeFATE issued, nor does the run's own log in the state dir, and no
//! request carries the token in its URL.

mod support;

use support::host::run;
use support::lab::Lab;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_at_high_verbosity_prints_no_secret() {
    let lab = Lab::start("secrets").await;
    for verbosity in ["-vv", "-vvv"] {
        let out = run(lab.up(&["--no-test", verbosity])).await.success();
        let output = out.get_output();
        // What the terminal showed, and every run's own log in the state dir.
        let mut printed = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let runs: Vec<_> = std::fs::read_dir(lab.state().join("runs"))
            .unwrap()
            .flatten()
            .collect();
        assert!(!runs.is_empty(), "each up leaves its log");
        for log in runs {
            printed += &std::fs::read_to_string(log.path()).unwrap();
        }
        let creds: serde_json::Value =
            serde_json::from_slice(&std::fs::read(lab.state().join("credentials.json")).unwrap())
                .unwrap();
        for key in ["kubefate_password", "mariadb_password"] {
            let secret = creds[key].as_str().unwrap();
            assert!(!printed.contains(secret), "{verbosity} printed {key}");
        }
        // Every token the fake KubeFATE issues starts with this JWT header.
        assert!(
            !printed.contains("eyJhbGciOiJIUzI1NiJ9"),
            "{verbosity} printed a token"
        );
        if verbosity == "-vvv" {
            assert!(
                printed.contains("DEBUG"),
                "-vvv shows the libraries' debug logs"
            );
        }
    }
    assert!(lab.kubefate.logins() >= 1);
    let in_urls: Vec<String> = lab
        .kube
        .requests()
        .into_iter()
        .filter(|r| r.contains("token="))
        .collect();
    assert_eq!(
        in_urls,
        Vec::<String>::new(),
        "the token travels as a cookie"
    );
    assert!(
        lab.kube
            .proxied_headers()
            .iter()
            .flatten()
            .any(|h| h.starts_with("cookie: jwt=")),
        "{:?}",
        lab.kube.proxied_headers()
    );
}
