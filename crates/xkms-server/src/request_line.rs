//! Request-line repair for deployed XKMS clients.
//!
//! A REC-era client writes its request line without the space before the version:
//! `POST /xkmsHTTP/1.0` (likewise `POST /xkms?a=bHTTP/1.0`, `POST /HTTP/1.0`). hyper
//! rightly answers 400 to that. We accept exactly this one shape — `METHOD SP
//! request-target "HTTP/1." DIGIT CRLF` with no space before `HTTP/` — on the first request
//! of a connection, by inserting the missing space before hyper parses; no other byte is
//! touched, and every other malformed request line still gets hyper's 400. A repaired
//! connection is served without keep-alive, so a later request on it is never guessed at.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// How much of a connection's first bytes is read while looking for the request line; a
/// longer line is handed to hyper untouched (which refuses it).
const MAX_REQUEST_LINE: usize = 8 * 1024;

/// The connection's first bytes (with the request line repaired if it had the deployed
/// clients' shape), followed by the rest of the stream.
pub struct Prepared<S> {
    prefix: Vec<u8>,
    position: usize,
    inner: S,
    /// Whether the request line was repaired.
    pub repaired: bool,
}

/// Reads up to the end of the first request line (bounded by `MAX_REQUEST_LINE` and
/// `timeout`) and repairs it if it has the deployed clients' shape. `Err` on a read
/// error or when the timeout passes: the caller drops the connection.
pub async fn prepare<S: AsyncRead + Unpin>(
    mut inner: S,
    timeout: Duration,
) -> io::Result<Prepared<S>> {
    let mut buf = Vec::with_capacity(1024);
    let read = async {
        let mut chunk = [0u8; 1024];
        while first_line_end(&buf).is_none() && buf.len() < MAX_REQUEST_LINE {
            let n = inner.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        Ok::<_, io::Error>(())
    };
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "request line timeout"))??;
    let mut repaired = false;
    // Only a CRLF-terminated line is repaired: that is the shape deployed clients write.
    if let Some((start, end)) = first_line_end(&buf)
        && let Some(line) = buf[start..end].strip_suffix(b"\r")
        && let Some(at) = missing_version_space(line)
    {
        buf.insert(start + at, b' ');
        repaired = true;
    }
    Ok(Prepared {
        prefix: buf,
        position: 0,
        inner,
        repaired,
    })
}

/// Start and end (before its LF) of the first request line, skipping the empty lines a
/// server may ignore before it (RFC 9112 §2.2); `None` until a whole line is in.
fn first_line_end(buf: &[u8]) -> Option<(usize, usize)> {
    let mut start = 0;
    loop {
        let rest = &buf[start..];
        if rest.starts_with(b"\r\n") {
            start += 2;
        } else if rest.starts_with(b"\n") {
            start += 1;
        } else {
            break;
        }
    }
    let len = buf[start..].iter().position(|&b| b == b'\n')?;
    Some((start, start + len))
}

/// Where a space must go in `line` (without its CRLF) when it is `METHOD SP target` glued
/// to `HTTP/1.<digit>`; `None` for any other line.
fn missing_version_space(line: &[u8]) -> Option<usize> {
    const VERSION_LEN: usize = "HTTP/1.0".len();
    let space = line.iter().position(|&b| b == b' ')?;
    let (method, rest) = (&line[..space], &line[space + 1..]);
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
        return None;
    }
    // Exactly one space: a line with two is either valid or malformed in another way.
    if rest.len() <= VERSION_LEN || !rest.iter().all(|&b| b.is_ascii_graphic()) {
        return None;
    }
    let (target, version) = rest.split_at(rest.len() - VERSION_LEN);
    let digit = version.strip_prefix(b"HTTP/1.")?;
    (digit.len() == 1 && digit[0].is_ascii_digit() && !target.is_empty())
        .then_some(space + 1 + target.len())
}

/// RFC 9110 `tchar`, the characters of a method token.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

impl<S: AsyncRead + Unpin> AsyncRead for Prepared<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.position < this.prefix.len() {
            let rest = &this.prefix[this.position..];
            let n = rest.len().min(out.remaining());
            out.put_slice(&rest[..n]);
            this.position += n;
            if this.position == this.prefix.len() {
                this.prefix = Vec::new();
                this.position = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, out)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prepared<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix(line: &str) -> Option<String> {
        missing_version_space(line.as_bytes()).map(|at| {
            let mut s = line.to_owned();
            s.insert(at, ' ');
            s
        })
    }

    #[test]
    fn the_deployed_shapes_are_repaired() {
        assert_eq!(
            fix("POST /xkmsHTTP/1.0").as_deref(),
            Some("POST /xkms HTTP/1.0")
        );
        assert_eq!(
            fix("POST /xkms?a=bHTTP/1.0").as_deref(),
            Some("POST /xkms?a=b HTTP/1.0")
        );
        assert_eq!(fix("POST /HTTP/1.0").as_deref(), Some("POST / HTTP/1.0"));
        assert_eq!(
            fix("GET /healthzHTTP/1.1").as_deref(),
            Some("GET /healthz HTTP/1.1")
        );
    }

    #[test]
    fn every_other_line_is_left_alone() {
        for line in [
            "POST /xkms HTTP/1.1",  // already valid
            "POST /xkms  HTTP/1.1", // two spaces
            "POST HTTP/1.0",        // no target
            "POST /xkmsHTTP/2.0",   // not HTTP/1.x
            "POST /xkmsHTTP/1.10",  // two digits
            "POST /xkmsHTTP/1.x",   // not a digit
            "POST /xkmshttp/1.0",   // case matters
            "PO(ST /xkmsHTTP/1.0",  // method is not a token
            " /xkmsHTTP/1.0",       // no method
            "POST /x\tkmsHTTP/1.0", // control character
            "POST /xkms",           // no version at all
            "POST",
            "",
        ] {
            assert_eq!(fix(line), None, "{line:?}");
        }
    }

    async fn prepared(input: &[u8]) -> (Vec<u8>, bool) {
        let prepared = prepare(input, Duration::from_secs(1)).await.unwrap();
        let repaired = prepared.repaired;
        let mut out = Vec::new();
        let mut prepared = prepared;
        prepared.read_to_end(&mut out).await.unwrap();
        (out, repaired)
    }

    #[tokio::test]
    async fn only_the_first_line_changes_and_only_by_one_space() {
        let body = "<x>HTTP/1.0 stays</x>";
        let input = format!(
            "POST /xkmsHTTP/1.0\r\nContent-Length: {}\r\nSOAPAction: \"\"\r\n\r\n{body}",
            body.len()
        );
        let (out, repaired) = prepared(input.as_bytes()).await;
        assert!(repaired);
        assert_eq!(
            out,
            input.replacen("/xkmsHTTP", "/xkms HTTP", 1).into_bytes()
        );

        let valid = b"POST /xkms HTTP/1.1\r\nHost: h\r\n\r\n".to_vec();
        assert_eq!(prepared(&valid).await, (valid.clone(), false));

        let leading = b"\r\nPOST /HTTP/1.0\r\n\r\n".to_vec();
        assert_eq!(
            prepared(&leading).await,
            (b"\r\nPOST / HTTP/1.0\r\n\r\n".to_vec(), true)
        );
    }

    #[tokio::test]
    async fn a_line_without_crlf_is_passed_on_untouched() {
        let junk = vec![b'A'; MAX_REQUEST_LINE + 10];
        assert_eq!(prepared(&junk).await, (junk.clone(), false));
        let bare_lf = b"POST /xkmsHTTP/1.0\nHost: h\n\n".to_vec();
        assert_eq!(prepared(&bare_lf).await, (bare_lf.clone(), false));
    }
}
