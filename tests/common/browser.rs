//! Headless Chromium driven over the DevTools protocol (its WebSocket on a free port): open a
//! page, evaluate script, set a file input, take a screenshot. Killed (by PID) on drop.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

pub struct Browser {
    child: Child,
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    next: u64,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The DevTools endpoint's JSON at `path` (curl: the endpoint answers HTTP/1.1 clients).
fn get_json(port: u16, path: &str) -> Option<Value> {
    let out = Command::new("curl")
        .args(["-sS", "-m", "5", &format!("http://127.0.0.1:{port}{path}")])
        .output()
        .ok()?;
    serde_json::from_slice(&out.stdout).ok()
}

impl Browser {
    /// Start Chromium (headless, a fresh profile, autoplay allowed) on `url`.
    pub fn open(url: &str) -> Browser {
        let profile = super::tmp();
        let mut child = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--autoplay-policy=no-user-gesture-required",
                "--window-size=1200,900",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromium");
        // Chromium writes the port it chose into the profile.
        let started = Instant::now();
        let port = loop {
            let file = std::fs::read_to_string(profile.path().join("DevToolsActivePort"));
            if let Some(p) = file
                .ok()
                .and_then(|f| f.lines().next()?.parse::<u16>().ok())
            {
                break p;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("chromium exited at start: {status}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "chromium gave no DevTools port in 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let page = loop {
            let pages = get_json(port, "/json/list").unwrap_or(Value::Null);
            let ws = pages.as_array().and_then(|list| {
                list.iter()
                    .find(|t| t["type"] == "page")
                    .and_then(|t| t["webSocketDebuggerUrl"].as_str().map(str::to_owned))
            });
            if let Some(ws) = ws {
                break ws;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no page target"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let (ws, _) = tungstenite::connect(page.as_str()).expect("DevTools WebSocket");
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        }
        Browser {
            child,
            ws,
            next: 0,
            _profile: profile,
        }
    }

    /// One DevTools command; its `result` (events in between are skipped).
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let msg = json!({"id": id, "method": method, "params": params});
        self.ws.send(Message::text(msg.to_string())).unwrap();
        loop {
            let Message::Text(t) = self.ws.read().expect("DevTools answer") else {
                continue;
            };
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if v["id"] == id {
                assert!(v["error"].is_null(), "{method}: {}", v["error"]);
                return v["result"].clone();
            }
        }
    }

    /// The value of a script expression (promises awaited); panics on a thrown exception.
    pub fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        assert!(
            r["exceptionDetails"].is_null(),
            "{expression}: {}",
            r["exceptionDetails"]
        );
        r["result"]["value"].clone()
    }

    /// Poll `expression` until it is truthy; on time-out, panic with `explain`'s value.
    pub fn wait_until(&mut self, expression: &str, limit: Duration, explain: &str) -> Value {
        let started = Instant::now();
        loop {
            let v = self.eval(expression);
            let truthy =
                !matches!(&v, Value::Null | Value::Bool(false)) && v != json!(0) && v != json!("");
            if truthy {
                return v;
            }
            if started.elapsed() > limit {
                panic!(
                    "{expression} still {v} after {limit:?}; {explain} = {}",
                    self.eval(explain)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Go to `url` and wait for its document to load.
    pub fn navigate(&mut self, url: &str) {
        self.call("Page.navigate", json!({ "url": url }));
        let check = format!(
            "location.href === {} && document.readyState === 'complete'",
            json!(url)
        );
        self.wait_until(&check, Duration::from_secs(30), "location.href");
    }

    /// Choose `file` in the page's file input `selector`, as a user would.
    pub fn set_file(&mut self, selector: &str, file: &Path) {
        let root = self.call("DOM.getDocument", json!({}))["root"]["nodeId"].clone();
        let node = self.call(
            "DOM.querySelector",
            json!({"nodeId": root, "selector": selector}),
        )["nodeId"]
            .clone();
        self.call(
            "DOM.setFileInputFiles",
            json!({"nodeId": node, "files": [file.display().to_string()]}),
        );
    }

    /// A PNG of what the page shows now, written to `out`; its bytes.
    pub fn screenshot(&mut self, out: &Path) -> Vec<u8> {
        let r = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let png = data_encoding::BASE64
            .decode(r["data"].as_str().unwrap().as_bytes())
            .unwrap();
        std::fs::write(out, &png).unwrap();
        png
    }
}
