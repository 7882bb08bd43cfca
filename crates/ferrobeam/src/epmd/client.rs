//! The EPMD client: register a node, look up a node's port, list names.
//!
//! Works with OTP's `epmd` and with ferrobeam's [`EpmdServer`](super::EpmdServer) alike.
//! Every operation opens its own connection, as `erl` does; a registration keeps its
//! connection for the life of the [`Registration`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), ferrobeam::epmd::ClientError> {
//! use ferrobeam::epmd::EpmdClient;
//!
//! let epmd = EpmdClient::from_env(); // ERL_EPMD_PORT, else 4369
//! let reg = epmd.register("chat", 40001, ferrobeam::epmd::NODE_TYPE_NORMAL).await?;
//! println!("registered with creation {}", reg.creation());
//! if let Some(node) = epmd.port_please("localhost", "chat").await? {
//!     println!("chat listens on port {}", node.port);
//! }
//! for (name, port) in ferrobeam::epmd::names("localhost", epmd.port()).await? {
//!     println!("name {name} at port {port}");
//! }
//! drop(reg); // closes the connection: EPMD forgets the name
//! # Ok(()) }
//! ```

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use ferrobeam_proto::epmd::{
    AliveResp, DumpResp, EpmdError, KillResp, NamesResp, NodeInfo, Port2Resp, Request, StopResp,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The default time an EPMD operation may take, as `erl` waits for EPMD.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest NAMES or DUMP answer the client reads.
pub const MAX_RESPONSE_LEN: usize = 4 * 1024 * 1024;

/// What can go wrong when talking to EPMD.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No EPMD accepts connections at that address.
    #[error("cannot connect to EPMD at {addr}: {source}")]
    Connect {
        /// The address tried last.
        addr: String,
        /// Why the connection failed.
        source: io::Error,
    },
    /// The host name does not resolve.
    #[error("cannot resolve host {0:?}")]
    Resolve(String),
    /// Reading or writing failed after connecting.
    #[error("EPMD I/O error: {0}")]
    Io(#[from] io::Error),
    /// EPMD did not answer in time.
    #[error("EPMD did not answer within {0:?}")]
    Timeout(Duration),
    /// EPMD's answer does not follow the protocol, or the request could not be encoded.
    #[error("EPMD protocol error: {0}")]
    Protocol(#[from] EpmdError),
    /// EPMD closed the connection without answering (for example a request it refuses).
    #[error("EPMD closed the connection without answering")]
    Closed,
    /// EPMD refused the registration: the name is taken.
    #[error("the name {0:?} is already registered with EPMD")]
    NameTaken(String),
    /// EPMD's answer exceeds [`MAX_RESPONSE_LEN`].
    #[error("EPMD's answer exceeds {0} bytes")]
    TooLarge(usize),
}

/// A client of one EPMD port. Cheap to copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpmdClient {
    port: u16,
    timeout: Duration,
}

impl EpmdClient {
    /// A client of the EPMDs that listen on `port`.
    pub fn new(port: u16) -> Self {
        EpmdClient {
            port,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// A client of the port in `ERL_EPMD_PORT`, else 4369 (see [`super::port_from_env`]).
    pub fn from_env() -> Self {
        EpmdClient::new(super::port_from_env())
    }

    /// The same client with another time limit for each operation.
    pub fn with_timeout(self, timeout: Duration) -> Self {
        EpmdClient { timeout, ..self }
    }

    /// The EPMD port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Registers a node named `name` that accepts distribution connections on `listen_port`,
    /// with node type [`NODE_TYPE_NORMAL`](super::NODE_TYPE_NORMAL) or
    /// [`NODE_TYPE_HIDDEN`](super::NODE_TYPE_HIDDEN), distribution versions 6 and 5.
    pub async fn register(
        &self,
        name: &str,
        listen_port: u16,
        node_type: u8,
    ) -> Result<Registration, ClientError> {
        let mut info = NodeInfo::new(name, listen_port);
        info.node_type = node_type;
        self.register_node(info).await
    }

    /// Registers a node with EPMD on this host (at `127.0.0.1`, as `erl` registers).
    ///
    /// The registration lasts as long as the returned [`Registration`].
    pub async fn register_node(&self, info: NodeInfo) -> Result<Registration, ClientError> {
        let name = info.name.clone();
        let request = Request::Alive2(info).encode()?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        self.timed(async {
            let mut stream = connect_addr(addr).await?;
            stream.write_all(&request).await?;
            let mut buf = Vec::with_capacity(8);
            let resp = loop {
                if let Some((resp, _)) = AliveResp::decode(&buf)? {
                    break resp;
                }
                let mut chunk = [0u8; 8];
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err(ClientError::Closed);
                }
                buf.extend_from_slice(&chunk[..n]);
            };
            if !resp.is_ok() {
                return Err(ClientError::NameTaken(name));
            }
            Ok(Registration {
                stream,
                name,
                response: resp,
                epmd_port: self.port,
            })
        })
        .await
    }

    /// Looks up the node registered as `name` with the EPMD on `host`. `Ok(None)` when no
    /// such node is registered.
    pub async fn port_please(
        &self,
        host: &str,
        name: &str,
    ) -> Result<Option<NodeInfo>, ClientError> {
        let request = Request::PortPlease2 {
            name: name.to_owned(),
        }
        .encode()?;
        self.timed(async {
            let mut stream = self.connect(host).await?;
            stream.write_all(&request).await?;
            let mut buf = Vec::with_capacity(64);
            loop {
                if let Some((resp, _)) = Port2Resp::decode(&buf)? {
                    return Ok(match resp {
                        Port2Resp::Found(info) => Some(info),
                        Port2Resp::NotFound(_) => None,
                    });
                }
                let mut chunk = [0u8; 512];
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err(if buf.is_empty() {
                        ClientError::Closed
                    } else {
                        EpmdError::Truncated("PORT2_RESP").into()
                    });
                }
                // A PORT2_RESP is at most 2 + 12 + 1020 + 1020 bytes; decode errors out
                // before the buffer could grow past that.
                buf.extend_from_slice(&chunk[..n]);
            }
        })
        .await
    }

    /// Looks up a node by its full name `name@host`.
    pub async fn port_please_node(&self, node: &str) -> Result<Option<NodeInfo>, ClientError> {
        let (name, host) = split_node_name(node).ok_or(ClientError::Protocol(
            EpmdError::InvalidName("a node name is name@host"),
        ))?;
        self.port_please(host, name).await
    }

    /// The names registered with the EPMD on `host`, newest first.
    pub async fn names(&self, host: &str) -> Result<NamesResp, ClientError> {
        let bytes = self.simple(host, Request::Names).await?;
        Ok(NamesResp::decode(&bytes)?)
    }

    /// EPMD's DUMP listing of `host` (only answered to local clients).
    pub async fn dump(&self, host: &str) -> Result<DumpResp, ClientError> {
        let bytes = self.simple(host, Request::Dump).await?;
        Ok(DumpResp::decode(&bytes)?)
    }

    /// Asks the EPMD on `host` to exit (only answered to local clients).
    pub async fn kill(&self, host: &str) -> Result<KillResp, ClientError> {
        let bytes = self.simple(host, Request::Kill).await?;
        Ok(KillResp::decode(&bytes)?)
    }

    /// Asks the EPMD on `host` to unregister `name` by force. EPMDs without relaxed command
    /// checking close the connection: [`ClientError::Closed`].
    pub async fn stop(&self, host: &str, name: &str) -> Result<StopResp, ClientError> {
        let bytes = self
            .simple(
                host,
                Request::Stop {
                    name: name.to_owned(),
                },
            )
            .await?;
        Ok(StopResp::decode(&bytes)?)
    }

    /// Sends a request and reads the answer until EPMD closes the connection.
    async fn simple(&self, host: &str, request: Request) -> Result<Vec<u8>, ClientError> {
        let request = request.encode()?;
        self.timed(async {
            let mut stream = self.connect(host).await?;
            stream.write_all(&request).await?;
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let n = match stream.read(&mut chunk).await {
                    Ok(n) => n,
                    // A reset after a complete answer still leaves the answer usable.
                    Err(e) if e.kind() == io::ErrorKind::ConnectionReset && !buf.is_empty() => 0,
                    Err(e) => return Err(e.into()),
                };
                if n == 0 {
                    break;
                }
                if buf.len() + n > MAX_RESPONSE_LEN {
                    return Err(ClientError::TooLarge(MAX_RESPONSE_LEN));
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            if buf.is_empty() {
                return Err(ClientError::Closed);
            }
            Ok(buf)
        })
        .await
    }

    async fn connect(&self, host: &str) -> Result<TcpStream, ClientError> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, self.port))
            .await
            .map_err(|_| ClientError::Resolve(host.to_owned()))?
            .collect();
        let mut last = ClientError::Resolve(host.to_owned());
        for addr in addrs {
            match connect_addr(addr).await {
                Ok(s) => return Ok(s),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    async fn timed<T>(
        &self,
        fut: impl std::future::Future<Output = Result<T, ClientError>>,
    ) -> Result<T, ClientError> {
        tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| ClientError::Timeout(self.timeout))?
    }
}

async fn connect_addr(addr: SocketAddr) -> Result<TcpStream, ClientError> {
    let s = TcpStream::connect(addr)
        .await
        .map_err(|source| ClientError::Connect {
            addr: addr.to_string(),
            source,
        })?;
    let _ = s.set_nodelay(true);
    Ok(s)
}

/// The names registered with the EPMD on `host:port`, newest first, as `(name, port)`.
pub async fn names(host: &str, port: u16) -> Result<Vec<(String, u16)>, ClientError> {
    let resp = EpmdClient::new(port).names(host).await?;
    Ok(resp.nodes.into_iter().map(|n| (n.name, n.port)).collect())
}

/// Splits `name@host` into `("name", "host")`. `None` without an `@` or with an empty part.
pub fn split_node_name(node: &str) -> Option<(&str, &str)> {
    let (name, host) = node.split_once('@')?;
    (!name.is_empty() && !host.is_empty()).then_some((name, host))
}

/// A node's registration with EPMD. It lasts exactly as long as this value: dropping it
/// closes the connection, and EPMD forgets the name.
#[derive(Debug)]
pub struct Registration {
    stream: TcpStream,
    name: String,
    response: AliveResp,
    epmd_port: u16,
}

impl Registration {
    /// The registered name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The creation EPMD gave the node: its incarnation number, for pids, ports and refs.
    pub fn creation(&self) -> u32 {
        self.response.creation()
    }

    /// EPMD's answer as received (`ALIVE2_X_RESP`, or the old `ALIVE2_RESP`).
    pub fn response(&self) -> AliveResp {
        self.response
    }

    /// The port of the EPMD that holds the registration.
    pub fn epmd_port(&self) -> u16 {
        self.epmd_port
    }

    /// Waits until EPMD ends the registration: it closed the connection (it exited, or a
    /// `STOP_REQ` removed the name) or broke the protocol by sending data.
    pub async fn closed(&mut self) -> io::Result<()> {
        let mut buf = [0u8; 16];
        loop {
            match self.stream.read(&mut buf).await {
                Ok(0) => return Ok(()),
                Ok(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "EPMD sent data on a registration connection",
                    ))
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Ends the registration now.
    pub async fn unregister(mut self) {
        let _ = self.stream.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names() {
        assert_eq!(split_node_name("a@b"), Some(("a", "b")));
        assert_eq!(split_node_name("a@b@c"), Some(("a", "b@c")));
        assert_eq!(split_node_name("a"), None);
        assert_eq!(split_node_name("@b"), None);
        assert_eq!(split_node_name("a@"), None);
    }
}
