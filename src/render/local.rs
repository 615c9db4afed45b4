//! The files of a lab of local processes: each broker's `rabbitmq.conf` and plugins, the
//! proxy's `nginx.conf`, and each FATE Flow's `service_conf.yaml` and RabbitMQ route table, as
//! shared/reference/fate-local-lab.md §3 shows them working.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::model::local::LocalPorts;

/// The RabbitMQ user FATE's tasks administer each job's vhosts, queues and upstreams with.
pub const BROKER_USER: &str = "fate";

/// The plugins FATE's `replication` mode needs: the management API (FATE drives it) and the
/// federation plugin (each broker pulls its peers' queues).
pub const ENABLED_PLUGINS: &str =
    "[rabbitmq_management,rabbitmq_federation,rabbitmq_federation_management].\n";

/// A party's broker: every listener on 127.0.0.1, and FATE's admin user made at first boot (a
/// node reads `default_user` only when it creates its database).
pub fn rabbitmq_conf(ports: &LocalPorts, password: &str) -> String {
    format!(
        "listeners.tcp.default = 127.0.0.1:{amqp}\n\
         management.tcp.ip = 127.0.0.1\n\
         management.tcp.port = {mgmt}\n\
         loopback_users = none\n\
         default_user = {BROKER_USER}\n\
         default_pass = {password}\n\
         default_user_tags.administrator = true\n\
         default_permissions.configure = .*\n\
         default_permissions.read = .*\n\
         default_permissions.write = .*\n",
        amqp = ports.amqp,
        mgmt = ports.management,
    )
}

/// The proxy FATE Flow sends every federated command to (`proxy_name: nginx`): it routes on the
/// `dest-party-id` header to that party's FATE Flow. `as_root`: nginx's workers would otherwise
/// drop to `nobody`, who cannot write the lab's temp dirs.
pub fn nginx_conf(dir: &Path, listen: u16, parties: &[(u32, u16)], as_root: bool) -> String {
    let d = dir.display();
    let routes: String = parties
        .iter()
        .map(|(id, port)| format!("        {id} 127.0.0.1:{port};\n"))
        .collect();
    format!(
        "# Written by fatelab: FATE Flow's coordination proxy for a local lab.\n\
         daemon off;\n\
         master_process on;\n\
         worker_processes 1;\n\
         {user}pid {d}/nginx.pid;\n\
         error_log {d}/error.log;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n\
         \x20   access_log {d}/access.log;\n\
         \x20   client_body_temp_path {d}/tmp/body;\n\
         \x20   proxy_temp_path {d}/tmp/proxy;\n\
         \x20   fastcgi_temp_path {d}/tmp/fastcgi;\n\
         \x20   uwsgi_temp_path {d}/tmp/uwsgi;\n\
         \x20   scgi_temp_path {d}/tmp/scgi;\n\
         \x20   map $http_dest_party_id $fateflow_http {{\n\
         \x20       default \"\";\n\
         {routes}\
         \x20   }}\n\
         \x20   server {{\n\
         \x20       listen 127.0.0.1:{listen};\n\
         \x20       client_max_body_size 0;\n\
         \x20       location / {{\n\
         \x20           if ($fateflow_http = \"\") {{ return 404; }}\n\
         \x20           proxy_pass http://$fateflow_http;\n\
         \x20           proxy_read_timeout 600s;\n\
         \x20       }}\n\
         \x20   }}\n\
         }}\n",
        user = if as_root { "user root;\n" } else { "" },
    )
}

/// Party → its broker's AMQP port, for FATE's `replication` mode (each receive queue gets an
/// upstream at the sending party's broker).
pub fn route_table(brokers: &[(u32, u16)]) -> String {
    brokers
        .iter()
        .map(|(id, port)| format!("{id}: {{host: 127.0.0.1, port: {port}}}\n"))
        .collect()
}

/// What one party's FATE Flow is told, on top of what its `init` wrote.
pub struct ServiceConf<'a> {
    pub party: u32,
    pub ports: &'a LocalPorts,
    pub proxy: u16,
    pub broker_password: &'a str,
}

/// `service_conf.yaml` as `init` wrote it, with standalone computing and storage, RabbitMQ
/// federation through the party's own broker, and the lab's nginx as the coordination proxy.
pub fn service_conf(written: &str, conf: &ServiceConf) -> Result<String> {
    let mut v: Value = super::parse_yaml(written, "FATE Flow's service_conf.yaml")?;
    let root = v
        .as_object_mut()
        .context("FATE Flow's service_conf.yaml is not a mapping")?;
    root.insert("party_id".into(), json!(conf.party.to_string()));
    let flow = root.entry("fateflow").or_insert_with(|| json!({}));
    flow["host"] = json!("127.0.0.1");
    flow["http_port"] = json!(conf.ports.http);
    flow["grpc_port"] = json!(conf.ports.grpc);
    flow["proxy_name"] = json!("nginx");
    root.insert(
        "default_engines".into(),
        json!({"computing": "standalone", "federation": "rabbitmq", "storage": "standalone"}),
    );
    let fed = root.entry("federation").or_insert_with(|| json!({}));
    fed["nginx"] = json!({
        "host": "127.0.0.1", "http_port": conf.proxy, "grpc_port": conf.proxy, "protocol": "http"
    });
    fed["rabbitmq"] = json!({
        "host": "127.0.0.1",
        "port": conf.ports.amqp,
        "mng_port": conf.ports.management,
        "user": BROKER_USER,
        "password": conf.broker_password,
        "mode": "replication",
    });
    super::to_yaml(&v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ports() -> LocalPorts {
        LocalPorts {
            http: 29310,
            grpc: 29311,
            amqp: 29312,
            management: 29313,
            dist: 29314,
        }
    }

    #[test]
    fn service_conf_keeps_the_rest_and_the_party_id_stays_a_string() {
        let written = "party_id: '9999'\nfateflow:\n  host: 127.0.0.1\n  http_port: 9380\n  proxy_name: osx\n\
                       database:\n  engine: sqlite\ndefault_engines:\n  federation: standalone\n";
        let out = service_conf(
            written,
            &ServiceConf {
                party: 10000,
                ports: &ports(),
                proxy: 29301,
                broker_password: "pw",
            },
        )
        .unwrap();
        let v = crate::render::parse_yaml(&out, "out").unwrap();
        assert_eq!(v["party_id"], json!("10000"));
        assert_eq!(v["database"]["engine"], json!("sqlite"));
        assert_eq!(v["fateflow"]["proxy_name"], json!("nginx"));
        assert_eq!(v["fateflow"]["grpc_port"], json!(29311));
        assert_eq!(v["default_engines"]["federation"], json!("rabbitmq"));
        assert_eq!(v["federation"]["rabbitmq"]["mode"], json!("replication"));
        assert_eq!(v["federation"]["nginx"]["http_port"], json!(29301));
    }

    #[test]
    fn the_proxy_routes_each_party_and_refuses_the_rest() {
        let c = nginx_conf(
            Path::new("/lab/proxy"),
            29301,
            &[(9999, 29310), (10000, 29320)],
            false,
        );
        assert!(c.contains("        9999 127.0.0.1:29310;\n"));
        assert!(c.contains("        10000 127.0.0.1:29320;\n"));
        assert!(c.contains("listen 127.0.0.1:29301;"));
        assert!(!c.contains("user root"));
        assert!(c.contains("return 404"));
        assert_eq!(
            route_table(&[(9999, 29312), (10000, 29322)]),
            "9999: {host: 127.0.0.1, port: 29312}\n10000: {host: 127.0.0.1, port: 29322}\n"
        );
    }
}
