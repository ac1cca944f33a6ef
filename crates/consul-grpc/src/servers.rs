//! From the v0.10 config's `consulServers` (and the CA PEM variables) to how to reach the
//! servers: the gRPC connection settings, and the HTTP(S) client of the server in use.
//! One mapping for every caller (mesh-init, health-sync, the controller).

use std::net::SocketAddr;
use std::path::PathBuf;

use config::dataplane::{ConsulServers, HTTPS_CA_PEM_ENV};
use consul::{ClientConfig, ConsulError};

use crate::{ConnectSettings, DiscoveryError, GrpcTls, ServerHosts};

/// How to reach `servers` over gRPC: the hosts, `grpc.port`, TLS from `grpc.*` over
/// `defaults.*` (the CA of `CONSUL_GRPC_CACERT_PEM`, read through `lookup`, wins over the
/// file), and `skipServerWatch`. consul-server-connection-manager's timings otherwise.
pub fn connect_settings(
    servers: &ConsulServers,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<ConnectSettings, DiscoveryError> {
    let hosts = ServerHosts::parse(&servers.hosts)?;
    let tls = servers.grpc_tls();
    let tls = tls.enabled.then(|| {
        GrpcTls {
            ca_file: tls.ca_cert_file.map(PathBuf::from),
            ca_pem: None,
            server_name: tls.server_name.map(str::to_owned),
        }
        .with_pem_from(&lookup)
    });
    let mut settings = ConnectSettings::new(hosts, servers.grpc_port(), tls);
    settings.skip_server_watch = servers.skip_server_watch;
    Ok(settings)
}

/// The HTTP(S) client settings of the server whose gRPC address is `grpc_address`: its IP
/// on `http.port`, HTTPS per `http.https`, TLS from `http.*` over `defaults.*` (the CA of
/// `CONSUL_HTTPS_CACERT_PEM`, read through `lookup`, wins over the file). The servers are
/// dialled by IP address, so without a `tlsServerName` their certificate is checked against
/// the `hosts` name, as for gRPC. Token, tenancy and timeout are the caller's to add.
pub fn http_config(
    servers: &ConsulServers,
    grpc_address: SocketAddr,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<ClientConfig, ConsulError> {
    let tls = servers.http_tls();
    let scheme = if tls.enabled { "https" } else { "http" };
    let address = SocketAddr::new(grpc_address.ip(), servers.http_port());
    let mut settings = ClientConfig::default().with_address(&format!("{scheme}://{address}"))?;
    if tls.enabled {
        let name = tls.server_name.map(str::to_owned).or_else(|| {
            ServerHosts::parse(&servers.hosts)
                .ok()?
                .default_tls_server_name()
        });
        settings = settings.with_tls_server_name(name);
        settings = match lookup(HTTPS_CA_PEM_ENV).filter(|p| !p.trim().is_empty()) {
            Some(pem) => settings.with_ca_pem(pem),
            None => settings.with_ca_file(tls.ca_cert_file),
        };
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn servers(json: &str) -> ConsulServers {
        let text = format!(r#"{{"bootstrapDir":"/consul","consulServers":{json}}}"#);
        config::dataplane::parse(&text).unwrap().consul_servers
    }

    #[test]
    fn grpc_settings_from_the_config_and_the_pem_variable() {
        let s = servers(
            r#"{"hosts":"consul.example.com","skipServerWatch":true,"grpc":{"port":8502,"caCertFile":"/ca.pem"}}"#,
        );
        let settings = connect_settings(&s, |_| None).unwrap();
        assert_eq!(settings.grpc_port, 8502);
        assert!(settings.skip_server_watch);
        let tls = settings.tls.unwrap();
        assert_eq!(tls.ca_file, Some(PathBuf::from("/ca.pem")));
        assert_eq!(tls.ca_pem, None);
        let pem = |name: &str| (name == crate::GRPC_CACERT_PEM_ENV).then(|| "PEM".to_string());
        assert_eq!(
            connect_settings(&s, pem)
                .unwrap()
                .tls
                .unwrap()
                .ca_pem
                .as_deref(),
            Some("PEM")
        );
        let plain = servers(r#"{"hosts":"10.0.0.1","defaults":{"tls":false}}"#);
        assert!(connect_settings(&plain, |_| None).unwrap().tls.is_none());
    }

    #[test]
    fn http_settings_of_the_server_in_use() {
        let grpc: SocketAddr = "10.0.0.7:8503".parse().unwrap();
        let s = servers(r#"{"hosts":"consul.example.com","http":{"caCertFile":"/ca.pem"}}"#);
        let settings = http_config(&s, grpc, |_| None).unwrap();
        assert_eq!(settings.address.as_str(), "https://10.0.0.7:8501/");
        assert_eq!(
            settings.tls_server_name.as_deref(),
            Some("consul.example.com")
        );
        assert_eq!(settings.ca_file, Some(PathBuf::from("/ca.pem")));
        let pem = |name: &str| (name == HTTPS_CA_PEM_ENV).then(|| "PEM".to_string());
        let settings = http_config(&s, grpc, pem).unwrap();
        assert_eq!(settings.ca_pem.as_deref(), Some("PEM"));
        assert_eq!(settings.ca_file, None);
        let plain = servers(r#"{"hosts":"10.0.0.1","http":{"https":false,"port":8500}}"#);
        let settings = http_config(&plain, grpc, |_| None).unwrap();
        assert_eq!(settings.address.as_str(), "http://10.0.0.7:8500/");
        assert_eq!(settings.tls_server_name, None);
    }
}
