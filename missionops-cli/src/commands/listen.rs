//! The listening socket of `serve`, with a deeper accept queue than the standard library's.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};

/// Connections the kernel may hold completed but not yet accepted. The standard library (and
/// so `TcpListener::bind`) asks for 128, and a burst of connects beyond that waits for a SYN
/// retransmission, about a second: 9 of 2,000 rapid connects did. Linux caps the value at
/// `net.core.somaxconn` (4,096 by default since 5.4).
pub(crate) const BACKLOG: u32 = 1024;

/// Listens on `address` (`HOST:PORT`; a name is resolved, and the first address that can be
/// bound wins) with an accept queue of [`BACKLOG`].
pub(crate) async fn listen(address: &str) -> std::io::Result<TcpListener> {
    let mut last_error = None;
    for addr in tokio::net::lookup_host(address).await? {
        match listen_on(addr) {
            Ok(listener) => return Ok(listener),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the address resolves to nothing",
        )
    }))
}

fn listen_on(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As `TcpListener::bind` does on Unix: a restarted server can bind while connections of
    // the previous one are in TIME_WAIT.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn listens_on_a_resolved_address_and_accepts() {
        let listener = listen("localhost:0").await.expect("listen");
        let address = listener.local_addr().expect("address");
        assert!(address.ip().is_loopback());
        let (connected, accepted) =
            tokio::join!(tokio::net::TcpStream::connect(address), listener.accept());
        connected.expect("connect");
        accepted.expect("accept");
    }

    /// With the standard library's 128, connects past the 129th wait (the kernel drops their
    /// SYN while the accept queue is full) and this test times out.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_accept_queue_holds_a_burst_of_connects_nobody_accepts_yet() {
        let listener = listen("127.0.0.1:0").await.expect("listen");
        let address = listener.local_addr().expect("address");
        let connects = (0..400).map(|_| tokio::net::TcpStream::connect(address));
        let all = futures_join_all(connects);
        let streams = tokio::time::timeout(std::time::Duration::from_millis(800), all)
            .await
            .expect("every connect completes without waiting for a SYN retransmission");
        assert!(streams.iter().all(Result::is_ok));
        drop(listener);
    }

    /// Awaits all of `futures` concurrently, in order.
    async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let handles: Vec<_> = futures.map(tokio::spawn).collect();
        let mut out = Vec::with_capacity(handles.len());
        for handle in handles {
            out.push(handle.await.expect("task"));
        }
        out
    }

    #[tokio::test]
    async fn an_address_that_does_not_parse_is_an_error() {
        assert!(listen("not an address").await.is_err());
    }
}
