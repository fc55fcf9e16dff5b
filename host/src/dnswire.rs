//! One DNS message to one server and its answer: the transport shared by the
//! DNS-01 checks ([`crate::dns01`]) and the plugins' `dns` import
//! ([`crate::plugins`]).
//!
//! UDP first, with the message retransmitted when no answer comes (after
//! 1 s, then 2 s, 4 s… within the time allowed), and TCP when the answer is
//! truncated or the message does not fit a datagram ([`MAX_UDP_MESSAGE`]).
//! Only an answer to this message counts: a response with its ID whose
//! question (the zone section of an UPDATE) is the message's; strays (late
//! answers to earlier messages, spoofing attempts) are ignored on UDP and an
//! error on TCP. An error answer may leave the question out (servers do for
//! FORMERR and NOTIMP).

use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Largest message sent over UDP: the EDNS payload size that avoids IP
/// fragmentation (DNS flag day 2020). Larger messages go over TCP.
pub const MAX_UDP_MESSAGE: usize = 1232;
/// First retransmission delay on UDP; doubled after each retransmission.
const FIRST_RETRANSMIT: Duration = Duration::from_secs(1);

/// Why an exchange got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Network(String),
    /// The message to send is not a DNS message.
    #[error("not a DNS message: {0}")]
    BadRequest(String),
    /// The server's answer is not a DNS message, or answers something else.
    #[error("malformed answer: {0}")]
    Malformed(String),
}

/// A server's answer: parsed, and the bytes as received.
#[derive(Debug, Clone)]
pub struct Reply {
    pub message: Message,
    pub bytes: Vec<u8>,
    /// Whether it came over TCP.
    pub tcp: bool,
}

/// Sends `request` (a complete DNS message) to `server` and waits up to
/// `timeout` for its answer.
pub async fn exchange(
    server: SocketAddr,
    request: &[u8],
    timeout: Duration,
) -> Result<Reply, WireError> {
    let query = Message::from_vec(request).map_err(|e| WireError::BadRequest(e.to_string()))?;
    if query.metadata.message_type != MessageType::Query {
        return Err(WireError::BadRequest(
            "it is a response, not a query".into(),
        ));
    }
    let deadline = Instant::now() + timeout;
    let timed_out = |_| WireError::Timeout(timeout);
    if request.len() <= MAX_UDP_MESSAGE {
        let left = deadline.saturating_duration_since(Instant::now());
        let reply = tokio::time::timeout(left, udp(server, request, &query, deadline))
            .await
            .map_err(timed_out)??;
        if !reply.message.metadata.truncation {
            return Ok(reply);
        }
    }
    let left = deadline.saturating_duration_since(Instant::now());
    tokio::time::timeout(left, tcp(server, request, &query))
        .await
        .map_err(timed_out)?
}

/// Whether `answer` answers `query`.
fn answers(query: &Message, answer: &Message) -> bool {
    answer.metadata.id == query.metadata.id
        && answer.metadata.message_type == MessageType::Response
        && (answer.queries == query.queries
            || (answer.queries.is_empty()
                && answer.metadata.response_code != ResponseCode::NoError))
}

async fn udp(
    server: SocketAddr,
    request: &[u8],
    query: &Message,
    deadline: Instant,
) -> Result<Reply, WireError> {
    let net = |e: std::io::Error| WireError::Network(format!("UDP {server}: {e}"));
    let bind: SocketAddr = if server.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = tokio::net::UdpSocket::bind(bind).await.map_err(net)?;
    socket.connect(server).await.map_err(net)?;
    let mut wait = FIRST_RETRANSMIT;
    let mut buf = vec![0u8; 65535];
    loop {
        socket.send(request).await.map_err(net)?;
        let resend_at = (Instant::now() + wait).min(deadline);
        wait *= 2;
        loop {
            let left = resend_at.saturating_duration_since(Instant::now());
            let n = match tokio::time::timeout(left, socket.recv(&mut buf)).await {
                Err(_) => break,
                Ok(received) => received.map_err(net)?,
            };
            // Anything that is not the answer (undecodable, another ID or
            // question) is ignored: a late answer to an earlier message,
            // or someone guessing.
            if let Ok(message) = Message::from_vec(&buf[..n])
                && answers(query, &message)
            {
                return Ok(Reply {
                    message,
                    bytes: buf[..n].to_vec(),
                    tcp: false,
                });
            }
        }
    }
}

async fn tcp(server: SocketAddr, request: &[u8], query: &Message) -> Result<Reply, WireError> {
    let net = |e: std::io::Error| WireError::Network(format!("TCP {server}: {e}"));
    let len = u16::try_from(request.len())
        .map_err(|_| WireError::BadRequest(format!("{} bytes is over 65535", request.len())))?;
    let mut stream = tokio::net::TcpStream::connect(server).await.map_err(net)?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(request);
    stream.write_all(&framed).await.map_err(net)?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await.map_err(net)?;
    let mut bytes = vec![0u8; u16::from_be_bytes(len) as usize];
    stream.read_exact(&mut bytes).await.map_err(net)?;
    let message = Message::from_vec(&bytes).map_err(|e| WireError::Malformed(e.to_string()))?;
    if !answers(query, &message) {
        return Err(WireError::Malformed(
            "the answer is for another message (ID or question differ)".into(),
        ));
    }
    Ok(Reply {
        message,
        bytes,
        tcp: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::op::{OpCode, Query};
    use hickory_resolver::proto::rr::{Name, RecordType};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn query(id: u16, name: &str) -> Message {
        let mut m = Message::new(id, MessageType::Query, OpCode::Query);
        m.add_query(Query::query(
            Name::from_ascii(name).unwrap(),
            RecordType::TXT,
        ));
        m
    }

    fn answer_to(q: &Message) -> Message {
        let mut a = q.clone();
        a.metadata.message_type = MessageType::Response;
        a
    }

    /// A UDP server that drops the first `drop` datagrams, then sends a
    /// stray (other ID) and the real answer.
    async fn udp_server(drop: usize) -> (SocketAddr, Arc<AtomicUsize>) {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let seen = Arc::new(AtomicUsize::new(0));
        let counter = seen.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65535];
            loop {
                let (n, from) = socket.recv_from(&mut buf).await.unwrap();
                let count = counter.fetch_add(1, Ordering::SeqCst) + 1;
                if count <= drop {
                    continue;
                }
                let q = Message::from_vec(&buf[..n]).unwrap();
                let mut stray = answer_to(&q);
                stray.metadata.id = q.metadata.id.wrapping_add(1);
                socket
                    .send_to(&stray.to_vec().unwrap(), from)
                    .await
                    .unwrap();
                let mut other_question = answer_to(&query(q.metadata.id, "other.example."));
                other_question.metadata.id = q.metadata.id;
                socket
                    .send_to(&other_question.to_vec().unwrap(), from)
                    .await
                    .unwrap();
                socket
                    .send_to(&answer_to(&q).to_vec().unwrap(), from)
                    .await
                    .unwrap();
            }
        });
        (addr, seen)
    }

    #[tokio::test]
    async fn a_lost_datagram_is_sent_again_and_strays_are_ignored() {
        let (addr, seen) = udp_server(1).await;
        let q = query(4242, "_acme-challenge.example.");
        let reply = exchange(addr, &q.to_vec().unwrap(), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(reply.message.metadata.id, 4242);
        assert_eq!(reply.message.queries, q.queries);
        assert!(!reply.tcp);
        assert_eq!(seen.load(Ordering::SeqCst), 2, "one retransmission");
    }

    #[tokio::test]
    async fn silence_is_a_timeout() {
        let (addr, _) = udp_server(usize::MAX).await;
        let q = query(1, "example.");
        let err = exchange(addr, &q.to_vec().unwrap(), Duration::from_millis(300))
            .await
            .unwrap_err();
        assert_eq!(err, WireError::Timeout(Duration::from_millis(300)));
    }

    #[tokio::test]
    async fn truncated_answers_and_large_messages_go_over_tcp() {
        // UDP answers truncated; TCP answers in full.
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = udp.local_addr().unwrap();
        let tcp = tokio::net::TcpListener::bind(addr).await.unwrap();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65535];
            loop {
                let (n, from) = udp.recv_from(&mut buf).await.unwrap();
                let mut a = answer_to(&Message::from_vec(&buf[..n]).unwrap());
                a.metadata.truncation = true;
                udp.send_to(&a.to_vec().unwrap(), from).await.unwrap();
            }
        });
        tokio::spawn(async move {
            loop {
                let (mut s, _) = tcp.accept().await.unwrap();
                let mut len = [0u8; 2];
                s.read_exact(&mut len).await.unwrap();
                let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
                s.read_exact(&mut buf).await.unwrap();
                let a = answer_to(&Message::from_vec(&buf).unwrap())
                    .to_vec()
                    .unwrap();
                s.write_all(&(a.len() as u16).to_be_bytes()).await.unwrap();
                s.write_all(&a).await.unwrap();
            }
        });
        let q = query(7, "example.");
        let reply = exchange(addr, &q.to_vec().unwrap(), Duration::from_secs(5))
            .await
            .unwrap();
        assert!(reply.tcp && !reply.message.metadata.truncation);

        // A message over the UDP size goes straight to TCP.
        let mut big = query(8, "example.");
        for i in 0..40 {
            big.add_query(Query::query(
                Name::from_ascii(format!("{}{i}.example.", "x".repeat(50))).unwrap(),
                RecordType::TXT,
            ));
        }
        let bytes = big.to_vec().unwrap();
        assert!(bytes.len() > MAX_UDP_MESSAGE);
        let reply = exchange(addr, &bytes, Duration::from_secs(5))
            .await
            .unwrap();
        assert!(reply.tcp && !reply.message.metadata.truncation);
    }

    #[tokio::test]
    async fn what_is_not_a_query_is_refused() {
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let err = exchange(addr, b"hello", Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(err, WireError::BadRequest(_)), "{err:?}");
        let response = answer_to(&query(1, "example.")).to_vec().unwrap();
        let err = exchange(addr, &response, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(err, WireError::BadRequest(_)), "{err:?}");
    }
}
