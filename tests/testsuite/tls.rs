//! `terminus serve --tls`: HTTPS with a leaf issued by a CA generated on first use, trusted through its exported
//! certificate only.

use std::sync::Arc;
use std::time::Duration;

use terminus::mock::MockServer;
use terminus::provider::is_provider_host;
use terminus::tls::{Authority, Trust};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DEADLINE: Duration = Duration::from_secs(20);

/// Sends one request over TLS (`server_name` checked against the leaf) and reads until the server closes.
async fn get_over_tls(
    server: &MockServer,
    trust: &Trust,
    server_name: &str,
) -> std::io::Result<String> {
    let config = trust.client_config().expect("client configuration");
    let mut stream = terminus::tls::connect(server.address(), server_name, config).await?;
    let request = format!(
        "GET /__terminus/clock HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        server.address()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

#[tokio::test]
async fn serve_tls_answers_clients_that_trust_the_exported_ca_and_only_them() {
    let authority = Authority::generate().unwrap();
    let server = MockServer::builder()
        .tls(authority.server_config(Arc::new(is_provider_host)))
        .start()
        .unwrap();
    assert!(
        server.uri().starts_with("https://127.0.0.1:"),
        "{}",
        server.uri()
    );

    let dir = std::env::temp_dir().join(format!("terminus-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    authority.write_certificate(&ca).unwrap();
    let trusting = Trust::from_ca_file(Some(&ca)).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();

    for name in ["127.0.0.1", "localhost", "cvm.tencentcloudapi.com"] {
        let answer = tokio::time::timeout(DEADLINE, get_over_tls(&server, &trusting, name))
            .await
            .expect("deadline")
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        assert!(answer.starts_with("HTTP/1.1 200"), "{name}: {answer}");
        assert!(answer.contains("\"now\""), "{name}: {answer}");
    }

    // The public roots do not include a CA generated a moment ago.
    let public = Trust::from_ca_file(None).unwrap();
    let refused = tokio::time::timeout(DEADLINE, get_over_tls(&server, &public, "127.0.0.1"))
        .await
        .expect("deadline");
    assert!(refused.is_err(), "{refused:?}");
    // Nor is a leaf minted for a name outside the providers' domains.
    let other = tokio::time::timeout(DEADLINE, get_over_tls(&server, &trusting, "example.com"))
        .await
        .expect("deadline");
    assert!(other.is_err(), "{other:?}");
}

#[test]
fn provider_hosts_include_the_failover_roots_and_nothing_that_merely_ends_like_them() {
    for host in [
        "cvm.tencentcloudapi.com",
        "cvm.ap-guangzhou.tencentcloudapi.com",
        "cvm.tencentcloudapi.com.cn",
        "cvm.tencentcloudapi.cn",
        "cvm.intl.tencentcloudapi.com",
        "cvm.api.qcloud.com",
        "console.zenlayer.com",
        "CVM.TencentCloudAPI.com.",
    ] {
        assert!(is_provider_host(host), "{host}");
    }
    for host in [
        "eviltencentcloudapi.com",
        "tencentcloudapi.com.evil.example",
        "example.com",
        "zenlayer.com",
        ".tencentcloudapi.com",
        "",
    ] {
        assert!(!is_provider_host(host), "{host}");
    }
}
