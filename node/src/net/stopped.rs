//! QUIC streams whose sender has stopped reading: on a stream the peer opened, what we write
//! after the peer said it reads no more is dropped instead of failing the stream.
//!
//! Why: go-libp2p (Kubo) opens a stream for a protocol it knows the peer speaks with lazy
//! multistream-select. It writes the protocol proposal and its message in one go, and for
//! a one-way message (every BitSwap message) closes the stream at once. Over QUIC,
//! go-libp2p's close also stops the stream's receiving half (`STOP_SENDING`). rust-libp2p's
//! listener then fails to write its protocol confirmation ("sending stopped by peer") and
//! drops the stream with the message already in it. So ipfsd heard none of Kubo's BitSwap
//! messages (blocks, HAVEs, wants) over QUIC, while over TCP (yamux has no
//! `STOP_SENDING`) all went through.
//!
//! What changes: on an inbound QUIC stream, a write the transport refuses because the peer
//! stopped reading (quinn reports that, and only that, as `ConnectionReset` on a write;
//! libp2p-quic never uses 0-RTT, the one other case) completes without sending, and so do
//! later writes, flushes and the close. The peer has said it reads nothing more; the stream's
//! receiving side is untouched, so negotiation completes and the message is read. Streams
//! we open keep every error: there a refused write means the peer refused our message.
//!
//! Data flow: the swarm's transport (`metrics::bandwidth::transport`) wraps each QUIC
//! connection's muxer in [`StopTolerant`]; its inbound substreams are [`Substream`]s with
//! `inbound` set.

use futures::{AsyncRead, AsyncWrite};
use libp2p::core::muxing::{StreamMuxer, StreamMuxerEvent};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A muxer whose inbound substreams drop writes once the peer stopped reading them.
#[derive(Debug)]
pub(crate) struct StopTolerant<M>(pub(crate) M);

impl<M> StreamMuxer for StopTolerant<M>
where
    M: StreamMuxer + Unpin,
    M::Substream: Unpin,
{
    type Substream = Substream<M::Substream>;
    type Error = M::Error;

    fn poll_inbound(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::Substream, Self::Error>> {
        Pin::new(&mut self.get_mut().0)
            .poll_inbound(cx)
            .map_ok(|s| Substream::new(s, true))
    }

    fn poll_outbound(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::Substream, Self::Error>> {
        Pin::new(&mut self.get_mut().0)
            .poll_outbound(cx)
            .map_ok(|s| Substream::new(s, false))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.get_mut().0).poll_close(cx)
    }

    fn poll(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<StreamMuxerEvent, Self::Error>> {
        Pin::new(&mut self.get_mut().0).poll(cx)
    }
}

/// A substream of [`StopTolerant`].
#[derive(Debug)]
pub(crate) struct Substream<S> {
    inner: S,
    /// The peer opened it.
    inbound: bool,
    /// The peer stopped reading it (inbound only): writes go nowhere.
    stopped: bool,
}

impl<S> Substream<S> {
    fn new(inner: S, inbound: bool) -> Self {
        Substream {
            inner,
            inbound,
            stopped: false,
        }
    }

    /// Whether `e` from a write means the peer stopped reading a stream it opened, which
    /// then counts as done.
    fn peer_stopped(&mut self, e: &io::Error) -> bool {
        if self.inbound && e.kind() == io::ErrorKind::ConnectionReset {
            if !self.stopped {
                tracing::debug!(error = %e, "peer stopped reading its stream; dropping our writes");
            }
            self.stopped = true;
        }
        self.stopped
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Substream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [io::IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_read_vectored(cx, bufs)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Substream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.stopped {
            return Poll::Ready(Ok(buf.len()));
        }
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(Err(e)) if this.peer_stopped(&e) => Poll::Ready(Ok(buf.len())),
            r => r,
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let all = bufs.iter().map(|b| b.len()).sum();
        if this.stopped {
            return Poll::Ready(Ok(all));
        }
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(Err(e)) if this.peer_stopped(&e) => Poll::Ready(Ok(all)),
            r => r,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.stopped {
            return Poll::Ready(Ok(()));
        }
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Ready(Err(e)) if this.peer_stopped(&e) => Poll::Ready(Ok(())),
            r => r,
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_close(cx) {
            Poll::Ready(Err(e)) if this.peer_stopped(&e) => Poll::Ready(Ok(())),
            r => r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::{AsyncReadExt, AsyncWriteExt};

    /// A stream whose peer sent `data` and then stopped reading: every write fails as
    /// quinn's does (`ConnectionReset`).
    struct Refusing {
        data: io::Cursor<Vec<u8>>,
        writes: usize,
    }

    impl AsyncRead for Refusing {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(io::Read::read(&mut self.get_mut().data, buf))
        }
    }

    impl AsyncWrite for Refusing {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.get_mut().writes += 1;
            Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "sending stopped by peer: error 0",
            )))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "stopped",
            )))
        }
    }

    fn refusing() -> Refusing {
        Refusing {
            data: io::Cursor::new(b"their message".to_vec()),
            writes: 0,
        }
    }

    #[tokio::test]
    async fn a_stream_the_peer_opened_and_stopped_reading_still_delivers_its_message() {
        let mut s = Substream::new(refusing(), true);
        // The protocol confirmation goes nowhere, without an error.
        s.write_all(b"\x14/ipfs/bitswap/1.2.0\n").await.unwrap();
        s.flush().await.unwrap();
        s.write_all(b"more").await.unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"their message");
        s.close().await.unwrap();
        // Once stopped, writes are not tried again.
        assert_eq!(s.inner.writes, 1);
    }

    #[tokio::test]
    async fn a_stream_we_opened_keeps_its_errors() {
        let mut s = Substream::new(refusing(), false);
        let e = s.write_all(b"our message").await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
        assert!(s.close().await.is_err());
    }

    #[tokio::test]
    async fn other_errors_stay_errors_on_inbound_streams() {
        struct Lost;
        impl AsyncWrite for Lost {
            fn poll_write(
                self: Pin<&mut Self>,
                _: &mut Context<'_>,
                _: &[u8],
            ) -> Poll<io::Result<usize>> {
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::NotConnected,
                    "connection lost",
                )))
            }
            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }
            fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }
        }
        let mut s = Substream::new(Lost, true);
        let e = s.write_all(b"x").await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotConnected);
        assert!(!s.stopped);
    }
}
