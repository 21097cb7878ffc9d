//! The load generator of `bench/side_by_side.py`.
//!
//! ```text
//! notus-bench-load 127.0.0.1:PORT < PLAN
//! ```
//!
//! The plan on standard input is a sequence of complete HTTP/1.1 requests, each preceded by a
//! line `CONNECTION LENGTH` (a connection number and the request's length in bytes). Every
//! connection is opened and the whole plan read into memory before the clock starts; then one
//! thread per connection sends its requests in the plan's order over its kept-alive
//! connection, each waiting for the previous response. Prints the wall time of the whole run in
//! seconds on the first line, then one latency in seconds per request. A response other than
//! 200 ends the run with its status and body.
//!
//! Why not the Python client the rest of the harness uses: on a two-core machine the load
//! generator shares the CPU with the server it measures. Python threads posting over
//! `http.client` took 0.17–0.23 ms of CPU per request and took turns at one interpreter lock;
//! this takes 0.08–0.14 ms with its plan's writing (`bench/client_cost.py`) and no lock, so the
//! servers' own cost decides the figures (docs/performance.md, profile 7).
//! The plan comes on a pipe, not in files: on a filesystem without a journal, ext4 skips inodes
//! freed in the last minutes when it allocates new ones, so deleting a file per request would
//! slow the next server measured (docs/performance.md, profile 5).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::{Arc, Barrier};
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr] = args.as_slice() else {
        eprintln!("usage: notus-bench-load HOST:PORT < PLAN");
        return ExitCode::from(2);
    };
    let plan = match read_plan(&mut std::io::stdin().lock()) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("notus-bench-load: plan: {e}");
            return ExitCode::from(2);
        }
    };
    match run(addr, plan) {
        Ok((wall, latencies)) => {
            let mut out = String::with_capacity(16 * (latencies.len() + 1));
            out.push_str(&format!("{wall:.6}\n"));
            for l in latencies {
                out.push_str(&format!("{l:.6}\n"));
            }
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("notus-bench-load: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T> = std::result::Result<T, String>;

/// The requests of each connection, in order, by connection number.
fn read_plan(input: &mut impl BufRead) -> Result<BTreeMap<u32, Vec<Vec<u8>>>> {
    let mut plan: BTreeMap<u32, Vec<Vec<u8>>> = BTreeMap::new();
    loop {
        let mut line = String::new();
        if input.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            return Ok(plan);
        }
        let parsed = line
            .trim_end()
            .split_once(' ')
            .and_then(|(c, n)| Some((c.parse::<u32>().ok()?, n.parse::<usize>().ok()?)));
        let Some((connection, length)) = parsed else {
            return Err(format!("not `CONNECTION LENGTH`: {line:?}"));
        };
        let mut request = vec![0; length];
        input
            .read_exact(&mut request)
            .map_err(|e| format!("request of {length} bytes: {e}"))?;
        plan.entry(connection).or_default().push(request);
    }
}

/// (wall seconds of the whole run, every request's latency in seconds).
fn run(addr: &str, plan: BTreeMap<u32, Vec<Vec<u8>>>) -> Result<(f64, Vec<f64>)> {
    let start_line = Arc::new(Barrier::new(plan.len() + 1));
    let mut workers = Vec::new();
    for requests in plan.into_values() {
        let stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let start_line = Arc::clone(&start_line);
        workers.push(std::thread::spawn(move || {
            start_line.wait();
            send_all(stream, &requests)
        }));
    }
    start_line.wait();
    let t0 = Instant::now();
    let mut latencies = Vec::new();
    let mut failure = None;
    for w in workers {
        match w
            .join()
            .map_err(|_| "a connection's thread panicked".to_string())
        {
            Ok(Ok(mine)) => latencies.extend(mine),
            Ok(Err(e)) | Err(e) => failure = failure.or(Some(e)),
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    match failure {
        Some(e) => Err(e),
        None => Ok((wall, latencies)),
    }
}

/// Sends each request and reads its whole response before the next: the latencies in seconds.
fn send_all(stream: TcpStream, requests: &[Vec<u8>]) -> Result<Vec<f64>> {
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let mut latencies = Vec::with_capacity(requests.len());
    for request in requests {
        let t0 = Instant::now();
        writer
            .write_all(request)
            .map_err(|e| format!("send: {e}"))?;
        let (status, body) = read_response(&mut reader)?;
        latencies.push(t0.elapsed().as_secs_f64());
        if status != 200 {
            let body = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
            return Err(format!("HTTP {status}: {body}"));
        }
    }
    Ok(latencies)
}

/// One HTTP/1.1 response: its status and body (by Content-Length or chunked).
fn read_response(r: &mut impl BufRead) -> Result<(u16, Vec<u8>)> {
    let status_line = read_line(r)?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP status line: {status_line:?}"))?;
    let (mut length, mut chunked) = (None, false);
    loop {
        let line = read_line(r)?;
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("not a header: {line:?}"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse::<usize>()
                    .map_err(|e| format!("{line:?}: {e}"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        }
    }
    let body = if chunked {
        read_chunked(r)?
    } else {
        let mut body = vec![0; length.unwrap_or(0)];
        r.read_exact(&mut body).map_err(|e| format!("body: {e}"))?;
        body
    };
    Ok((status, body))
}

fn read_chunked(r: &mut impl BufRead) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let size_line = read_line(r)?;
        let size_hex = size_line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|e| format!("chunk size {size_line:?}: {e}"))?;
        if size == 0 {
            // Trailers, if any, end with an empty line.
            while !read_line(r)?.is_empty() {}
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])
            .map_err(|e| format!("chunk: {e}"))?;
        read_line(r)?; // the CRLF after the chunk
    }
}

/// One line without its CRLF; a closed connection is an error (a response was due).
fn read_line(r: &mut impl BufRead) -> Result<String> {
    let mut line = String::new();
    match r.read_line(&mut line) {
        Ok(0) => Err("connection closed before the response ended".into()),
        Ok(_) => Ok(line.trim_end_matches(['\r', '\n']).to_owned()),
        Err(e) => Err(format!("receive: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_sized_response_and_leaves_the_next_one_unread() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";
        let mut r = &wire[..];
        assert_eq!(read_response(&mut r).unwrap(), (200, b"hello".to_vec()));
        assert_eq!(read_response(&mut r).unwrap(), (404, Vec::new()));
        assert!(r.is_empty());
    }

    #[test]
    fn reads_a_plan_by_connection_in_order() {
        let mut input = &b"1 3\nabc0 2\nde1 1\nf"[..];
        let plan = read_plan(&mut input).unwrap();
        assert_eq!(plan[&0], vec![b"de".to_vec()]);
        assert_eq!(plan[&1], vec![b"abc".to_vec(), b"f".to_vec()]);
        assert!(
            read_plan(&mut &b"0 5\nabc"[..]).is_err(),
            "a request cut short"
        );
        assert!(
            read_plan(&mut &b"zero 1\na"[..]).is_err(),
            "not a header line"
        );
    }

    #[test]
    fn reads_a_chunked_response() {
        let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        let mut r = &wire[..];
        assert_eq!(read_response(&mut r).unwrap(), (200, b"abcde".to_vec()));
        assert!(r.is_empty());
    }

    #[test]
    fn a_response_cut_short_is_an_error() {
        let mut r = &b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel"[..];
        assert!(read_response(&mut r).is_err());
        let mut r = &b"HTTP/1.1 200 OK\r\n"[..];
        assert!(read_response(&mut r).is_err());
    }
}
